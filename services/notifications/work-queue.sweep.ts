import { jetstream, RetentionPolicy } from '@nats-io/jetstream';
import { replayDeadLettersOfOrder } from '../../infra/db/dead-letters.ts';
import type { ServiceDeps } from '../../infra/runtime/service.ts';
import { recreateConsumer, restoreConsumer, topology } from '../../infra/nats/topology.ts';
import { startWorkQueueSweeper, type SweptMessage, type WorkQueueSweeper } from '../../infra/nats/work-queue-sweeper.ts';
import type { NotificationStore } from './notification.store.ts';
import type { ChannelName, NewNotification } from './notification.types.ts';

const ACTOR = 'work-queue sweeper';

/**
 * Runs the work-queue sweeper (infra/nats/work-queue-sweeper.ts) over every work-queue consumer of
 * the topology, and answers for what it did:
 * - an admin sees a warning per consumer that NATS had passed over messages (put back, nothing to do
 *   unless it repeats; its occurrences count the messages), and a critical notification for a message put back too often;
 * - an `ORDER_PLACED` put back comes after its order's later events, which were dead-lettered
 *   `UNKNOWN_ORDER` for want of it: those are replayed behind it, in their order.
 */
export function startSweeper(deps: ServiceDeps & { store: NotificationStore; channels: readonly ChannelName[]; onCreated: () => void }): WorkQueueSweeper | null {
  const { config, names, nc, sql, store, channels } = deps;
  if (config.natsSweepMs <= 0) return null;
  const logger = deps.logger.child({ component: 'work-queue-sweeper' });
  const js = jetstream(nc);
  const topoOpts = { ackWaitMs: config.ackWaitMs, duplicateWindowMs: config.duplicateWindowMs, maxDeliver: config.maxDeliver };
  const topo = topology(names, topoOpts);
  const workQueues = new Set(topo.streams.filter((s) => s.retention === RetentionPolicy.Workqueue).map((s) => s.name));
  const targets = topo.consumers.filter((c) => workQueues.has(c.stream)).map((c) => ({ stream: c.stream, consumer: c.durable_name ?? '', filter: c.filter_subject ?? '' }));

  async function replayWhatWaitedFor(s: SweptMessage): Promise<void> {
    if (s.envelope?.type !== 'ORDER_PLACED' || !s.envelope.orderId) return;
    const orderId = s.envelope.orderId;
    const note = `its order's ORDER_PLACED had been passed over by NATS and was put back on the queue (was sequence ${s.seq} of ${s.stream})`;
    const replayed = await replayDeadLettersOfOrder(sql, async (subject, data, msgID) => void (await js.publish(subject, data, { msgID })), { orderId, code: 'UNKNOWN_ORDER', actor: ACTOR, note });
    if (replayed.length > 0) logger.warn({ deadLetters: replayed, orderId }, 'dead letters that waited for a put-back ORDER_PLACED replayed');
  }

  async function report(swept: SweptMessage[], givenUp: SweptMessage[]): Promise<void> {
    for (const s of swept) await replayWhatWaitedFor(s);
    // One occurrence per message put back: the notification's count is the number of messages.
    const raised = [
      ...swept.map((s): NewNotification => ({
        kind: 'message.swept',
        severity: 'warning',
        code: 'WORK_QUEUE_SWEPT',
        orderId: null,
        externalId: null,
        message: `Consumer ${s.consumer} of stream ${s.stream} had passed over messages it never delivered (NATS left them in the work queue, as nats-server 2.9 can after a cluster node is killed); the work-queue sweeper put them back on the queue and they are being processed. Nothing to do unless this keeps coming back: then look at the NATS cluster.`,
        source: `swept:${s.stream}:${s.seq}`,
      })),
      ...givenUp.map((g): NewNotification => ({
        kind: 'message.stuck',
        severity: 'critical',
        code: 'WORK_QUEUE_SWEPT_TOO_OFTEN',
        orderId: g.envelope?.orderId ?? null,
        externalId: null,
        message: `Message ${g.seq} of stream ${g.stream} was put back on the queue ${g.sweeps} times and its consumer ${g.consumer} passed over it again. The consumer is started over (it delivers what its filter still holds, this message included); if the message stays (\`nats stream get ${g.stream} ${g.seq}\`), look at the NATS cluster's health.`,
        source: `swept-too-often:${g.stream}:${g.seq}`,
      })),
    ];
    let created = false;
    for (const n of raised) created = (await sql.begin((tx) => store.record(tx, n, channels))).created || created;
    if (created) deps.onCreated();
  }

  return startWorkQueueSweeper({
    nc,
    sql,
    logger: deps.logger,
    targets,
    intervalMs: config.natsSweepMs,
    onSwept: report,
    recreateConsumer: (t) => recreateConsumer(nc, names, topoOpts, t.consumer),
    restoreConsumer: (t) => restoreConsumer(nc, names, topoOpts, t.consumer),
  });
}
