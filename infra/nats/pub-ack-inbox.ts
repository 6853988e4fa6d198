import { createInbox, headers, NoRespondersError, RequestError, TimeoutError, type Msg, type NatsConnection } from '@nats-io/nats-core';
import { JetStreamApiCodes, jserrors, type ApiError } from '@nats-io/jetstream/internal';

/** The JetStream client's default request timeout (nats.js `defaultJsOptions`). */
const PUB_ACK_TIMEOUT_MS = 5_000;

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  /** The publish subject, named by a no-responders error. */
  subject: string;
}

/**
 * JetStream publish as a core publish with a reply subject on one wildcard subscription per connection,
 * the PubAck read here. nats.js's `js.publish` goes through `nc.request`, which per publish builds a
 * `RequestError` with its stack (its `cancel()` always makes one), a timeout promise, a `Promise.race`
 * and a random token; this keeps one map entry and one timer.
 *
 * Same outcomes as `JetStreamClientImpl.publish` (jetstream 3.4.0, one attempt): the stream stored it →
 * resolves; no stream on the subject (503 no responders) → `JetStreamNotEnabled`; an API error in the
 * PubAck → `JetStreamApiError` (or its `StreamNotFoundError` subclass); a PubAck without a stream →
 * `JetStreamError`; no answer in time → `TimeoutError`; connection closed while waiting → `RequestError`;
 * a closed or draining connection or a bad subject → the error `nc.publish` throws. One difference: a
 * publish permission violation ends in `TimeoutError` rather than `RequestError` (both retryable; we
 * set no permissions).
 */
export class PubAckInbox {
  private readonly prefix = `${createInbox()}.`;
  private readonly waiting = new Map<string, Waiter>();
  private next = 0;

  constructor(private readonly nc: NatsConnection) {
    // A callback subscription: no async iterator per reply. Resubscribed by the client on reconnect.
    nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => this.onReply(err, msg) });
    void nc.closed().then(() => this.failAll(new RequestError('connection closed')));
  }

  /** Publishes with `Nats-Msg-Id: msgID` and resolves once the stream has stored (or deduplicated) it. */
  publish(subject: string, data: Uint8Array, msgID: string): Promise<void> {
    const token = (this.next++).toString(36);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(token);
        reject(new TimeoutError());
      }, PUB_ACK_TIMEOUT_MS);
      this.waiting.set(token, { resolve, reject, timer, subject });
      const h = headers();
      h.set('Nats-Msg-Id', msgID);
      try {
        this.nc.publish(subject, data, { reply: this.prefix + token, headers: h });
      } catch (err) {
        this.settle(token);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  private settle(token: string): Waiter | undefined {
    const w = this.waiting.get(token);
    if (w === undefined) return undefined;
    this.waiting.delete(token);
    clearTimeout(w.timer);
    return w;
  }

  private onReply(err: Error | null, msg: Msg): void {
    if (err !== null) {
      // The subscription itself failed (a permission violation): nothing can answer any waiter now.
      this.failAll(new RequestError(err.message, { cause: err }));
      return;
    }
    // A reply after its timeout finds no waiter and is dropped, as nats.js drops it.
    const w = this.settle(msg.subject.slice(this.prefix.length));
    if (w === undefined) return;
    try {
      checkPubAck(msg, w.subject);
      w.resolve();
    } catch (e) {
      w.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private failAll(err: Error): void {
    for (const token of [...this.waiting.keys()]) this.settle(token)?.reject(err);
  }
}

/** Throws what nats.js's `publish` throws for this PubAck (`parseJsResponse` and the empty-stream check). */
function checkPubAck(msg: Msg, subject: string): void {
  if (msg.data.length === 0 && msg.headers?.code === 503) {
    const cause = new RequestError('no responders', { cause: new NoRespondersError(subject) });
    throw new jserrors.JetStreamNotEnabled('jetstream is not enabled', { cause });
  }
  const ack = msg.json<{ stream?: string; error?: ApiError }>();
  if (ack.error) {
    switch (ack.error.err_code) {
      case JetStreamApiCodes.StreamNotFound:
        throw new jserrors.StreamNotFoundError(ack.error);
      case JetStreamApiCodes.JetStreamNotEnabledForAccount: {
        const apiErr = new jserrors.JetStreamApiError(ack.error);
        throw new jserrors.JetStreamNotEnabled(apiErr.message, { cause: apiErr });
      }
      default:
        throw new jserrors.JetStreamApiError(ack.error);
    }
  }
  if (ack.stream === '') throw new jserrors.JetStreamError('invalid ack response');
}
