import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrdersService } from '../../services/orders/main.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { orderState, publishOrderEvent, sampleOrder } from '../support/orders.ts';

let t: TestContext;
beforeAll(async () => {
  // Long enough that the process is stopped before the timer is due even on a busy machine (the
  // orders are applied in two partitions, in no fixed order between them).
  t = await createTestContext({ PAYMENT_TIMEOUT_MS: '8000' });
});
afterAll(async () => {
  await t?.cleanup();
});

describe('payment timeout (a Postgres timer, not an in-memory delay)', () => {
  it('fires after a restart and cancels the unpaid order; a paid order is not touched', async () => {
    let svc = await startOrdersService(t);
    const unpaid = sampleOrder();
    const paid = sampleOrder();
    await publishOrderEvent(t.nc, t.names, unpaid.orderId, 'ORDER_PLACED', { order: unpaid });
    await publishOrderEvent(t.nc, t.names, paid.orderId, 'ORDER_PLACED', { order: paid });
    await publishOrderEvent(t.nc, t.names, paid.orderId, 'PAYMENT_CONFIRMED', { provider: 'payu', paymentId: 'p', amount: paid.total, currency: 'PLN' });
    await eventually(async () => (await orderState(t.sql, paid.orderId)) === 'processing', 'paid');
    await eventually(async () => (await orderState(t.sql, unpaid.orderId)) === 'pending', 'the unpaid order placed');
    // The process stops before the timer is due; the timer lives on in Postgres.
    await svc.stop();
    const timers = await t.sql<{ kind: string; fire_at: Date }[]>`select kind, fire_at from timers where order_id = ${unpaid.orderId}`;
    expect(timers).toHaveLength(1);
    expect(await orderState(t.sql, unpaid.orderId)).toBe('pending');
    // Started again only once the timer is due: it fires from Postgres, not from the stopped process's memory.
    await eventually(async () => Date.now() > timers[0]!.fire_at.getTime(), 'the timer due', 60_000);
    svc = await startOrdersService(t);
    await eventually(async () => (await orderState(t.sql, unpaid.orderId)) === 'cancelled', 'cancelled by timeout');
    const [h] = await t.sql`select type, actor from order_history where order_id = ${unpaid.orderId} and type = 'PAYMENT_TIMEOUT'`;
    expect(h).toMatchObject({ type: 'PAYMENT_TIMEOUT', actor: 'system' });
    expect(await t.sql`select 1 from timers`).toHaveLength(0);
    expect(await orderState(t.sql, paid.orderId)).toBe('processing');
    await svc.stop();
  });
});
