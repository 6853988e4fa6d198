import { jetstream, type JsMsg, type ConsumerMessages } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeEnvelope, isOrderpilotError, type Envelope } from '../../services/contracts/index.ts';
import { isRetryableDbError, type Sql } from '../db/postgres.ts';
import { recordDeadLetter } from '../db/dead-letters.ts';
import { clearPendingRetry, recordPendingRetry } from '../db/pending-retries.ts';
import type { Logger } from '../logger.ts';
import type { BulkGate } from '../runtime/bulk-gate.ts';
import { backoffMs, retryDelayMs, type RetryPolicy } from '../retry-policy.ts';

export interface MessageContext {
  subject: string;
  /** 1 on first delivery. */
  deliveryCount: number;
  /** True on the consumer's last allowed delivery: a handler may report a final failure now. */
  lastAttempt: boolean;
  msg: JsMsg;
}

export type EnvelopeHandler = (env: Envelope, ctx: MessageContext) => Promise<void>;

export interface ConsumerRunnerOptions {
  nc: NatsConnection;
  sql: Sql;
  logger: Logger;
  stream: string;
  consumer: string;
  handler: EnvelopeHandler;
  /** Deliveries before a retryable failure is dead-lettered. */
  maxDeliver: number;
  /** Messages processed at once by this process (1 keeps order). */
  concurrency: number;
  /** Delay before redelivery after a retryable failure (a provider's Retry-After wins); from config. */
  retry: RetryPolicy;
  /** JetStream ack wait; long handlers signal `working()` at half of it. */
  ackWaitMs: number;
  /**
   * Bulk work (documents, e-mails, shipments, refunds, notifications): the process's gate pauses it
   * (one message at a time) while the event loop runs late, so front work (webhooks, order events)
   * goes first. Without it the consumer always runs `concurrency` at once.
   */
  gate?: BulkGate | undefined;
  /**
   * Keeps the messages of one subject in stream order while several are in flight (the order host's
   * `services/orders/order-turns.ts`): `arrived` as each is pulled, `inTurn` before it is handled
   * (decoded or not), `settled` once acked or dead-lettered, `nakked` once nak'd for a retry, `left`
   * when the consumer stops before its turn came.
   */
  turns?: ConsumerTurns | undefined;
}

export interface ConsumerTurns {
  arrived(m: JsMsg): void;
  inTurn(m: JsMsg): Promise<void>;
  settled(m: JsMsg): void;
  nakked(m: JsMsg): void;
  left(m: JsMsg): void;
}

/**
 * Thrown while a message waits its turn and the consumer stops: the message is neither acked nor
 * nak'd and no attempt is counted against it here — JetStream delivers it again after the ack wait,
 * like a message not started at all.
 */
export class LeftForRedelivery extends Error {
  override readonly name = 'LeftForRedelivery';
}

export interface RunningConsumer {
  /** Stops pulling, waits for in-flight messages to finish and be acked. */
  stop(): Promise<void>;
  readonly done: Promise<void>;
}

/**
 * NATS client errors that mean "the server is away for a moment" (a restart, a reconnect in progress):
 * a handler that publishes its result then must be retried, not dead-lettered. By class name.
 */
const TRANSIENT_NATS_ERRORS = new Set(['TimeoutError', 'NoResponders', 'ConnectionError', 'ClosedConnectionError', 'DrainingConnectionError', 'RequestError', 'JetStreamNotEnabled', 'JetStreamStatusError']);

/** Classifies an error as retryable by its code or class (never its message). */
export function isRetryable(err: unknown): boolean {
  if (isOrderpilotError(err)) return err.retryable;
  if (err instanceof Error && TRANSIENT_NATS_ERRORS.has(err.name)) return true;
  return isRetryableDbError(err);
}

/**
 * Pulls from one durable consumer and runs the handler per message with these delivery semantics
 * (see nats.js `jsmsg.ts`):
 * - success → `ack()` (after the handler's transaction has committed);
 * - retryable failure → `nak(delay)`, so JetStream redelivers after the backoff;
 * - permanent failure, a malformed message or the last allowed delivery → a `dead_letters` row, then
 *   `term()` so the server never redelivers it. Nothing is dropped silently.
 */
/** How long one pull request lives at the server (its heartbeat comes every half of it). */
const PULL_EXPIRES_MS = 10_000;

export async function runConsumer(o: ConsumerRunnerOptions): Promise<RunningConsumer> {
  const js = jetstream(o.nc);
  const consumer = await js.consumers.get(o.stream, o.consumer);
  // A deep pull keeps a request open at the server; max_ack_pending (not this buffer) bounds what is in flight.
  // Pulls expire after PULL_EXPIRES_MS (nats.js: 30 s), with the server's heartbeat every half of it:
  // a pull the server no longer holds (the consumer's leader moved to another node, the consumer was
  // started over) is noticed after two missed heartbeats and pulled again: a consumer started over
  // delivered again after 14.9 s, against 44.9 s with nats.js's default (README, "Scaling out").
  const messages: ConsumerMessages = await consumer.consume({ max_messages: Math.max(64, Math.min(o.concurrency * 2, 512)), expires: PULL_EXPIRES_MS });
  const log = o.logger.child({ consumer: o.consumer });
  const inflight = new Set<Promise<void>>();
  let stopping = false;

  // Best effort: a leftover row only shows a retry that is no longer pending until its next_at passes.
  const forget = (messageId: string) =>
    void clearPendingRetry(o.sql, o.consumer, messageId).catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not clear the pending retry'));

  const handleOne = async (m: JsMsg): Promise<void> => {
    const deliveryCount = m.info.deliveryCount;
    const ctx: MessageContext = { subject: m.subject, deliveryCount, lastAttempt: deliveryCount >= o.maxDeliver, msg: m };
    const keepAlive = setInterval(() => m.working(), Math.max(250, Math.floor(o.ackWaitMs / 2)));
    let env: Envelope | undefined;
    try {
      await o.turns?.inTurn(m);
      env = decodeEnvelope(m.data);
      await o.handler(env, ctx);
      m.ack();
      o.turns?.settled(m);
      // Only a message that failed before can have a pending retry: the happy path costs nothing.
      if (deliveryCount > 1) forget(env.id);
    } catch (err) {
      if (err instanceof LeftForRedelivery) {
        o.turns?.left(m);
        log.debug({ subject: m.subject, seq: m.seq }, 'stopping: left for redelivery after the ack wait');
        return;
      }
      const retryable = isRetryable(err);
      const code = isOrderpilotError(err) ? err.code : retryable ? 'DB_UNAVAILABLE' : 'INTERNAL';
      const message = err instanceof Error ? err.message : String(err);
      if (retryable && deliveryCount < o.maxDeliver) {
        const delay = retryDelayMs(o.retry, deliveryCount, err);
        log.warn({ code, err: message, deliveryCount, delay, subject: m.subject }, 'retryable failure; will redeliver');
        // Recorded before the nak, so the redelivery's success cannot clear it before it exists.
        if (env) {
          await recordPendingRetry(o.sql, { consumer: o.consumer, messageId: env.id, orderId: env.orderId, subject: m.subject, type: env.type, attempt: deliveryCount, maxAttempts: o.maxDeliver, lastError: `${code}: ${message}`, delayMs: delay }).catch(
            (err2: unknown) => log.warn({ err: err2 instanceof Error ? err2.message : String(err2) }, 'could not record the pending retry'),
          );
        }
        m.nak(delay);
        o.turns?.nakked(m);
        return;
      }
      log.error({ code, err: message, deliveryCount, subject: m.subject, messageId: env?.id }, retryable ? 'retries exhausted; dead-lettered' : 'permanent failure; dead-lettered');
      try {
        await recordDeadLetter(o.sql, {
          consumer: o.consumer,
          stream: o.stream,
          subject: m.subject,
          messageId: env?.id ?? null,
          orderId: env?.orderId ?? null,
          data: new TextDecoder().decode(m.data),
          raw: m.data,
          errorCode: retryable ? 'RETRIES_EXHAUSTED' : code,
          errorMessage: message,
          deliveries: deliveryCount,
        });
        // No reason argument: nats-server 2.9 does not understand `+TERM <reason>` and would redeliver.
        m.term();
        o.turns?.settled(m);
        if (env && deliveryCount > 1) forget(env.id);
      } catch (dlErr) {
        // Could not even record it: leave it to redelivery rather than lose it.
        log.error({ err: dlErr instanceof Error ? dlErr.message : String(dlErr) }, 'dead letter not recorded; will redeliver');
        m.nak(backoffMs(o.retry, deliveryCount));
        o.turns?.nakked(m);
      }
    } finally {
      clearInterval(keepAlive);
    }
  };

  // Delivered messages wait here for a slot. nats.js pulls more as soon as messages arrive (up to the
  // consumer's max_ack_pending), not as they are handled, so a consumer that is slower than its
  // arrivals — or paused by the gate — holds a queue; a message waiting longer than a third of the
  // ack wait is kept alive (`working()`), so a wait is never mistaken for a crash and redelivered.
  const waiting: Array<{ m: JsMsg; since: number }> = [];
  let wake: (() => void) | null = null;
  const wakeUp = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  let pulled = false;
  let pullError: unknown;
  const pump = (async () => {
    for await (const m of messages) {
      // Stopping: not started here, so redelivered after the ack wait (to another instance or this
      // one's restart). Not nak'd: on nats-server 2.9 a nak right after the pull was closed sent the
      // message to the closed pull, where it waited out the ack wait anyway, and another came twice.
      if (!stopping) {
        o.turns?.arrived(m);
        waiting.push({ m, since: Date.now() });
      }
      wakeUp();
    }
  })()
    .catch((err: unknown) => {
      pullError = err;
    })
    .finally(() => {
      pulled = true;
      wakeUp();
    });
  const keepAliveEvery = Math.max(250, Math.floor(o.ackWaitMs / 3));
  const keepWaitingAlive = setInterval(() => {
    const before = Date.now() - keepAliveEvery;
    for (const w of waiting) {
      if (w.since > before) continue;
      w.m.working();
      w.since = Date.now();
    }
  }, keepAliveEvery);
  keepWaitingAlive.unref();

  const limit = () => (o.gate ? o.gate.limit(o.concurrency) : o.concurrency);
  const done = (async () => {
    for (;;) {
      let next: { m: JsMsg } | undefined;
      while (!stopping && inflight.size < limit() && (next = waiting.shift()) !== undefined) {
        const p = handleOne(next.m).finally(() => {
          inflight.delete(p);
          wakeUp();
        });
        inflight.add(p);
      }
      if (stopping || (pulled && waiting.length === 0)) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        // Paused by the gate with work waiting: look again at its next tick.
        if (o.gate && waiting.length > 0 && inflight.size < o.concurrency) void o.gate.nextTick().then(wakeUp);
      });
    }
    await Promise.allSettled([...inflight]);
    if (pullError !== undefined && !stopping) throw pullError;
  })();

  return {
    done,
    async stop() {
      stopping = true;
      wakeUp();
      await messages.close().catch(() => {});
      await pump;
      await done.catch(() => {});
      waiting.splice(0);
      clearInterval(keepWaitingAlive);
      await Promise.allSettled([...inflight]);
    },
  };
}
