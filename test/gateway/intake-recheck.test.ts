import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { jetstreamManager } from '@nats-io/jetstream';
import { buildGateway } from '../../gateway/app.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { missingOrders } from '../../services/orders/index.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { orderState, publishOrderEvent } from '../support/orders.ts';
import { GATEWAY_ENV, SHOP, intakeBody } from './gateway-helpers.ts';

/**
 * Every order the gateway accepted comes to exist, whatever NATS lost (gateway/intake-recheck.ts).
 * NATS losing a stored work-queue message is made here by purging it from the stream before the
 * order host has seen it (a NATS cluster node SIGKILL on nats-server 2.9 can do the same).
 */
let t: TestContext;
let app: FastifyInstance;
let orders: RunningService | null = null;

beforeAll(async () => {
  // Checked every 2 s, for orders older than 2 s.
  t = await createTestContext({ ...GATEWAY_ENV, INTAKE_RECHECK_MS: '2000' });
  app = await buildGateway(t, { defaultMetrics: false });
});
afterAll(async () => {
  await app?.close();
  await orders?.stop();
  await t?.cleanup();
});

describe('intake recheck', () => {
  it('an accepted order whose ORDER_PLACED NATS lost is published again, and what waited for it follows', async () => {
    const lostRes = await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: intakeBody() });
    const keptRes = await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: intakeBody() });
    expect([lostRes.statusCode, keptRes.statusCode]).toEqual([202, 202]);
    const lost = lostRes.json<{ orderId: string }>().orderId;
    const kept = keptRes.json<{ orderId: string }>().orderId;
    // NATS loses the first order's ORDER_PLACED (stored, answered 202, then gone).
    const jsm = await jetstreamManager(t.nc);
    const purged = await jsm.streams.purge(t.names.streams.orderEvents, { filter: t.names.subjects.orderEvent(lost) });
    expect(purged.purged).toBe(1);

    orders = await startOrdersService(t);
    await eventually(async () => (await orderState(t.sql, kept)) === 'pending', 'the other order created');
    // Its payment finds no order (dead-lettered UNKNOWN_ORDER) unless the recheck was quicker.
    const paid = await publishOrderEvent(t.nc, t.names, lost, 'PAYMENT_CONFIRMED', { provider: 'stripe', paymentId: 'pi_recheck', amount: 6500, currency: 'PLN' });

    await eventually(async () => (await orderState(t.sql, lost)) === 'processing', 'the lost order placed again and paid', 60_000, 100);
    const history = await t.sql<{ type: string; outcome: string; message_id: string }[]>`select type, outcome, message_id from order_history where order_id = ${lost} order by id`;
    expect(history.map((r) => [r.type, r.outcome, r.message_id])).toEqual([
      ['ORDER_PLACED', 'created', `order-placed:${lost}`],
      ['PAYMENT_CONFIRMED', 'applied', paid.id],
    ]);
    const deadLetters = await t.sql<{ replayed_by: string | null }[]>`select replayed_by from dead_letters where message_id = ${paid.id}`;
    for (const d of deadLetters) expect(d.replayed_by).toBe('intake recheck');
    expect(await missingOrders(t.sql, [lost, kept, 'ord_never-accepted'])).toEqual(['ord_never-accepted']);
  });
});
