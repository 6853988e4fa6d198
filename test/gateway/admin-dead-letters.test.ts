import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../gateway/app.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { orderState, publishOrderEvent, sampleOrder } from '../support/orders.ts';
import { ALICE, GATEWAY_ENV } from './gateway-helpers.ts';

let t: TestContext;
let app: FastifyInstance;
let orders: RunningService;

beforeAll(async () => {
  t = await createTestContext(GATEWAY_ENV);
  orders = await startOrdersService(t);
  app = await buildGateway(t, { defaultMetrics: false });
});
afterAll(async () => {
  await app?.close();
  await orders?.stop();
  await t?.cleanup();
});

describe('admin API: dead letters', () => {
  it('lists a dead letter and replays it once its cause is fixed', async () => {
    expect((await app.inject({ url: '/admin/api/dead-letters' })).statusCode).toBe(401);
    const order = sampleOrder();
    // An event that arrives before its order exists is dead-lettered (UNKNOWN_ORDER)…
    const early = await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_FAILED', { provider: 'payu', reason: 'declined' });
    const [dead] = await eventually(async () => {
      const items = (await app.inject({ url: '/admin/api/dead-letters', headers: ALICE })).json<{ items: Array<{ id: string; message_id: string; error_code: string }> }>().items;
      const mine = items.filter((d) => d.message_id === early.id);
      return mine.length ? mine : undefined;
    }, 'dead letter listed');
    expect(dead?.error_code).toBe('UNKNOWN_ORDER');

    // …and, once the order exists, an admin replays it: it is applied, and leaves the open list.
    await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'pending', 'order placed');
    const replay = await app.inject({ method: 'POST', url: `/admin/api/dead-letters/${dead?.id}/replay`, headers: ALICE });
    expect(replay.statusCode).toBe(202);
    expect(replay.json()).toMatchObject({ id: dead?.id, replayed_by: 'alice' });
    await eventually(async () => (await t.sql`select 1 from order_history where message_id = ${early.id} and outcome = 'applied'`).length === 1, 'replayed event applied');
    const open = (await app.inject({ url: '/admin/api/dead-letters', headers: ALICE })).json<{ items: Array<{ id: string }> }>().items;
    expect(open.map((d) => d.id)).not.toContain(dead?.id);
    const all = (await app.inject({ url: '/admin/api/dead-letters?status=all', headers: ALICE })).json<{ items: Array<{ id: string }> }>().items;
    expect(all.map((d) => d.id)).toContain(dead?.id);
  });

  it('answers an unknown id with 404 and a bad one with 422, never a stack trace', async () => {
    const missing = await app.inject({ method: 'POST', url: '/admin/api/dead-letters/999999/replay', headers: ALICE });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const bad = await app.inject({ method: 'POST', url: '/admin/api/dead-letters/abc/replay', headers: ALICE });
    expect(bad.statusCode).toBe(422);
    expect(bad.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    expect(bad.body).not.toMatch(/\n\s+at /);
  });
});
