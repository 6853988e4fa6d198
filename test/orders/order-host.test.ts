import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
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
