import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { encodeEnvelope, makeEnvelope, partitionOf } from '../../services/contracts/index.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { createNotificationStore } from '../../services/notifications/notification.store.ts';
import { startSweeper } from '../../services/notifications/work-queue.sweep.ts';
import { SWEPT_HEADER, sweepReason, type SweptMessage, type WorkQueueSweeper } from '../../infra/nats/work-queue-sweeper.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { orderState, publishOrderEvent, sampleOrder } from '../support/orders.ts';

/**
 * The work-queue sweeper puts back what a work queue still holds that its consumer will never
 * deliver. A consumer that passed over a message is made here the one way a single nats-server
 * allows it: JetStream gives up on a message after the consumer's max_deliver (MAX_DELIVER 1 makes
 * the server's cap 3) while the test holds it un-acked. On a cluster, a node SIGKILL does the same
 * on nats-server 2.9 (README, "Scaling out"); `npm run test:cluster` shows that side.
 */
let t: TestContext;
let orders: RunningService | null = null;
let sweeper: WorkQueueSweeper | null;

beforeAll(async () => {
  t = await createTestContext({ MAX_DELIVER: '1', INVOICING_MAX_ATTEMPTS: '1', MAIL_MAX_ATTEMPTS: '1', LOGISTICS_MAX_ATTEMPTS: '1', PAYMENTS_MAX_ATTEMPTS: '1', ACK_WAIT_MS: '500', NATS_SWEEP_MS: '0' });
  // Swept by hand (sweep()), never by its timer: the test decides when a sweep looks.
  sweeper = startSweeper({ ...t, config: { ...t.config, natsSweepMs: 3_600_000 }, store: createNotificationStore(t.sql), channels: [], onCreated: () => {} });
});
afterAll(async () => {
  await sweeper?.stop();
  await orders?.stop();
  await t?.cleanup();
});

const partitionConsumer = (orderId: string) => t.names.consumers.orderPartition(partitionOf(orderId, t.names.partitions));

/** Takes the partition's next message `times` times without acking it, until JetStream gives up on it. */
async function passOver(orderId: string, seq: number): Promise<void> {
  const consumer = await jetstream(t.nc).consumers.get(t.names.streams.orderEvents, partitionConsumer(orderId));
  const jsm = await jetstreamManager(t.nc);
  await eventually(async () => {
    const m = await consumer.next({ expires: 2000 });
    if (m) expect(m.seq).toBe(seq);
    const info = await jsm.consumers.info(t.names.streams.orderEvents, partitionConsumer(orderId));
    // Delivered, never acked, nothing un-acked: JetStream gave up on it.
    return info.delivered.stream_seq >= seq && info.num_ack_pending === 0;
  }, 'JetStream giving up on the message', 60_000, 0);
}

async function sweepUntilPutBack(): Promise<SweptMessage[]> {
  return eventually(async () => {
    const swept = await (sweeper as WorkQueueSweeper).sweep();
    return swept.length > 0 ? swept : undefined;
  }, 'a sweep that puts the message back', 60_000, 200);
}

/**
 * An ORDER_PLACED copy already put back 3 times (its `Orderpilot-Swept` header), passed over by its
 * consumer once more, with no order host running: the next sweeps give up on it.
 */
async function passedOverAfterThreeSweeps() {
  await orders?.stop();
  orders = null;
  const order = sampleOrder();
  const env = makeEnvelope({ type: 'ORDER_PLACED', orderId: order.orderId, payload: { order } });
  const h = natsHeaders();
  h.set(SWEPT_HEADER, '3');
  const ack = await jetstream(t.nc).publish(t.names.subjects.orderEvent(order.orderId), encodeEnvelope(env), { msgID: `${env.id}:swept:1`, headers: h });
  await passOver(order.orderId, ack.seq);
  return { order, ack };
}

describe('work-queue sweeper', () => {
  it('judges a stored message from its consumer’s own state', () => {
    const c = (delivered: number, ackFloor: number, pending: number, ackPending: number) => ({
      delivered: { stream_seq: delivered, consumer_seq: delivered },
      ack_floor: { stream_seq: ackFloor, consumer_seq: ackFloor },
      num_pending: pending,
      num_ack_pending: ackPending,
    });
    expect(sweepReason(5, c(9, 7, 3, 1))).toBe('below-ack-floor');
    expect(sweepReason(8, c(9, 7, 3, 0))).toBe('passed-over');
    // In flight (un-acked, or waiting for a redelivery after a nak): never touched.
    expect(sweepReason(8, c(9, 7, 3, 1))).toBeNull();
    // Not delivered yet: the consumer gets to it.
    expect(sweepReason(10, c(9, 7, 3, 0))).toBeNull();
    expect(sweepReason(10, c(9, 9, 0, 0))).toBe('not-counted');
  });

  it('never puts back a message that is in flight', async () => {
    const order = sampleOrder();
    const env = await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
    const consumer = await jetstream(t.nc).consumers.get(t.names.streams.orderEvents, partitionConsumer(order.orderId));
    const held = (await eventually(() => consumer.next({ expires: 2000 }), 'the message delivered')) as JsMsg;
    expect(held.json<{ id: string }>().id).toBe(env.id);
    const keepAlive = setInterval(() => held.working(), 150);
    try {
      for (let i = 0; i < 3; i++) expect(await (sweeper as WorkQueueSweeper).sweep()).toEqual([]);
    } finally {
      clearInterval(keepAlive);
    }
    held.ack();
    await eventually(async () => (await jetstreamManager(t.nc).then((j) => j.streams.info(t.names.streams.orderEvents))).state.messages === 0, 'the acked message removed');
  });

  it('an ORDER_PLACED its consumer passed over is put back, and the payment dead-lettered for want of it is replayed behind it', async () => {
    const order = sampleOrder();
    const jsm = await jetstreamManager(t.nc);
    const placed = makeEnvelope({ type: 'ORDER_PLACED', orderId: order.orderId, payload: { order } });
    const ack = await jetstream(t.nc).publish(t.names.subjects.orderEvent(order.orderId), encodeEnvelope(placed), { msgID: placed.id });
    await passOver(order.orderId, ack.seq);

    // The order host runs from here on: the payment finds no order and is dead-lettered UNKNOWN_ORDER.
    orders = await startOrdersService(t);
    const paid = await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_CONFIRMED', { provider: 'stripe', paymentId: 'pi_swept', amount: 6500, currency: 'PLN' });
    await eventually(async () => (await t.sql`select 1 from dead_letters where message_id = ${paid.id} and error_code = 'UNKNOWN_ORDER'`).length === 1, 'the payment dead-lettered');
    expect(await orderState(t.sql, order.orderId)).toBeUndefined();

    const swept = await sweepUntilPutBack();
    expect(swept).toEqual([
      expect.objectContaining({ stream: t.names.streams.orderEvents, consumer: partitionConsumer(order.orderId), seq: ack.seq, reason: 'below-ack-floor', sweeps: 1, envelope: { id: placed.id, type: 'ORDER_PLACED', orderId: order.orderId } }),
    ]);
    // The payment's term moved the ack floor past it. The original is gone; its copy went on.
    expect(await jsm.streams.getMessage(t.names.streams.orderEvents, { seq: ack.seq })).toBeNull();

    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'processing', 'the order placed and then paid');
    const history = await t.sql<{ type: string; outcome: string; message_id: string }[]>`select type, outcome, message_id from order_history where order_id = ${order.orderId} order by id`;
    expect(history.map((r) => [r.type, r.outcome, r.message_id])).toEqual([
      ['ORDER_PLACED', 'created', placed.id],
      ['PAYMENT_CONFIRMED', 'applied', paid.id],
    ]);
    const [dl] = await t.sql<{ replayed_by: string; replay_note: string }[]>`select replayed_by, replay_note from dead_letters where message_id = ${paid.id}`;
    expect(dl).toEqual({ replayed_by: 'work-queue sweeper', replay_note: expect.stringContaining(`was sequence ${ack.seq}`) });
    const notes = await t.sql<{ severity: string; message: string }[]>`select severity, message from notifications where code = 'WORK_QUEUE_SWEPT'`;
    expect(notes).toEqual([{ severity: 'warning', message: expect.stringContaining(partitionConsumer(order.orderId)) }]);
  });

  it('a message put back too often is raised as critical and its consumer started over, which then delivers it', async () => {
    const { order, ack } = await passedOverAfterThreeSweeps();
    const jsm = await jetstreamManager(t.nc);
    const before = await jsm.consumers.info(t.names.streams.orderEvents, partitionConsumer(order.orderId));
    const note = await eventually(async () => {
      expect(await (sweeper as WorkQueueSweeper).sweep()).toEqual([]);
      const [n] = await t.sql<{ severity: string; order_id: string; message: string }[]>`select severity, order_id, message from notifications where code = 'WORK_QUEUE_SWEPT_TOO_OFTEN'`;
      return n;
    }, 'the critical notification', 60_000, 200);
    expect(note).toEqual({ severity: 'critical', order_id: order.orderId, message: expect.stringContaining(`Message ${ack.seq} of stream ${t.names.streams.orderEvents}`) });
    const left = await jsm.streams.getMessage(t.names.streams.orderEvents, { seq: ack.seq });
    expect(left?.seq).toBe(ack.seq);
    // The consumer was started over: a new one, which counts the message as still to deliver.
    const after = await jsm.consumers.info(t.names.streams.orderEvents, partitionConsumer(order.orderId));
    expect(before.delivered.stream_seq).toBeGreaterThanOrEqual(ack.seq);
    expect(new Date(after.created).getTime()).toBeGreaterThan(new Date(before.created).getTime());
    expect(after.delivered.stream_seq).toBeLessThan(ack.seq);
    expect(after.num_pending).toBeGreaterThanOrEqual(1);
    // The order host, back, gets it from there: the order exists and the message left the queue.
    orders = await startOrdersService(t);
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'pending', 'the order placed from the message given up');
    await eventually(async () => (await jsm.streams.getMessage(t.names.streams.orderEvents, { seq: ack.seq })) === null, 'the message acked and gone');
  });

  it('a consumer is started over once per message given up, whichever process sweeps next', async () => {
    const { order, ack } = await passedOverAfterThreeSweeps();
    const jsm = await jetstreamManager(t.nc);
    const consumerInfo = () => jsm.consumers.info(t.names.streams.orderEvents, partitionConsumer(order.orderId));
    const before = await consumerInfo();
    // This process gives up on the message and starts its consumer over.
    const restarted = await eventually(async () => {
      expect(await (sweeper as WorkQueueSweeper).sweep()).toEqual([]);
      const now = await consumerInfo();
      return now.created !== before.created ? now : undefined;
    }, 'the consumer started over', 60_000, 200);
    // The new consumer passes over it as well (as a broken cluster node's can); another process's
    // sweeper, with no memory of the give-up, sees it on every sweep and leaves the consumer alone.
    await passOver(order.orderId, ack.seq);
    const other = startSweeper({ ...t, config: { ...t.config, natsSweepMs: 3_600_000 }, store: createNotificationStore(t.sql), channels: [], onCreated: () => {} });
    try {
      for (let i = 0; i < 3; i++) expect(await (other as WorkQueueSweeper).sweep()).toEqual([]);
    } finally {
      await other?.stop();
    }
    expect((await consumerInfo()).created).toBe(restarted.created);
    const [n] = await t.sql<{ occurrences: number }[]>`select occurrences from notifications where code = 'WORK_QUEUE_SWEPT_TOO_OFTEN' and order_id = ${order.orderId}`;
    expect(n?.occurrences).toBe(1);
    await jsm.streams.deleteMessage(t.names.streams.orderEvents, ack.seq);
  });

  it('a consumer missing from its stream (a start-over whose add failed) is added again, and the other consumers are swept', async () => {
    await orders?.stop();
    orders = null;
    const jsm = await jetstreamManager(t.nc);
    const order = sampleOrder();
    const env = makeEnvelope({ type: 'ORDER_PLACED', orderId: order.orderId, payload: { order } });
    await jetstream(t.nc).publish(t.names.subjects.orderEvent(order.orderId), encodeEnvelope(env), { msgID: env.id });
    await jsm.consumers.delete(t.names.streams.orderEvents, partitionConsumer(order.orderId));
    // A message another partition's consumer passed over, to see the sweep go on past the missing one.
    let other = sampleOrder();
    while (partitionConsumer(other.orderId) === partitionConsumer(order.orderId)) other = sampleOrder();
    const otherEnv = makeEnvelope({ type: 'ORDER_PLACED', orderId: other.orderId, payload: { order: other } });
    const otherAck = await jetstream(t.nc).publish(t.names.subjects.orderEvent(other.orderId), encodeEnvelope(otherEnv), { msgID: otherEnv.id });
    await passOver(other.orderId, otherAck.seq);
    const swept = await sweepUntilPutBack();
    expect(swept.map((s) => s.envelope?.orderId)).toContain(other.orderId);
    const restored = await jsm.consumers.info(t.names.streams.orderEvents, partitionConsumer(order.orderId));
    expect(restored.num_pending).toBeGreaterThanOrEqual(1);
    // The order host delivers from the restored consumer: the order exists.
    orders = await startOrdersService(t);
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'pending', 'the order placed through the restored consumer');
    await eventually(async () => (await orderState(t.sql, other.orderId)) === 'pending', 'the other order placed from the message put back');
  });

  it('a consumer missing from an empty stream is added again too, before anything arrives for it', async () => {
    const jsm = await jetstreamManager(t.nc);
    const stream = t.names.streams.shopUpdates;
    const consumer = t.names.consumers.shopPartition(0);
    expect((await jsm.streams.info(stream)).state.messages).toBe(0);
    await jsm.consumers.delete(stream, consumer);
    await expect(jsm.consumers.info(stream, consumer)).rejects.toThrow(/consumer not found/);
    await (sweeper as WorkQueueSweeper).sweep();
    const restored = await jsm.consumers.info(stream, consumer);
    expect(restored.config.filter_subject).toBe(t.names.subjects.shopPartition(0));
  });
});
