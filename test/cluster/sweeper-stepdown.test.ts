import { afterAll, beforeAll, expect, it } from 'vitest';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startWorkQueueSweeper, type SweptMessage, type WorkQueueSweeper } from '../../infra/nats/work-queue-sweeper.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { startNatsCluster, type NatsCluster } from './nats-cluster.ts';

/**
 * On a 3-node cluster, a copy the sweeper put back that its consumer passed over as well makes the
 * consumer's leader step down: another node leads the consumer (the node may hold a replica of the
 * stream that stopped taking messages; README, "Scaling out"). The consumer is made to pass over
 * the message the one way JetStream allows: delivered, never acked, until max_deliver gives up.
 */
let t: TestContext;
let cluster: NatsCluster;
let nc: NatsConnection;
let jsm: JetStreamManager;
let sweeper: WorkQueueSweeper;
const stream = `SWEEP_${Date.now().toString(36)}`;
const target = { stream, consumer: 'c', filter: `${stream}.a` };

beforeAll(async () => {
  t = await createTestContext();
  cluster = await startNatsCluster(3);
  nc = await connect({ servers: cluster.url.split(','), maxReconnectAttempts: -1 });
  jsm = await jetstreamManager(nc);
  await eventually(() => jsm.streams.add({ name: stream, subjects: [`${stream}.>`], retention: RetentionPolicy.Workqueue, storage: StorageType.File, num_replicas: 3 }).then(() => true), 'the stream added once the cluster has a leader', 60_000, 500);
  await jsm.consumers.add(stream, { durable_name: 'c', filter_subject: target.filter, ack_policy: AckPolicy.Explicit, max_deliver: 1, ack_wait: 1_000_000_000 });
  sweeper = startWorkQueueSweeper({ nc, sql: t.sql, logger: t.logger, targets: [target], intervalMs: 3_600_000 });
});
afterAll(async () => {
  await sweeper?.stop();
  await nc?.close();
  await cluster?.stop();
  await t?.cleanup();
});

/** Takes the consumer's next message without acking it, until JetStream gives up on message `seq`. */
async function passOver(seq: number): Promise<void> {
  const consumer = await jetstream(nc).consumers.get(stream, 'c');
  await eventually(async () => {
    await consumer.next({ expires: 1000 });
    const info = await jsm.consumers.info(stream, 'c');
    return info.delivered.stream_seq >= seq && info.num_ack_pending === 0;
  }, `JetStream giving up on message ${seq}`, 60_000, 0);
}

async function sweepUntilPutBack(): Promise<SweptMessage> {
  return eventually(async () => (await sweeper.sweep())[0], 'a sweep that puts the message back', 60_000, 200);
}

it('a copy passed over again makes the consumer’s leader step down', async () => {
  const ack = await jetstream(nc).publish(target.filter, new TextEncoder().encode('{}'), { msgID: 'm1' });
  await passOver(ack.seq);
  const leader = (await jsm.consumers.info(stream, 'c')).cluster?.leader;
  expect(leader).toMatch(/^n[123]$/);
  const first = await sweepUntilPutBack();
  expect(first).toMatchObject({ seq: ack.seq, sweeps: 1 });
  // The original put back: no step-down for a message passed over once.
  expect((await jsm.consumers.info(stream, 'c')).cluster?.leader).toBe(leader);
  await passOver(first.newSeq);
  const second = await sweepUntilPutBack();
  expect(second).toMatchObject({ seq: first.newSeq, sweeps: 2 });
  const after = await eventually(async () => {
    const l = (await jsm.consumers.info(stream, 'c')).cluster?.leader;
    return l !== undefined && l !== leader ? l : undefined;
  }, 'another node leading the consumer', 60_000, 200);
  expect(after).toMatch(/^n[123]$/);
  // The consumer, under its new leader, counts the copy as still to deliver, and delivers it.
  const info = await jsm.consumers.info(stream, 'c');
  expect(info.num_pending + info.num_ack_pending).toBeGreaterThanOrEqual(1);
  const m = await eventually(async () => (await jetstream(nc).consumers.get(stream, 'c')).next({ expires: 2000 }), 'the copy delivered', 60_000, 0);
  expect(m.seq).toBe(second.newSeq);
  m.ack();
});
