import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  encodeEnvelope,
  makeEnvelope,
  type CommandKey,
  type Envelope,
  type Names,
  type NewEnvelope,
  type OrderEventMessage,
} from '../../services/contracts/index.ts';
import { flushNow } from './connection.ts';
import { PubAckInbox } from './pub-ack-inbox.ts';

/**
 * One JetStream client per connection: `jetstream(nc)` builds five objects and parses its options
 * each time, and this runs for every message the gateway and the services publish. Weakly keyed, so
 * a closed connection's client goes with it.
 */
const clients = new WeakMap<NatsConnection, JetStreamClient>();
export function jetstreamOf(nc: NatsConnection): JetStreamClient {
  let js = clients.get(nc);
  if (js === undefined) {
    js = jetstream(nc);
    clients.set(nc, js);
  }
  return js;
}

/** One PubAck inbox per connection (a subscription each), weakly keyed like the clients above. */
const inboxes = new WeakMap<NatsConnection, PubAckInbox>();

/** `now`: someone waits on this message (a payment, a new order): written at once, not at the event loop's turn (`flushNow`). */
export interface PublishOptions {
  now?: boolean;
}

/**
 * Publishes an envelope to JetStream with `env.id` as the message id: a republish of the same id
 * within the stream's duplicate window is dropped by the server. Resolves once the stream stored it.
 * Runs for every message the gateway and the services publish, so it skips nats.js's request path
 * (see `PubAckInbox`); errors are the ones `js.publish` throws.
 */
export async function publishEnvelope(nc: NatsConnection, subject: string, env: Envelope, msgID: string = env.id, opts: PublishOptions = {}): Promise<void> {
  let inbox = inboxes.get(nc);
  if (inbox === undefined) {
    inbox = new PubAckInbox(nc);
    inboxes.set(nc, inbox);
  }
  const stored = inbox.publish(subject, encodeEnvelope(env), msgID);
  if (opts.now === true) flushNow(nc);
  return stored;
}

/**
 * Publishes an event into the order actor (the order's partition subject). Use a stable `id` for
 * idempotency: the order host's inbox applies an id once. An answer to a command goes under the JetStream
 * message id `<id><<command id>`: a redelivered command answers into the stream's duplicate window, while
 * the same command sent again (the order re-drive, `services/orders/order-redrive.ts`) gets its answer
 * stored even when the first answer, with the same envelope id, was lost inside that window.
 */
export async function publishOrderEvent<P>(
  nc: NatsConnection,
  names: Names,
  e: OrderEventMessage<P>,
  /** The JetStream message id when it must differ from the envelope's (a deliberate republish). */
  msgID?: string,
  opts: PublishOptions = {},
): Promise<Envelope<P>> {
  const env = makeEnvelope(e);
  await publishEnvelope(nc, names.subjects.orderEvent(e.orderId), env, msgID ?? (env.causationId ? `${env.id}<${env.causationId}` : env.id), opts);
  return env;
}

/** Publishes a command to one service's work queue. */
export async function publishCommand<P>(nc: NatsConnection, names: Names, key: CommandKey, e: NewEnvelope<P>): Promise<Envelope<P>> {
  const env = makeEnvelope(e);
  await publishEnvelope(nc, names.subjects.command(key), env);
  return env;
}
