import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { jetstreamManager } from '@nats-io/jetstream';
import { buildGateway } from '../../gateway/app.ts';
import { startWebhookRecheck } from '../../gateway/webhook-recheck.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { orderState } from '../support/orders.ts';
import { startSystemWorld } from '../support/system-world.ts';
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
  it('looks at a webhook once its events are published, however late its publish mark comes after its arrival', async () => {
    // A database of its own: the gateway above runs its own recheck every second.
    const own = await createTestContext();
    const replayed: string[] = [];
    const recheck = startWebhookRecheck({ sql: own.sql, logger: own.logger, everyMs: 0, graceMs: 300, replay: async (id) => void replayed.push(id) });
    try {
      const orderId = `ord_late_mark_${Date.now()}`;
      // Received 30 s ago; its publish mark (a deferred write) not written yet.
      const [row] = await own.sql<{ id: string }[]>`
        insert into webhook_inbox (provider, dedupe_key, signature, verdict, order_id, headers, body, message_ids, received_at)
        values ('stripe', ${`stripe:evt_late_${orderId}`}, 'valid', 'accepted', ${orderId}, '{}'::jsonb, ${Buffer.from('{}')}, ${[`payment:${orderId}`]}, now() - interval '30 seconds')
        returning id::text`;
      expect(await recheck.check()).toEqual([]);
      // Marked now: a check within the grace leaves it; the next ones find it unanswered and replay it.
      await own.sql`update webhook_inbox set published_at = now() where id = ${row!.id}`;
      expect(await recheck.check()).toEqual([]);
      await eventually(async () => (await recheck.check()).includes(row!.id), 'the late-marked webhook replayed', 30_000, 100);
      expect(replayed).toEqual([row!.id]);
    } finally {
      await recheck.stop();
      await own.cleanup();
    }
  });

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
    const history = await t.sql<{ type: string; outcome: string; message_id: string }[]>`select type, outcome, message_id from order_history where order_id = ${lost} order by id`;
    const [webhook] = await t.sql<{ dedupe_key: string }[]>`select dedupe_key from webhook_inbox where order_id = ${lost}`;
    // Redelivered under its own id: had the first arrived after all, the order's inbox would drop it.
    expect(history.map((h) => [h.type, h.outcome, h.message_id])).toEqual([
      ['ORDER_PLACED', 'created', `order-placed:${lost}`],
      ['PAYMENT_CONFIRMED', 'applied', webhook?.dedupe_key],
    ]);
    // The replay is recorded once its messages are published, so the order may have moved a moment before.
    const replayRows = () => t.sql<{ order_id: string; replay_count: number; replayed_by: string | null }[]>`select order_id, replay_count, replayed_by from webhook_inbox where provider = 'stripe' order by id`;
    await eventually(async () => (await replayRows()).some((r) => r.replay_count > 0), 'the replay recorded');
    expect(await replayRows()).toEqual([
      { order_id: kept, replay_count: 0, replayed_by: null },
      { order_id: lost, replay_count: 1, replayed_by: 'webhook recheck' },
    ]);
    // Answered now: the next checks replay nothing more.
    const later = Date.now();
    await eventually(async () => Date.now() - later > 2500 && (await t.sql`select 1 from webhook_inbox where replay_count > 1`).length === 0, 'two more checks pass', 30_000, 250);
    expect(await t.sql`select 1 from order_history where order_id = ${lost} and type = 'PAYMENT_CONFIRMED'`).toHaveLength(1);
  });

  it('a warehouse status whose order event NATS lost is redelivered to the order under its own id and moves it once', async () => {
    const w = await startSystemWorld({ env: { INTAKE_RECHECK_MS: '1000' } });
    try {
      const placed = await w.http('POST', '/orders', intakeBody(), SHOP);
      const id: string = placed.body.orderId;
      w.warehouse.setPlan(id, { paused: true });
      await eventually(async () => (await orderState(w.t.sql, id)) === 'pending', 'placed');
      w.stripe.addPayment(paidSession(id).payment_intent, 6500, 'pln');
      const ev = stripeEvent('checkout.session.completed', paidSession(id));
      expect((await w.http('POST', '/webhooks/payments/stripe', ev.payload, ev.headers)).status).toBe(200);
      await eventually(async () => {
        const [r] = await w.t.sql<{ f: string; d: string }[]>`select state_value->'processing'->>'fulfilment' as f, document_state as d from orders where id = ${id}`;
        return r?.f === 'accepted' && r.d === 'emailed';
      }, 'shipment accepted, document e-mailed (nothing else on its way)');

      // The order host is away when the carrier takes the parcel; NATS loses the status's order event.
      const host = w.services[0] as RunningService;
      await host.stop();
      const shipment = w.warehouse.shipmentByReference(id);
      const sent = await w.warehouse.sendWebhook({ eventId: `evt_recheck_${id.slice(-12)}`, shipmentId: shipment?.shipmentId ?? '', reference: id, status: 'HANDED_TO_CARRIER', occurredAt: new Date().toISOString(), trackingNumber: 'TRK-RECHECK-1', carrier: 'DPD' });
      expect(sent.delivered).toBe(true);
      const jsm = await jetstreamManager(w.t.nc);
      const subject = w.t.names.subjects.orderEvent(id);
      await eventually(async () => ((await jsm.streams.info(w.t.names.streams.orderEvents, { subjects_filter: subject })).state.subjects?.[subject] ?? 0) > 0, 'the status event stored');
      expect((await jsm.streams.purge(w.t.names.streams.orderEvents, { filter: subject })).purged).toBe(1);
      w.services[0] = await startOrdersService(w.t);

      await eventually(async () => (await orderState(w.t.sql, id)) === 'inShipment', 'the lost status replayed and applied', 60_000, 100);
      const rows = await w.t.sql<{ outcome: string; message_id: string }[]>`select outcome, message_id from order_history where order_id = ${id} and type = 'HANDED_TO_CARRIER'`;
      expect(rows).toEqual([{ outcome: 'applied', message_id: `warehouse:evt_recheck_${id.slice(-12)}` }]);
      // The replay is recorded once its message is published, so the order may have moved a moment before.
      const inbox = async () =>
        (await w.t.sql<{ replay_count: number; replayed_by: string }[]>`select replay_count, replayed_by from webhook_inbox where provider = 'warehouse' and dedupe_key = ${`warehouse:evt_recheck_${id.slice(-12)}`}`)[0];
      await eventually(async () => ((await inbox())?.replay_count ?? 0) > 0, 'the redelivery recorded');
      expect(await inbox()).toEqual({ replay_count: 1, replayed_by: 'webhook recheck' });
    } finally {
      await w.stop();
    }
  });
});
