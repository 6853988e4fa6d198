import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { jetstreamManager } from '@nats-io/jetstream';
import { buildGateway } from '../../gateway/app.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { heldOrder as heldOrderOf } from '../support/orders.ts';
import { ALICE, GATEWAY_ENV } from './gateway-helpers.ts';

/**
 * Every admin event the gateway accepted reaches its order, whatever NATS lost
 * (gateway/admin-event-recheck.ts). NATS losing a stored work-queue message is made here by purging
 * it from the stream before the order host has seen it (a NATS cluster node SIGKILL on nats-server
 * 2.9 can do the same); the admin, answered 202, would see the order unchanged.
 */
let t: TestContext;
let app: FastifyInstance;
let orders: RunningService | null = null;

beforeAll(async () => {
  // Checked every second, for events answered a second ago or earlier.
  t = await createTestContext({ ...GATEWAY_ENV, INTAKE_RECHECK_MS: '1000' });
  orders = await startOrdersService(t);
  app = await buildGateway(t, { defaultMetrics: false });
});
afterAll(async () => {
  await app?.close();
  await orders?.stop();
  await t?.cleanup();
});

const heldOrder = async () => (await heldOrderOf(t, { provider: 'payu', message: 'no mugs' })).orderId;

/** The order applied the admin's CANCEL (it then waits for the warehouse's answer, which no service here gives). */
const cancelApplied = async (orderId: string) => (await t.sql`select 1 from order_history where order_id = ${orderId} and type = 'CANCEL' and outcome = 'applied'`).length === 1;

const cancel = (orderId: string, key?: string) =>
  app.inject({ method: 'POST', url: `/admin/api/orders/${orderId}/events`, headers: { ...ALICE, ...(key === undefined ? {} : { 'idempotency-key': key }) }, payload: { type: 'CANCEL', note: 'customer gave up' } });

describe('admin event recheck', () => {
  it('an admin event NATS lost is published again and applied once; one that arrived, keyed or not, is left alone', async () => {
    const [lost, kept, unkeyed] = [await heldOrder(), await heldOrder(), await heldOrder()];
    expect((await cancel(kept, `keep-${kept}`)).statusCode).toBe(202);
    expect((await cancel(unkeyed)).statusCode).toBe(202);
    for (const id of [kept, unkeyed]) await eventually(() => cancelApplied(id), `order ${id} cancelled`);

    // The host is away when the admin cancels; NATS loses the event (stored, answered 202, then gone).
    await orders?.stop();
    orders = null;
    const res = await cancel(lost, `lost-${lost}`);
    expect(res.statusCode).toBe(202);
    const jsm = await jetstreamManager(t.nc);
    expect((await jsm.streams.purge(t.names.streams.orderEvents, { filter: t.names.subjects.orderEvent(lost) })).purged).toBe(1);
    // A repeat of the request gets the recorded answer and sends nothing.
    expect((await cancel(lost, `lost-${lost}`)).body).toBe(res.body);
    orders = await startOrdersService(t);

    await eventually(() => cancelApplied(lost), 'the lost cancel published again and applied', 60_000, 100);
    const history = await t.sql<{ outcome: string; message_id: string; actor: string }[]>`select outcome, message_id, actor from order_history where order_id = ${lost} and type = 'CANCEL'`;
    expect(history).toEqual([{ outcome: 'applied', message_id: `admin:alice:lost-${lost}`, actor: 'alice' }]);
    const rows = () => t.sql<{ order_id: string; replays: number }[]>`select order_id, replays from admin_idempotency where order_id = any(${[lost, kept, unkeyed]}::text[]) order by order_id`;
    await eventually(async () => (await rows()).some((r) => r.replays > 0), 'the replay recorded');
    // Answered now: the next checks send nothing more; the others were never sent again.
    const later = Date.now();
    await eventually(async () => Date.now() - later > 2500, 'two more checks pass', 30_000, 250);
    expect(Object.fromEntries((await rows()).map((r) => [r.order_id, r.replays]))).toEqual({ [lost]: 1, [kept]: 0, [unkeyed]: 0 });
    expect(await t.sql`select 1 from order_history where order_id = ${lost} and type = 'CANCEL'`).toHaveLength(1);
  });

  it('an event still unanswered is sent 3 times, then left to an admin: no fourth send', async () => {
    const orderId = await heldOrder();
    // The host stays away: nothing answers the event, however often it is sent.
    await orders?.stop();
    orders = null;
    expect((await cancel(orderId, `away-${orderId}`)).statusCode).toBe(202);
    const jsm = await jetstreamManager(t.nc);
    const subject = t.names.subjects.orderEvent(orderId);
    expect((await jsm.streams.purge(t.names.streams.orderEvents, { filter: subject })).purged).toBe(1);
    const replays = async () => (await t.sql<{ replays: number }[]>`select replays from admin_idempotency where order_id = ${orderId}`)[0]?.replays;
    await eventually(async () => (await replays()) === 3, 'three sends', 60_000, 100);
    // Checks keep coming every second: none sends it a fourth time.
    const gaveUpAt = Date.now();
    await eventually(async () => Date.now() - gaveUpAt > 3500, 'three more checks pass', 30_000, 250);
    expect(await replays()).toBe(3);
    const stored = (await jsm.streams.info(t.names.streams.orderEvents, { subjects_filter: subject })).state.subjects ?? {};
    expect(stored[subject]).toBe(3);
    // Once the host is back, the copies waiting in the stream are one event to the order: applied once.
    orders = await startOrdersService(t);
    await eventually(() => cancelApplied(orderId), 'the cancel applied', 60_000, 100);
    await eventually(async () => (await jsm.streams.info(t.names.streams.orderEvents, { subjects_filter: subject })).state.subjects === undefined, 'the copies consumed', 60_000, 100);
    expect(await t.sql`select 1 from order_history where order_id = ${orderId} and type = 'CANCEL'`).toHaveLength(1);
  });
});
