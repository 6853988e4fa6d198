import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Sql } from '../../infra/db/postgres.ts';
import type { Logger } from '../../infra/logger.ts';
import type { Names } from '../contracts/index.ts';
import type { NotificationStore } from './notification.store.ts';
import type { ChannelName } from './notification.types.ts';

/** JetStream's `io.nats.jetstream.advisory.v1.max_deliver` advisory (nats-server ≥ 2.2). */
interface MaxDeliverAdvisory {
  type?: string;
  stream?: string;
  consumer?: string;
  stream_seq?: number;
  deliveries?: number;
}

/**
 * The last line of "nothing is stuck silently": a consumer that cannot even record a dead letter
 * naks, and JetStream stops delivering once the consumer's max_deliver is reached. JetStream then
 * publishes a max-deliveries advisory; this turns each one for our streams into a critical
 * notification naming the stream, consumer and sequence (the message is still in the stream there).
 * A queue group: with several notifications instances, one of them records it; the notification's
 * dedupe key (stream + sequence) makes a repeat an extra occurrence, not a second row.
 */
export function watchStuckMessages(deps: {
  nc: NatsConnection;
  sql: Sql;
  names: Names;
  store: NotificationStore;
  channels: readonly ChannelName[];
  logger: Logger;
  onCreated?: () => void;
}): { stop(): Promise<void> } {
  const { nc, sql, names, store, channels, logger } = deps;
  const sub: Subscription = nc.subscribe(names.subjects.maxDeliveriesAdvisories, { queue: `${names.streamPrefix}_notifications_advisories` });
  const done = (async () => {
    for await (const m of sub) {
      let a: MaxDeliverAdvisory;
      try {
        a = m.json<MaxDeliverAdvisory>();
      } catch {
        continue;
      }
      if (typeof a.stream !== 'string' || !a.stream.startsWith(`${names.streamPrefix}_`)) continue;
      const stream = a.stream;
      const consumer = a.consumer ?? 'unknown';
      const seq = a.stream_seq ?? 0;
      try {
        const created = await sql.begin((tx) =>
          store.record(
            tx,
            {
              kind: 'message.stuck',
              severity: 'critical',
              code: 'MAX_DELIVERIES',
              orderId: null,
              externalId: null,
              message: `JetStream stopped delivering message ${seq} of stream ${stream} to consumer ${consumer} after ${a.deliveries ?? '?'} deliveries, and no dead letter could be recorded for it. It is still in the stream: look at it with \`nats stream get ${stream} ${seq}\` and fix the cause; once its consumer has moved past it, the work-queue sweeper puts it back on the queue (up to 3 times).`,
              source: `max-deliveries:${stream}:${seq}`,
            },
            channels,
          ),
        );
        logger.error({ stream, consumer, seq, deliveries: a.deliveries }, 'message stuck after max deliveries; admin notified');
        if (created.created) deps.onCreated?.();
      } catch (err) {
        logger.error({ stream, consumer, seq, err: err instanceof Error ? err.message : String(err) }, 'message stuck after max deliveries; could not record the notification');
      }
    }
  })();
  return {
    async stop() {
      sub.unsubscribe();
      await done;
    },
  };
}
