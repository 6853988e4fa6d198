import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../gateway/app.ts';
import { startNotificationsService } from '../../services/notifications/main.ts';
import { publishCommand } from '../../infra/nats/publish.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import type { NotifyCommand } from '../../services/contracts/index.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';

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

  it('answers bad input with a validation error, not a stack trace', async () => {
    const r = await app.inject({ method: 'POST', url: '/admin/api/notifications/ack', headers: BOB, payload: { ids: ['x'] } });
    expect(r.statusCode).toBe(422);
    expect(r.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
  });
});
