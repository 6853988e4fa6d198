import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../gateway/app.ts';
import { startNotificationsService } from '../../services/notifications/main.ts';
import { publishCommand } from '../../infra/nats/publish.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import type { NotifyCommand } from '../../services/contracts/index.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { orderState, publishOrderEvent, sampleOrder } from '../support/orders.ts';
import { startOrdersService } from '../../services/orders/main.ts';

const BOB = { authorization: 'Bearer bob-notifications-token-0123' };
let t: TestContext;
let app: FastifyInstance;
let service: RunningService;

beforeAll(async () => {
  t = await createTestContext({ ADMIN_TOKENS: 'bob:bob-notifications-token-0123' });
  service = await startNotificationsService(t, { pollMs: 200 });
  app = await buildGateway(t, { defaultMetrics: false });
});
afterAll(async () => {
  await app?.close();
  await service?.stop();
  await t?.cleanup();
});

async function raise(orderId: string, code: string) {
  await publishCommand<NotifyCommand>(t.nc, t.names, 'notify', {
    type: 'notify',
    orderId,
    payload: { kind: 'order.held', severity: 'warning', code, message: `${orderId} held: ${code}`, orderId, externalId: `EXT-${orderId}` },
  });
}

describe('notifications admin API', () => {
  it('needs an admin token', async () => {
    expect((await app.inject({ method: 'GET', url: '/admin/api/notifications' })).statusCode).toBe(401);
  });

  it('lists open notifications and acknowledges one or many', async () => {
    await Promise.all(['a1', 'a2', 'a3'].map((id) => raise(id, 'OUT_OF_STOCK')));
    const list = await eventually(async () => {
      const r = await app.inject({ method: 'GET', url: '/admin/api/notifications', headers: BOB });
      const items = r.json<{ items: Array<{ id: string; orderId: string; acknowledgedBy: string | null }> }>().items;
      return items.length === 3 ? items : undefined;
    }, 'three notifications listed');
    const [first, ...rest] = list;
    const one = await app.inject({ method: 'POST', url: `/admin/api/notifications/${first?.id}/ack`, headers: BOB });
    expect(one.json()).toEqual({ acknowledged: [first?.id], by: 'bob' });
    const many = await app.inject({ method: 'POST', url: '/admin/api/notifications/ack', headers: BOB, payload: { ids: [first?.id, ...rest.map((n) => n.id)] } });
    expect(many.json<{ acknowledged: string[] }>().acknowledged.sort()).toEqual(rest.map((n) => n.id).sort());
    const open = await app.inject({ method: 'GET', url: '/admin/api/notifications', headers: BOB });
    expect(open.json<{ items: unknown[] }>().items).toHaveLength(0);
    const acked = await app.inject({ method: 'GET', url: '/admin/api/notifications?status=acknowledged&orderId=a1', headers: BOB });
    expect(acked.json<{ items: unknown[] }>().items).toEqual([expect.objectContaining({ orderId: 'a1', acknowledgedBy: 'bob' })]);
  });

  it('an admin release settles the hold notification, so the same hold coming back notifies again', async () => {
    const orders = await startOrdersService(t);
    try {
      const order = sampleOrder();
      const rejected = { code: 'OUT_OF_STOCK', message: 'no mugs' };
      await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
      await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_CONFIRMED', { provider: 'payu', paymentId: 'p', amount: order.total, currency: 'PLN' });
      await publishOrderEvent(t.nc, t.names, order.orderId, 'SHIPMENT_REJECTED', rejected);
      const openFor = async () =>
        (await app.inject({ method: 'GET', url: `/admin/api/notifications?orderId=${order.orderId}`, headers: BOB })).json<{ items: Array<{ id: string; kind: string }> }>().items;
      const [first] = await eventually(async () => ((await openFor()).length === 1 ? openFor() : undefined), 'hold notification');
      expect(first?.kind).toBe('order.held');

      const release = await app.inject({ method: 'POST', url: `/admin/api/orders/${order.orderId}/events`, headers: BOB, payload: { type: 'RELEASE', note: 'restocked' } });
      expect(release.statusCode).toBe(202);
      // Settled by the host once the release is applied (not by the route that forwarded it).
      await eventually(async () => (await openFor()).length === 0, 'the hold notification settled');
      const acked = await app.inject({ method: 'GET', url: `/admin/api/notifications?status=acknowledged&orderId=${order.orderId}`, headers: BOB });
      expect(acked.json<{ items: unknown[] }>().items).toEqual([expect.objectContaining({ id: first?.id, acknowledgedBy: 'bob' })]);

      await eventually(async () => (await orderState(t.sql, order.orderId)) === 'processing', 'released');
      await publishOrderEvent(t.nc, t.names, order.orderId, 'SHIPMENT_REJECTED', rejected);
      const [again] = await eventually(async () => ((await openFor()).length === 1 ? openFor() : undefined), 'a new hold notification');
      expect(again?.id).not.toBe(first?.id);
    } finally {
      await orders.stop();
    }
  });

  it('answers bad input with a validation error, not a stack trace', async () => {
    const r = await app.inject({ method: 'POST', url: '/admin/api/notifications/ack', headers: BOB, payload: { ids: ['x'] } });
    expect(r.statusCode).toBe(422);
    expect(r.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
  });
});
