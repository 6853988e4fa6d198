import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../gateway/app.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { startNotificationsService } from '../../services/notifications/main.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { heldOrder as heldOrderOf, orderState, publishOrderEvent } from '../support/orders.ts';
import { ALICE, GATEWAY_ENV } from './gateway-helpers.ts';

let t: TestContext;
let app: FastifyInstance;
let orders: RunningService;
let notifications: RunningService;

beforeAll(async () => {
  t = await createTestContext(GATEWAY_ENV);
  orders = await startOrdersService(t);
  notifications = await startNotificationsService(t, { pollMs: 200 });
  app = await buildGateway(t, { defaultMetrics: false });
});
afterAll(async () => {
  await app?.close();
  await notifications?.stop();
  await orders?.stop();
  await t?.cleanup();
});

/** An order held by a warehouse rejection, with its open hold notification. */
async function heldOrder(): Promise<{ orderId: string; notificationId: string }> {
  const order = await heldOrderOf(t, { provider: 'payu', message: 'no mugs' });
  const [n] = await eventually(async () => {
    const rows = await openNotifications(order.orderId);
    return rows.length === 1 ? rows : undefined;
  }, 'hold notification', 60_000);
  return { orderId: order.orderId, notificationId: n!.id };
}

/** The order's open hold notifications (a dead letter raises one of its own kind). */
async function openNotifications(orderId: string): Promise<Array<{ id: string }>> {
  return t.sql<Array<{ id: string }>>`select id::text as id from notifications where order_id = ${orderId} and kind = 'order.held' and acknowledged_at is null`;
}

function send(orderId: string, body: Record<string, unknown>, key?: string) {
  return app.inject({ method: 'POST', url: `/admin/api/orders/${orderId}/events`, headers: { ...ALICE, ...(key === undefined ? {} : { 'idempotency-key': key }) }, payload: body });
}

/** Every event offered to the order (applied or ignored; a duplicate message id leaves no row). */
async function offered(orderId: string, type: string): Promise<number> {
  await drained(orderId);
  const [r] = await t.sql<Array<{ n: number }>>`select count(*)::int as n from order_history where order_id = ${orderId} and type = ${type}`;
  return r?.n ?? 0;
}

/** Waits until everything published to the order so far was handled: a marker event behind it in the same partition is in history. */
async function drained(orderId: string): Promise<void> {
  const id = `marker-${randomUUID()}`;
  await publishOrderEvent(t.nc, t.names, orderId, 'PAYMENT_TIMEOUT', {}, { id });
  await eventually(async () => (await t.sql`select 1 from order_history where message_id = ${id}`).length === 1, 'the marker event handled', 60_000);
}

async function applied(orderId: string, type: string): Promise<number> {
  const [r] = await t.sql<Array<{ n: number }>>`select count(*)::int as n from order_history where order_id = ${orderId} and type = ${type} and outcome = 'applied'`;
  return r?.n ?? 0;
}

describe('admin Idempotency-Key: scoped to (admin, order, event type, body), the original answer on repeat', () => {
  it('a repeat gets the original answer, even after the state moved on; one event', { timeout: 240_000 }, async () => {
    const { orderId } = await heldOrder();
    const first = await send(orderId, { type: 'RELEASE', note: 'restocked' }, 'release-1');
    expect(first.statusCode).toBe(202);
    await eventually(async () => (await orderState(t.sql, orderId)) !== 'held', 'released', 60_000);
    // RELEASE is no longer allowed now, but this is the same request: the same answer.
    const again = await send(orderId, { note: 'restocked', type: 'RELEASE' }, 'release-1');
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual(first.json());
    expect(await offered(orderId, 'RELEASE')).toBe(1);
    expect(await applied(orderId, 'RELEASE')).toBe(1);
    // Without the key, the machine is asked: not allowed now.
    expect((await send(orderId, { type: 'RELEASE', note: 'restocked' })).statusCode).toBe(409);
  });

  it('the same key with another order, event type or body → 422 IDEMPOTENCY_KEY_REUSED; nothing sent, nothing settled', { timeout: 240_000 }, async () => {
    const a = await heldOrder();
    const b = await heldOrder();
    expect((await send(a.orderId, { type: 'RELEASE', note: 'restocked' }, 'shared-key')).statusCode).toBe(202);
    for (const [orderId, body] of [
      [b.orderId, { type: 'RELEASE', note: 'restocked' }],
      [a.orderId, { type: 'CANCEL', note: 'restocked' }],
      [a.orderId, { type: 'RELEASE', note: 'something else' }],
    ] as const) {
      const r = await send(orderId, body, 'shared-key');
      expect(r.statusCode).toBe(422);
      expect(r.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(r.body).not.toMatch(/\n\s+at /);
    }
    await eventually(async () => (await applied(a.orderId, 'RELEASE')) === 1, 'a released', 60_000);
    expect(await offered(b.orderId, 'RELEASE')).toBe(0);
    expect(await offered(a.orderId, 'CANCEL')).toBe(0);
    expect(await orderState(t.sql, b.orderId)).toBe('held');
    expect(await openNotifications(b.orderId)).toEqual([{ id: b.notificationId }]);
    // Another admin's key space is their own.
    const bob = await app.inject({ method: 'POST', url: `/admin/api/orders/${b.orderId}/events`, headers: { authorization: 'Bearer bob-token-0123456789ab', 'idempotency-key': 'shared-key' }, payload: { type: 'RELEASE', note: 'restocked' } });
    expect(bob.statusCode).toBe(202);
    expect(bob.json().by).toBe('bob');
  });

  it('10 concurrent repeats → one event and the same answer; 10 concurrent refusals → the same 409', { timeout: 240_000 }, async () => {
    const { orderId } = await heldOrder();
    const answers = await Promise.all(Array.from({ length: 10 }, () => send(orderId, { type: 'RELEASE', note: 'all at once' }, 'burst-1')));
    expect(answers.map((r) => r.statusCode)).toEqual(Array(10).fill(202));
    expect(new Set(answers.map((r) => r.body)).size).toBe(1); // byte for byte
    await eventually(async () => (await applied(orderId, 'RELEASE')) === 1, 'released once', 60_000);
    expect(await offered(orderId, 'RELEASE')).toBe(1);

    const refusals = await Promise.all(Array.from({ length: 10 }, () => send(orderId, { type: 'MARK_SHIPPED', trackingNumber: 'TR-1' }, 'burst-2')));
    expect(refusals.map((r) => r.statusCode)).toEqual(Array(10).fill(409));
    expect(new Set(refusals.map((r) => r.body)).size).toBe(1);
    expect(refusals[0]?.json().error.code).toBe('EVENT_NOT_ALLOWED');
  });

  it('a notification is settled only by an event actually applied', { timeout: 240_000 }, async () => {
    const { orderId, notificationId } = await heldOrder();
    // An admin event that is never applied (its payload is invalid: dead-lettered) settles nothing.
    await publishOrderEvent(t.nc, t.names, orderId, 'RELEASE', {}, { actor: 'alice' });
    await eventually(async () => (await t.sql`select 1 from dead_letters where order_id = ${orderId}`).length === 1, 'dead letter', 60_000);
    expect(await openNotifications(orderId)).toEqual([{ id: notificationId }]);
    // The route answers 202 once it forwarded the event; the notification is settled when it is applied, by its admin.
    expect((await send(orderId, { type: 'RELEASE', note: 'restocked' }, 'settle-1')).statusCode).toBe(202);
    await eventually(async () => (await openNotifications(orderId)).length === 0, 'settled', 60_000);
    const [n] = await t.sql`select acknowledged_by from notifications where id = ${notificationId}`;
    expect(n).toEqual({ acknowledged_by: 'alice' });
  });

  it('a malformed key or a body the event cannot carry → 422, and the key is not spent', { timeout: 240_000 }, async () => {
    const { orderId } = await heldOrder();
    for (const key of ['', 'x'.repeat(101), 'has space', 'ünïcode']) {
      const r = await send(orderId, { type: 'RELEASE', note: 'n' }, key);
      expect(r.statusCode, JSON.stringify(key)).toBe(422);
      expect(r.json().error.code).toBe('VALIDATION_FAILED');
    }
    const noNote = await send(orderId, { type: 'RELEASE' }, 'fixable-1');
    expect(noNote.statusCode).toBe(422);
    expect((await send(orderId, { type: 'RELEASE', note: 'now with a note' }, 'fixable-1')).statusCode).toBe(202);
  });

  it('keys past ADMIN_IDEMPOTENCY_RETENTION are deleted, answered or a claim that died; a recent one stays; an expired key is free again', { timeout: 240_000 }, async () => {
    const { orderId } = await heldOrder();
    expect((await send(orderId, { type: 'RELEASE', note: 'restocked' }, 'aged-1')).statusCode).toBe(202);
    await eventually(async () => (await applied(orderId, 'RELEASE')) === 1, 'released', 60_000);
    await t.sql`update admin_idempotency set created_at = now() - interval '8 days', answered_at = now() - interval '8 days' where admin = 'alice' and key = 'aged-1'`;
    // A claim whose request died before answering, never repeated; and a key answered just now.
    await t.sql`insert into admin_idempotency (admin, key, order_id, event_type, scope_hash, message_id, created_at)
      values ('alice', 'died-1', ${orderId}, 'CANCEL', 'x', 'admin:alice:died-1', now() - interval '9 days')`;
    await t.sql`insert into admin_idempotency (admin, key, order_id, event_type, scope_hash, message_id, status, response, answered_at)
      values ('alice', 'recent-1', ${orderId}, 'CANCEL', 'x', 'admin:alice:recent-1', 202, '{}', now())`;
    const keys = async () => (await t.sql<Array<{ key: string }>>`select key from admin_idempotency where key in ('aged-1', 'died-1', 'recent-1') order by key`).map((r) => r.key);
    expect(await keys()).toEqual(['aged-1', 'died-1', 'recent-1']);
    // A gateway starting up (and then hourly) applies the retention (default 7 days).
    const other = await buildGateway(t, { defaultMetrics: false });
    try {
      await eventually(async () => (await keys()).length === 1, 'expired keys deleted', 30_000);
      expect(await keys()).toEqual(['recent-1']);
    } finally {
      await other.close();
    }
    // The expired key with another body is a new request (not IDEMPOTENCY_KEY_REUSED): the machine answers.
    const reused = await send(orderId, { type: 'RELEASE', note: 'another body' }, 'aged-1');
    expect(reused.statusCode).toBe(409);
    expect(reused.json().error.code).toBe('EVENT_NOT_ALLOWED');
  });
});
