import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { encodeEnvelope, makeEnvelope } from '../../services/contracts/index.ts';
import { listDeadLetters, replayDeadLetter } from '../../infra/db/dead-letters.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { orderState, publishOrderEvent, sampleOrder } from '../support/orders.ts';

let t: TestContext;
let service: RunningService;

beforeAll(async () => {
  t = await createTestContext();
  service = await startOrdersService(t);
});
afterAll(async () => {
  await service?.stop();
  await t?.cleanup();
});

describe('order actor host (real Postgres + NATS)', () => {
  it('creates an order, applies payment and publishes the document and warehouse commands', async () => {
    const order = sampleOrder();
    await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'pending', 'pending');
    const timers = await t.sql`select kind from timers where order_id = ${order.orderId}`;
    expect(timers.map((r) => r['kind'])).toEqual(['payment-timeout']);

    await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_CONFIRMED', { provider: 'stripe', paymentId: 'pi_1', amount: 6500, currency: 'PLN' });
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'processing', 'processing');
    expect(await t.sql`select 1 from timers where order_id = ${order.orderId}`).toHaveLength(0);

    const subjects = await eventually(async () => {
      const rows = await t.sql<{ subject: string }[]>`select subject from outbox where order_id = ${order.orderId} and sent_at is not null order by seq`;
      return rows.length === 2 ? rows.map((r) => r.subject) : undefined;
    }, 'outbox rows sent');
    expect(subjects).toEqual([t.names.subjects.command('submitShipment'), t.names.subjects.command('issueDocument')]);

    const jsm = await jetstreamManager(t.nc);
    const info = await jsm.streams.info(t.names.streams.command('invoicing'));
    expect(info.state.messages).toBe(1);
    const msg = await jsm.streams.getMessage(t.names.streams.command('invoicing'), { last_by_subj: t.names.subjects.command('issueDocument') });
    expect(msg?.json<{ type: string; orderId: string }>()).toMatchObject({ type: 'issue-document', orderId: order.orderId });

    const history = await t.sql`select type, outcome, from_state, to_state from order_history where order_id = ${order.orderId} order by id`;
    expect(history.map((h) => [h['type'], h['outcome'], h['from_state'], h['to_state']])).toEqual([
      ['ORDER_PLACED', 'created', null, 'pending'],
      ['PAYMENT_CONFIRMED', 'applied', 'pending', 'processing'],
    ]);
  });
});

describe('order actor host: duplicates and bad input', () => {
  it('the same message delivered twice → one transition, one history row', async () => {
    const order = sampleOrder();
    await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
    const env = makeEnvelope({ type: 'PAYMENT_CONFIRMED', orderId: order.orderId, payload: { provider: 'payu', paymentId: 'p1', amount: 6500, currency: 'PLN' } });
    // No JetStream message id: both copies land in the stream, so the host's inbox must stop the second.
    const js = jetstream(t.nc);
    await js.publish(t.names.subjects.orderEvent(order.orderId), encodeEnvelope(env));
    await js.publish(t.names.subjects.orderEvent(order.orderId), encodeEnvelope(env));
    const marker = await publishOrderEvent(t.nc, t.names, order.orderId, 'SHIPMENT_ACCEPTED', { shipmentId: 'sh1' });
    await eventually(async () => (await t.sql`select 1 from order_history where message_id = ${marker.id}`).length === 1, 'marker applied');
    const rows = await t.sql`select outcome from order_history where order_id = ${order.orderId} and type = 'PAYMENT_CONFIRMED'`;
    expect(rows.map((r) => r['outcome'])).toEqual(['applied']);
    const outbox = await t.sql`select count(*)::int as n from outbox where order_id = ${order.orderId}`;
    expect(outbox[0]?.['n']).toBe(2);
  });

  it('an event the state does not accept is recorded as ignored, not retried', async () => {
    const order = sampleOrder();
    await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
    const e = await publishOrderEvent(t.nc, t.names, order.orderId, 'DELIVERED', {});
    const [row] = await eventually(async () => {
      const r = await t.sql`select outcome, from_state, to_state from order_history where message_id = ${e.id}`;
      return r.length ? r : undefined;
    }, 'ignored row');
    expect(row).toMatchObject({ outcome: 'ignored', from_state: 'pending', to_state: 'pending' });
    expect(await orderState(t.sql, order.orderId)).toBe('pending');
  });

  it('a malformed payload is dead-lettered once and the host keeps running', async () => {
    const order = sampleOrder();
    await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
    const bad = await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_CONFIRMED', { provider: 'stripe', paymentId: 'x', amount: 'lots', currency: 'PLN' });
    await jetstream(t.nc).publish(t.names.subjects.orderEvent(order.orderId), new TextEncoder().encode('{not json'));
    await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_CONFIRMED', { provider: 'stripe', paymentId: 'y', amount: 6500, currency: 'PLN' });
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'processing', 'valid event after bad ones applied');
    const dead = await t.sql`select message_id, error_code, deliveries from dead_letters where order_id = ${order.orderId} or message_id is null order by id`;
    expect(dead.map((d) => [d['error_code'], d['deliveries']])).toEqual([
      ['VALIDATION_FAILED', 1],
      ['MALFORMED_MESSAGE', 1],
    ]);
    expect(dead[0]?.['message_id']).toBe(bad.id);
  });

  it('an event for an unknown order is dead-lettered (visible), not lost', async () => {
    const e = await publishOrderEvent(t.nc, t.names, 'ord_nobody', 'DELIVERED', {});
    const [row] = await eventually(async () => {
      const r = await t.sql`select error_code from dead_letters where message_id = ${e.id}`;
      return r.length ? r : undefined;
    }, 'dead letter');
    expect(row?.['error_code']).toBe('UNKNOWN_ORDER');
  });

  it('a dead letter replayed after its cause is fixed is applied once', async () => {
    const order = sampleOrder();
    const early = await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_FAILED', { provider: 'payu', reason: 'declined' });
    const [dead] = await eventually(async () => {
      const r = await t.sql<{ id: string }[]>`select id::text from dead_letters where message_id = ${early.id}`;
      return r.length ? r : undefined;
    }, 'dead letter');
    await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'pending', 'order placed');
    const js = jetstream(t.nc);
    const replayed = await replayDeadLetter(t.sql, async (subject, data, msgID) => void (await js.publish(subject, data, { msgID })), dead?.id ?? '', 'anna');
    expect(replayed).toMatchObject({ replayed_by: 'anna' });
    await eventually(async () => (await t.sql`select 1 from order_history where message_id = ${early.id} and outcome = 'applied'`).length === 1, 'replayed event applied');
    expect((await listDeadLetters(t.sql, { open: true })).map((d) => d.id)).not.toContain(dead?.id);
  });
});
