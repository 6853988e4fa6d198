import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { jetstreamManager } from '@nats-io/jetstream';
import { buildGateway } from '../../gateway/app.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { orderState } from '../support/orders.ts';
import { GATEWAY_ENV, SHOP, intakeBody, paidSession, stripeEvent } from './gateway-helpers.ts';

/**
 * Every webhook the gateway accepted for an order reaches it, whatever NATS lost
 * (gateway/webhook-recheck.ts). NATS losing a stored work-queue message is made here by purging it
 * from the stream before the order host has seen it (a NATS cluster node SIGKILL on nats-server 2.9
 * can do the same); the provider, answered 200, never sends it again.
 */
let t: TestContext;
let app: FastifyInstance;
let orders: RunningService | null = null;

beforeAll(async () => {
  // Checked every second, for webhooks published a second ago or earlier.
  t = await createTestContext({ ...GATEWAY_ENV, INTAKE_RECHECK_MS: '1000' });
  app = await buildGateway(t, { defaultMetrics: false });
});
afterAll(async () => {
  await app?.close();
  await orders?.stop();
  await t?.cleanup();
});

const pay = async (orderId: string) => {
  const ev = stripeEvent('checkout.session.completed', paidSession(orderId));
  const res = await app.inject({ method: 'POST', url: '/webhooks/payments/stripe', headers: ev.headers, payload: ev.payload });
  expect(res.statusCode).toBe(200);
};

describe('webhook recheck', () => {
  it('a payment webhook whose event NATS lost is replayed from its stored bytes; one that arrived is left alone', async () => {
    orders = await startOrdersService(t);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: intakeBody() });
      expect(res.statusCode).toBe(202);
      ids.push(res.json<{ orderId: string }>().orderId);
    }
    const [lost, kept] = ids as [string, string];
    for (const id of ids) await eventually(async () => (await orderState(t.sql, id)) === 'pending', `order ${id} placed`);
    await pay(kept);
    await eventually(async () => (await orderState(t.sql, kept)) === 'processing', 'the other order paid');

    // The host is away when the payment comes; NATS loses it (stored, answered 200, then gone).
    await orders.stop();
    orders = null;
    await pay(lost);
    const jsm = await jetstreamManager(t.nc);
    expect((await jsm.streams.purge(t.names.streams.orderEvents, { filter: t.names.subjects.orderEvent(lost) })).purged).toBe(1);
    orders = await startOrdersService(t);

    await eventually(async () => (await orderState(t.sql, lost)) === 'processing', 'the lost payment replayed and applied', 60_000, 100);
    const history = await t.sql<{ type: string; outcome: string; actor: string | null }[]>`select type, outcome, actor from order_history where order_id = ${lost} order by id`;
    expect(history.map((h) => [h.type, h.outcome])).toEqual([
      ['ORDER_PLACED', 'created'],
      ['PAYMENT_CONFIRMED', 'applied'],
    ]);
    const rows = await t.sql<{ order_id: string; replay_count: number; replayed_by: string | null }[]>`select order_id, replay_count, replayed_by from webhook_inbox where provider = 'stripe' order by id`;
    expect(rows).toEqual([
      { order_id: kept, replay_count: 0, replayed_by: null },
      { order_id: lost, replay_count: 1, replayed_by: 'webhook recheck' },
    ]);
    // Answered now: the next checks replay nothing more.
    const later = Date.now();
    await eventually(async () => Date.now() - later > 2500 && (await t.sql`select 1 from webhook_inbox where replay_count > 1`).length === 0, 'two more checks pass', 30_000, 250);
    expect(await t.sql`select 1 from order_history where order_id = ${lost} and type = 'PAYMENT_CONFIRMED'`).toHaveLength(1);
  });
});
