import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWarehouseBody, WAREHOUSE_REJECTION_CODES } from '../../services/contracts/index.ts';
import { unmatchedWarehouseMessages, warehouseLog, warehouseTimeline } from '../../services/logistics/index.ts';
import type { WarehouseFaultPlan } from '../../infra/sandbox/warehouse-sandbox.ts';
import { eventually } from '../support/context.ts';
import { orderState, publishOrderEvent, sampleOrder } from '../support/orders.ts';
import { startLogisticsService } from '../../services/logistics/main.ts';
import { history, notices, placePaidOrder, startLogisticsWorld, waitForState, WEBHOOK_SECRET, type LogisticsWorld } from './world.ts';

let w: LogisticsWorld;
const plans = new Map<string, WarehouseFaultPlan>();

beforeAll(async () => {
  w = await startLogisticsWorld({ sandbox: { plan: (ref) => plans.get(ref) } });
});
afterAll(async () => {
  await w?.stop();
});

async function snapshotContext(orderId: string): Promise<Record<string, unknown>> {
  const [row] = await w.t.sql<{ snapshot: { context: Record<string, unknown> } }[]>`select snapshot from orders where id = ${orderId}`;
  return row?.snapshot.context ?? {};
}

/** A paid order whose shipment the warehouse accepted and then holds still (no more statuses sent). */
async function acceptedOrder(): Promise<{ order: ReturnType<typeof sampleOrder>; shipmentId: string }> {
  const order = sampleOrder();
  plans.set(order.orderId, { stopAfter: 'ACCEPTED' });
  await placePaidOrder(w.t, order);
  await eventually(async () => (await history(w.t, order.orderId)).some((e) => e.type === 'SHIPMENT_ACCEPTED'), 'accepted');
  return { order, shipmentId: w.sandbox.shipmentByReference(order.orderId)?.shipmentId ?? '' };
}

async function holdCode(orderId: string): Promise<string | null> {
  const [row] = await w.t.sql<{ hold_code: string | null }[]>`select hold_code from orders where id = ${orderId}`;
  return row?.hold_code ?? null;
}

describe('logistics service (real sandbox warehouse, gateway, Postgres, NATS)', () => {
  it('happy path: submitted, accepted, handed to carrier, delivered → closed; everything logged, timeline filtered', async () => {
    const order = sampleOrder();
    await placePaidOrder(w.t, order);
    await waitForState(w.t, order.orderId, 'closed');

    const shipment = w.sandbox.shipmentByReference(order.orderId);
    expect(shipment).toBeDefined();
    expect(shipment?.request.items).toEqual([{ sku: 'SKU-1', quantity: 2 }]);
    const ctx = await snapshotContext(order.orderId);
    expect(ctx).toMatchObject({ shipmentId: shipment?.shipmentId, trackingNumber: shipment?.trackingNumber, carrier: shipment?.carrier });

    const h = await history(w.t, order.orderId);
    expect(h.filter((e) => e.outcome === 'applied').map((e) => e.type)).toEqual(['PAYMENT_CONFIRMED', 'SHIPMENT_ACCEPTED', 'HANDED_TO_CARRIER', 'DELIVERED']);

    await w.sandbox.idle();
    const log = await eventually(async () => {
      const l = await warehouseLog(w.t.sql, order.orderId);
      return l.filter((e) => e.kind === 'webhook').length === 6 ? l : undefined;
    }, 'six webhooks logged');
    expect(log.filter((e) => e.kind !== 'webhook').map((e) => [e.direction, e.kind, e.httpStatus])).toEqual([
      ['out', 'submit-request', null],
      ['in', 'submit-response', 201],
    ]);
    // Raw bodies: the request as sent (API key never stored), the webhook bytes as received.
    expect(JSON.parse(log[0]?.raw ?? '{}')).toMatchObject({ reference: order.orderId });
    expect(log[0]?.headers).toMatchObject({ authorization: 'Bearer ***', 'idempotency-key': order.orderId });
    const webhooks = log.filter((e) => e.kind === 'webhook');
    expect(webhooks.map((e) => e.status)).toEqual(['ACCEPTED', 'PICKING', 'PACKED', 'HANDED_TO_CARRIER', 'IN_TRANSIT', 'DELIVERED']);
    const sent = w.sandbox.webhooks.filter((s) => s.reference === order.orderId);
    expect(webhooks.map((e) => e.raw).sort()).toEqual(sent.map((s) => s.body).sort());

    const timeline = await warehouseTimeline(w.t.sql, order.orderId);
    expect(timeline.map((e) => e.status)).toEqual(['HANDED_TO_CARRIER', 'DELIVERED']);
    expect(timeline[0]?.summary).toContain(shipment?.trackingNumber ?? 'x');
  });

  it('each rejection code holds the order with that reason and one admin notification', async () => {
    const orders = WAREHOUSE_REJECTION_CODES.map((code) => {
      const o = sampleOrder();
      plans.set(o.orderId, { reject: code });
      return { o, code };
    });
    await Promise.all(orders.map(({ o }) => placePaidOrder(w.t, o)));
    for (const { o, code } of orders) {
      await waitForState(w.t, o.orderId, 'held');
      expect(await holdCode(o.orderId)).toBe(code);
      const ctx = await snapshotContext(o.orderId);
      expect((ctx['hold'] as { message: string }).message.length).toBeGreaterThan(0);
      expect(w.sandbox.shipmentByReference(o.orderId)).toBeUndefined();
      const timeline = await warehouseTimeline(w.t.sql, o.orderId);
      expect(timeline.map((e) => [e.kind, e.errorCode])).toEqual([['rejected', code]]);
    }
    const all = await eventually(async () => {
      const n = await notices(w.t);
      return orders.every(({ o }) => n.some((x) => x.orderId === o.orderId)) ? n : undefined;
    }, 'notifications');
    for (const { o, code } of orders) {
      const mine = all.filter((x) => x.orderId === o.orderId);
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ kind: 'order.held', code });
    }
  });

  it('a lost submit response makes one shipment at the warehouse (look-up on retry)', async () => {
    const order = sampleOrder();
    plans.set(order.orderId, { lostResponses: 1 });
    await placePaidOrder(w.t, order);
    await waitForState(w.t, order.orderId, 'closed');
    expect(w.sandbox.created.get(order.orderId)).toBe(1);
    expect(w.sandbox.submits.get(order.orderId)).toBe(1);
    const log = await warehouseLog(w.t.sql, order.orderId);
    expect(log.filter((e) => e.kind.startsWith('submit') || e.kind.startsWith('lookup')).map((e) => [e.kind, e.status])).toEqual([
      ['submit-request', 'POST /shipments'],
      ['submit-response', 'NO_RESPONSE'],
      ['lookup-request', `GET /shipments?reference=${order.orderId}`],
      ['lookup-response', '200'],
    ]);
  });

  it('a timeout is retried; the second submit creates the one shipment', async () => {
    const order = sampleOrder();
    plans.set(order.orderId, { timeouts: 1 });
    await placePaidOrder(w.t, order);
    await waitForState(w.t, order.orderId, 'closed');
    expect(w.sandbox.created.get(order.orderId)).toBe(1);
    expect(w.sandbox.submits.get(order.orderId)).toBe(2);
  });

  it('an unreachable warehouse: retries up to the limit, then held WAREHOUSE_UNREACHABLE', async () => {
    const order = sampleOrder();
    plans.set(order.orderId, { serverErrors: 1000, lookupErrors: 1000 });
    await placePaidOrder(w.t, order);
    await waitForState(w.t, order.orderId, 'held');
    expect(await holdCode(order.orderId)).toBe('WAREHOUSE_UNREACHABLE');
    const log = await warehouseLog(w.t.sql, order.orderId);
    // LOGISTICS_MAX_ATTEMPTS=4: one submit, then three look-ups (each a retry) — all answered 503.
    expect(log.filter((e) => e.direction === 'out').map((e) => e.kind)).toEqual(['submit-request', 'lookup-request', 'lookup-request', 'lookup-request']);
    expect((await warehouseTimeline(w.t.sql, order.orderId)).map((e) => e.errorCode)).toEqual(['WAREHOUSE_UNREACHABLE']);
  });

  it('duplicate and reordered webhooks: the order closes once, history shows both, tracking kept', async () => {
    const order = sampleOrder();
    plans.set(order.orderId, { duplicateWebhooks: true, reorderWebhooks: true });
    await placePaidOrder(w.t, order);
    await waitForState(w.t, order.orderId, 'closed');
    await w.sandbox.idle();
    const sent = w.sandbox.webhooks.filter((s) => s.reference === order.orderId);
    expect(sent).toHaveLength(12);
    expect(sent.map((s) => s.status).indexOf('DELIVERED')).toBeLessThan(sent.map((s) => s.status).indexOf('HANDED_TO_CARRIER'));
    const h = await eventually(async () => {
      const rows = await history(w.t, order.orderId);
      return rows.some((e) => e.type === 'HANDED_TO_CARRIER') ? rows : undefined;
    }, 'late hand-off in history');
    expect(h.filter((e) => e.type === 'DELIVERED')).toHaveLength(1);
    expect(h.filter((e) => e.type === 'HANDED_TO_CARRIER')).toHaveLength(1);
    expect(h.find((e) => e.type === 'DELIVERED')?.to_state).toBe('closed');
    expect(await snapshotContext(order.orderId)).toMatchObject({ trackingNumber: w.sandbox.shipmentByReference(order.orderId)?.trackingNumber });
    const log = await warehouseLog(w.t.sql, order.orderId);
    expect(log.filter((e) => e.kind === 'webhook')).toHaveLength(6);
    const inbox = await w.t.sql`select verdict from webhook_inbox where external_ref = ${order.orderId}`;
    expect(inbox).toHaveLength(6);
  });

  it('a webhook repeated by hand is answered 200 and changes nothing', async () => {
    const order = sampleOrder();
    plans.set(order.orderId, { stopAfter: 'PACKED' });
    await placePaidOrder(w.t, order);
    await waitForState(w.t, order.orderId, 'processing');
    await eventually(async () => w.sandbox.shipmentByReference(order.orderId), 'shipment');
    const s = w.sandbox.shipmentByReference(order.orderId);
    const body = { eventId: `manual_${order.orderId}`, shipmentId: s?.shipmentId ?? '', reference: order.orderId, status: 'LOST', reason: 'van on fire', occurredAt: new Date().toISOString() };
    const first = await w.sandbox.sendWebhook(body);
    const second = await w.sandbox.sendWebhook(body);
    expect([first.httpStatus, second.httpStatus]).toEqual([200, 200]);
    await waitForState(w.t, order.orderId, 'held');
    expect(await holdCode(order.orderId)).toBe('LOST');
    await w.sandbox.idle();
    const problems = (await history(w.t, order.orderId)).filter((e) => e.type === 'SHIPMENT_PROBLEM');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.payload).toEqual({ code: 'LOST', message: 'van on fire' });
    const timeline = await warehouseTimeline(w.t.sql, order.orderId);
    expect(timeline.map((e) => e.status)).toEqual(['LOST']);
  });

  it('statuses of our shipments are handled where they arrive: logged and applied while the logistics service is stopped', async () => {
    const { order, shipmentId } = await acceptedOrder();
    const running = w.logistics.splice(0, w.logistics.length);
    await Promise.all(running.map((r) => r.stop()));
    try {
      const at = new Date().toISOString();
      const send = (status: string, extra: Record<string, string> = {}) =>
        w.sandbox.sendWebhook({ eventId: `arrive_${status}_${order.orderId}`, shipmentId, reference: order.orderId, status, occurredAt: at, ...extra });
      const answers = [await send('PICKING'), await send('HANDED_TO_CARRIER', { trackingNumber: 'TRK-ARRIVE', carrier: 'DPD' }), await send('DELIVERED')];
      expect(answers.map((a) => a.httpStatus)).toEqual([200, 200, 200]);
      await waitForState(w.t, order.orderId, 'closed');
      const log = await warehouseLog(w.t.sql, order.orderId);
      const arrived = log.filter((e) => e.kind === 'webhook' && e.eventId?.startsWith('arrive_'));
      expect(arrived.map((e) => [e.status, e.orderEvent, e.matched])).toEqual([
        ['PICKING', null, true],
        ['HANDED_TO_CARRIER', 'HANDED_TO_CARRIER', true],
        ['DELIVERED', 'DELIVERED', true],
      ]);
      const timeline = await warehouseTimeline(w.t.sql, order.orderId);
      expect(timeline.map((e) => e.status)).toEqual(['HANDED_TO_CARRIER', 'DELIVERED']);
      expect(timeline[0]?.summary).toContain('TRK-ARRIVE');
      // Every row's work is done: a provider retry has nothing left to finish.
      const inbox = await eventually(async () => {
        const rows = await w.t.sql<{ published_at: Date | null; message_ids: string[]; by_insert: boolean }[]>`
          select published_at, message_ids, published_at = received_at as by_insert from webhook_inbox
           where dedupe_key like ${`warehouse:arrive_%_${order.orderId}`} order by id`;
        return rows.length === 3 && rows.every((r) => r.published_at !== null) ? rows : undefined;
      }, 'rows marked done');
      expect(inbox.map((r) => r.message_ids.length)).toEqual([0, 1, 1]);
      // A status only logged is done by its insert (same transaction: the same now()); the others are
      // marked once their order event is published.
      expect(inbox.map((r) => r.by_insert)).toEqual([true, false, false]);
    } finally {
      w.logistics.push(await startLogisticsService(w.t));
    }
  });

  it('a status only logged whose key the log already holds goes the long way and is marked with its message, not by its insert', async () => {
    const { order, shipmentId } = await acceptedOrder();
    const eventId = `prelogged_${order.orderId}`;
    // A log row under the webhook's key before its inbox row: the insert's own log row is skipped.
    await w.t.sql`insert into warehouse_log (order_id, reference, direction, kind, status, event_id, dedupe_key, matched, raw)
      values (${order.orderId}, ${order.orderId}, 'in', 'webhook', 'PICKING', ${eventId}, ${`warehouse:${eventId}`}, true, '{}')`;
    const answer = await w.sandbox.sendWebhook({ eventId, shipmentId, reference: order.orderId, status: 'PICKING', occurredAt: new Date().toISOString() });
    expect(answer.httpStatus).toBe(200);
    const [row] = await eventually(async () => {
      const rows = await w.t.sql<{ message_ids: string[]; by_insert: boolean }[]>`
        select message_ids, published_at = received_at as by_insert from webhook_inbox where dedupe_key = ${`warehouse:${eventId}`} and published_at is not null`;
      return rows.length === 1 ? rows : undefined;
    }, 'row marked done');
    expect(row?.by_insert).toBe(false);
    expect(row?.message_ids).toHaveLength(1);
  });

  it('a status for an unknown reference is logged as unmatched and an admin is told', async () => {
    const eventId = `evt_unknown_${Date.now()}`;
    const sent = await w.sandbox.sendWebhook({ eventId, shipmentId: 'shp_nobody', reference: 'ord_not_ours', status: 'DELIVERED', occurredAt: new Date().toISOString() });
    expect(sent.httpStatus).toBe(200);
    const row = await eventually(async () => (await unmatchedWarehouseMessages(w.t.sql)).find((e) => e.reference === 'ord_not_ours'), 'unmatched logged');
    expect(row).toMatchObject({ status: 'DELIVERED', orderId: null });
    const n = await eventually(async () => (await notices(w.t)).find((x) => x.code === 'WAREHOUSE_UNMATCHED'), 'admin told');
    expect(n.message).toContain('ord_not_ours');
    expect(await w.t.sql`select 1 from orders where id = 'ord_not_ours'`).toHaveLength(0);
  });

  it('a bad signature is answered 400 and stored with its verdict; nothing reaches logistics', async () => {
    const body = { eventId: 'evt_forged', shipmentId: 'x', reference: 'ord_forged', status: 'DELIVERED', occurredAt: new Date().toISOString() };
    const sent = await w.sandbox.sendWebhook(body, { signature: signWarehouseBody('wrong-secret', JSON.stringify(body)) });
    expect(sent.httpStatus).toBe(400);
    const [row] = await w.t.sql<{ verdict: string; signature: string }[]>`select verdict, signature from webhook_inbox where provider = 'warehouse' and body = ${Buffer.from(JSON.stringify(body))}`;
    expect(row).toEqual({ verdict: 'invalid', signature: 'invalid' });
    const res = await fetch(`${w.gatewayUrl}/webhooks/warehouse`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'SIGNATURE_INVALID' } });
    // A signed body that is no status webhook: stored, handed on, an admin is told, 422 to the sender.
    const junk = JSON.stringify({ hello: 'world' });
    const bad = await fetch(`${w.gatewayUrl}/webhooks/warehouse`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-warehouse-signature': signWarehouseBody(WEBHOOK_SECRET, junk) }, body: junk });
    expect(bad.status).toBe(422);
    await eventually(async () => (await notices(w.t)).find((x) => x.kind === 'warehouse.invalid-webhook'), 'admin told about the unreadable webhook');
    await new Promise((r) => setTimeout(r, 200));
    expect(await w.t.sql`select 1 from warehouse_log where reference = 'ord_forged'`).toHaveLength(0);
  });

  it('release from hold resubmits → accepted → closed; the admin note is kept', async () => {
    const order = sampleOrder();
    plans.set(order.orderId, { reject: 'OUT_OF_STOCK', rejectTimes: 1 });
    await placePaidOrder(w.t, order);
    await waitForState(w.t, order.orderId, 'held');
    expect(await holdCode(order.orderId)).toBe('OUT_OF_STOCK');
    await publishOrderEvent(w.t.nc, w.t.names, order.orderId, 'RELEASE', { note: 'restocked, ship it' }, { actor: 'alice' });
    await waitForState(w.t, order.orderId, 'closed');
    const h = await history(w.t, order.orderId);
    const release = h.find((e) => e.type === 'RELEASE');
    expect(release).toMatchObject({ outcome: 'applied', actor: 'alice', note: 'restocked, ship it' });
    expect(h.filter((e) => e.outcome === 'applied').map((e) => e.type)).toEqual([
      'PAYMENT_CONFIRMED',
      'SHIPMENT_REJECTED',
      'RELEASE',
      'SHIPMENT_ACCEPTED',
      'HANDED_TO_CARRIER',
      'DELIVERED',
    ]);
    expect(await snapshotContext(order.orderId)).toMatchObject({ lastAdminNote: { note: 'restocked, ship it', by: 'alice' }, hold: null });
    expect(w.sandbox.created.get(order.orderId)).toBe(1);
    expect(w.sandbox.submits.get(order.orderId)).toBe(2);
  });

  it('MARK_SHIPPED moves a held order on by hand with a tracking number', async () => {
    const order = sampleOrder();
    plans.set(order.orderId, { reject: 'ADDRESS_INVALID' });
    await placePaidOrder(w.t, order);
    await waitForState(w.t, order.orderId, 'held');
    await publishOrderEvent(w.t.nc, w.t.names, order.orderId, 'MARK_SHIPPED', { trackingNumber: 'HAND-123', carrier: 'Poczta', note: 'sent from the shop' }, { actor: 'alice' });
    await waitForState(w.t, order.orderId, 'inShipment');
    expect(await snapshotContext(order.orderId)).toMatchObject({ trackingNumber: 'HAND-123', carrier: 'Poczta', hold: null, lastAdminNote: { note: 'sent from the shop', by: 'alice' } });
    expect(w.sandbox.created.get(order.orderId)).toBeUndefined();
  });

  it('release when the warehouse already has the shipment re-reads its state and catches up', async () => {
    const order = sampleOrder();
    // The submit creates the shipment but its answer is lost, and every look-up fails: held UNREACHABLE.
    plans.set(order.orderId, { lostResponses: 1, lookupErrors: 1000, paused: true });
    await placePaidOrder(w.t, order);
    await waitForState(w.t, order.orderId, 'held');
    expect(await holdCode(order.orderId)).toBe('WAREHOUSE_UNREACHABLE');
    // Meanwhile the warehouse ships and delivers it; the held order ignores those statuses.
    w.sandbox.setPlan(order.orderId, {});
    w.sandbox.resume(order.orderId);
    await w.sandbox.idle();
    await eventually(async () => (await warehouseLog(w.t.sql, order.orderId)).filter((e) => e.kind === 'webhook').length === 6, 'webhooks logged');
    await eventually(async () => (await history(w.t, order.orderId)).some((e) => e.type === 'DELIVERED'), 'delivered offered');
    expect(await orderState(w.t.sql, order.orderId)).toBe('held');

    await publishOrderEvent(w.t.nc, w.t.names, order.orderId, 'RELEASE', { note: 'warehouse is back' }, { actor: 'bob' });
    await waitForState(w.t, order.orderId, 'closed');
    expect(w.sandbox.created.get(order.orderId)).toBe(1);
    const s = w.sandbox.shipmentByReference(order.orderId);
    expect(await snapshotContext(order.orderId)).toMatchObject({ shipmentId: s?.shipmentId, trackingNumber: s?.trackingNumber, lastAdminNote: { note: 'warehouse is back', by: 'bob' } });
    const timeline = await warehouseTimeline(w.t.sql, order.orderId);
    expect(timeline.map((e) => e.kind)).toEqual(['rejected', 'webhook', 'webhook', 're-read']);
    expect(timeline.at(-1)?.summary).toContain('DELIVERED');
  });

  it('stop() finishes the submit in flight: reported and acked, not submitted again', async () => {
    const order = sampleOrder();
    plans.set(order.orderId, { delayMs: 250, stopAfter: 'ACCEPTED' }); // below WAREHOUSE_TIMEOUT_MS (400)
    await placePaidOrder(w.t, order);
    await eventually(async () => w.sandbox.submits.get(order.orderId) === 1, 'submit in flight');
    const running = w.logistics.splice(0, w.logistics.length);
    await Promise.all(running.map((s) => s.stop()));
    // Stopped: the in-flight submit finished and reported before stop() resolved.
    await eventually(async () => (await history(w.t, order.orderId)).some((e) => e.type === 'SHIPMENT_ACCEPTED'), 'accepted reported');
    w.logistics.push(await startLogisticsService(w.t));
    await new Promise((r) => setTimeout(r, 500));
    expect(w.sandbox.submits.get(order.orderId)).toBe(1);
    expect(w.sandbox.created.get(order.orderId)).toBe(1);
    expect(await w.t.sql`select 1 from dead_letters`).toHaveLength(0);
  });
});
