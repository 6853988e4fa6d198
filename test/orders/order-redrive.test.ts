import { afterAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { createLogger } from '../../infra/logger.ts';
import { awaitedEffects, restoreOrderSnapshot } from '../../machines/order/index.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { startOrderRedrive } from '../../services/orders/order-redrive.ts';
import { startOutboxRelay } from '../../services/orders/outbox-relay.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { orderState, publishOrderEvent, sampleOrder } from '../support/orders.ts';
import { startSystemWorld, type SystemWorld } from '../support/system-world.ts';
import { SHOP, intakeBody, paidSession, stripeEvent } from '../gateway/gateway-helpers.ts';

/**
 * Nothing an order waits for is lost for good (services/orders/order-redrive.ts): NATS losing a
 * stored work-queue message is made here by purging it from its stream before its consumer saw it
 * (a NATS cluster node SIGKILLed on nats-server 2.9 can do the same).
 */
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** A fresh world with the orders service running; the service's own re-drive is off (ORDER_REDRIVE_MS=0). */
async function ordersWorld(): Promise<TestContext> {
  const t = await createTestContext({ ORDER_REDRIVE_MS: '0' });
  cleanups.push(() => t.cleanup());
  const svc = await startOrdersService(t);
  cleanups.push(() => svc.stop());
  return t;
}

/** A re-drive the test runs by hand (`check()`), for orders quiet longer than `afterMs`. */
function redriveByHand(t: TestContext, afterMs: number) {
  const redrive = startOrderRedrive({ sql: t.sql, nc: t.nc, names: t.names, logger: createLogger({ level: 'error', name: 'redrive' }), everyMs: 0, afterMs, paymentTimeoutMs: 60_000 });
  cleanups.push(() => redrive.stop());
  return redrive;
}

const streamCount = async (t: TestContext, stream: string, subject: string) => {
  const jsm = await jetstreamManager(t.nc);
  const info = await jsm.streams.info(stream, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
};

describe('order re-drive', () => {
  it('answers NATS lost (document issued, shipment accepted) are asked for again: one document, one shipment, the order goes on', async () => {
    const w: SystemWorld = await startSystemWorld({ env: { ORDER_REDRIVE_MS: '300', ORDER_REDRIVE_AFTER_MS: '1500' } });
    cleanups.push(() => w.stop());
    const placed = await w.http('POST', '/orders', intakeBody(), SHOP);
    expect(placed.status).toBe(202);
    const id: string = placed.body.orderId;
    // The document's create and the warehouse submit wait at their doors.
    w.invoicing.holdCreates(id);
    w.warehouse.setPlan(id, { paused: true, holdSubmits: true });
    await eventually(async () => (await orderState(w.t.sql, id)) === 'pending', 'order placed');
    w.stripe.addPayment(paidSession(id).payment_intent, 6500, 'pln');
    const ev = stripeEvent('checkout.session.completed', paidSession(id));
    expect((await w.http('POST', '/webhooks/payments/stripe', ev.payload, ev.headers)).status).toBe(200);
    await eventually(async () => w.invoicing.heldCreates(id) > 0 && w.warehouse.held(id).submits > 0, 'create and submit waiting');

    // The order host goes away; the services answer; NATS loses both answers.
    const host = w.services[0] as RunningService;
    await host.stop();
    w.invoicing.unholdCreates(id);
    w.invoicing.releaseCreate(id, 'ok');
    w.warehouse.setPlan(id, { paused: true });
    w.warehouse.answerSubmits(id);
    const subject = w.t.names.subjects.orderEvent(id);
    await eventually(async () => (await streamCount(w.t, w.t.names.streams.orderEvents, subject)) >= 2, 'both answers stored');
    const jsm = await jetstreamManager(w.t.nc);
    expect((await jsm.streams.purge(w.t.names.streams.orderEvents, { filter: subject })).purged).toBeGreaterThanOrEqual(2);

    // A new host: the order waits (processing, document requested) until the re-drive asks again.
    const [before] = await w.t.sql<{ snapshot: { value: never; context: unknown } }[]>`select snapshot from orders where id = ${id}`;
    expect(awaitedEffects(restoreOrderSnapshot(before!.snapshot)).map((e) => e.type).sort()).toEqual(['requestDocument', 'submitToWarehouse']);
    w.services[0] = await startOrdersService(w.t);
    await eventually(async () => {
      const [r] = await w.t.sql<{ document_state: string; fulfilment: string }[]>`select document_state, state_value->'processing'->>'fulfilment' as fulfilment from orders where id = ${id}`;
      return r?.document_state === 'emailed' && r.fulfilment === 'accepted' ? r : undefined;
    }, 'document issued and e-mailed, shipment accepted', 60_000, 100);

    // Exactly one document and one shipment, however often asked.
    expect(w.invoicing.invoices().filter((i) => i.oid === id)).toHaveLength(1);
    expect(w.warehouse.shipmentByReference(id)).toBeDefined();
    const history = await w.t.sql<{ type: string; outcome: string }[]>`select type, outcome from order_history where order_id = ${id} order by id`;
    const applied = history.filter((h) => h.outcome === 'applied').map((h) => h.type);
    expect(applied.filter((t) => t === 'DOCUMENT_ISSUED')).toHaveLength(1);
    expect(applied.filter((t) => t === 'SHIPMENT_ACCEPTED')).toHaveLength(1);
    expect(w.sink.mails).toHaveLength(1);
  });

  it('a payment timeout NATS lost is published again and cancels the unpaid order; a stalled order is given up on loudly', async () => {
    const t = await createTestContext({ PAYMENT_TIMEOUT_MS: '300', ORDER_REDRIVE_MS: '0' });
    cleanups.push(() => t.cleanup());
    const unpaid = sampleOrder();
    await publishOrderEvent(t.nc, t.names, unpaid.orderId, 'ORDER_PLACED', { order: unpaid });
    let svc = await startOrdersService(t);
    await eventually(async () => (await orderState(t.sql, unpaid.orderId)) === 'pending', 'pending');
    await svc.stop();
    // Only the relay runs: the timer fires, its message is sent, and NATS loses it.
    const relay = await startOutboxRelay({ sql: t.sql, nc: t.nc, logger: createLogger({ level: 'error', name: 'relay' }), pollMs: 50 });
    const timerId = `timer:payment-timeout:${unpaid.orderId}`;
    await eventually(async () => (await t.sql`select 1 from outbox where id like ${`${timerId}:%`} and sent_at is not null`).length === 1, 'timer fired and sent');
    await relay.stop();
    const jsm = await jetstreamManager(t.nc);
    const subject = t.names.subjects.orderEvent(unpaid.orderId);
    expect((await jsm.streams.purge(t.names.streams.orderEvents, { filter: subject })).purged).toBe(1);

    svc = await startOrdersService(t);
    cleanups.push(() => svc.stop());
    const logger = createLogger({ level: 'error', name: 'redrive' });
    const redrive = startOrderRedrive({ sql: t.sql, nc: t.nc, names: t.names, logger, everyMs: 0, afterMs: 1000, paymentTimeoutMs: 300, maxAttempts: 1 });
    cleanups.push(() => redrive.stop());
    // Too early: the order has not been quiet for `afterMs` yet, or its timer's sending is that recent.
    const first = await eventually(async () => {
      const r = await redrive.check();
      return r.length > 0 ? r : undefined;
    }, 'the lost timeout found', 30_000, 200);
    expect(first).toEqual([{ orderId: unpaid.orderId, sent: ['PAYMENT_TIMEOUT'], attempt: 1 }]);
    await eventually(async () => (await orderState(t.sql, unpaid.orderId)) === 'cancelled', 'cancelled by the timeout sent again');
    const h = await t.sql<{ outcome: string; actor: string }[]>`select outcome, actor from order_history where order_id = ${unpaid.orderId} and type = 'PAYMENT_TIMEOUT'`;
    expect(h).toEqual([{ outcome: 'applied', actor: 'system' }]);

    // A paid order whose document request nobody answers (no invoicing service here): asked again
    // once (maxAttempts 1), then given up on with a critical notification for an admin.
    const paid = sampleOrder();
    await publishOrderEvent(t.nc, t.names, paid.orderId, 'ORDER_PLACED', { order: paid });
    await publishOrderEvent(t.nc, t.names, paid.orderId, 'PAYMENT_CONFIRMED', { provider: 'payu', paymentId: 'p', amount: paid.total, currency: 'PLN' });
    await eventually(async () => (await orderState(t.sql, paid.orderId)) === 'processing', 'paid');
    const commands = t.names.subjects.command('issueDocument');
    const issueCount = async () => (await streamCount(t, t.names.streams.command('invoicing'), commands));
    const issuedBefore = await issueCount();
    const again = await eventually(async () => (await redrive.check()).find((r) => r.orderId === paid.orderId), 'the stalled order asked again', 30_000, 200);
    expect(again.sent.sort()).toEqual(['issue-document', 'submit-shipment']);
    expect(await issueCount()).toBe(issuedBefore + 1);
    // The next attempt would be the second: given up, an admin told (a `notify` command, critical).
    await eventually(async () => {
      await redrive.check();
      const notes = await streamCount(t, t.names.streams.command('notify'), t.names.subjects.command('notify'));
      return notes > 0;
    }, 'admin notified', 30_000, 300);
    expect(await issueCount()).toBe(issuedBefore + 1);
  });

  it('a paid order cancelled while NATS lost its document request is asked for its document again; the late document is kept and an admin told', async () => {
    const t = await ordersWorld();
    const order = sampleOrder();
    await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
    await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_CONFIRMED', { provider: 'payu', paymentId: 'p-cancelled', amount: order.total, currency: 'PLN' });
    // The document request is sent and NATS loses it (no invoicing service here takes it first).
    const invoicing = t.names.streams.command('invoicing');
    const issue = t.names.subjects.command('issueDocument');
    await eventually(async () => (await streamCount(t, invoicing, issue)) === 1, 'document requested');
    const jsm = await jetstreamManager(t.nc);
    expect((await jsm.streams.purge(invoicing, { filter: issue })).purged).toBe(1);
    // Cancelled before any document came (the chaos run's admin cancels a rejected order within
    // a tenth of a second of its hold): the document region is gone, its request still unanswered.
    await publishOrderEvent(t.nc, t.names, order.orderId, 'CANCEL', { note: 'out of stock' }, { actor: 'anna' });
    await publishOrderEvent(t.nc, t.names, order.orderId, 'SHIPMENT_CANCELLED', { existed: false }, { actor: 'logistics' });
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'cancelled', 'cancelled');

    const redrive = redriveByHand(t, 500);
    const again = await eventually(async () => (await redrive.check()).find((r) => r.orderId === order.orderId), 'the cancelled order asked again for its document', 30_000, 200);
    // Its refund too: no payments service here answers it.
    expect(again.sent.sort()).toEqual(['issue-document', 'refund-payment']);
    expect(await streamCount(t, invoicing, issue)).toBe(1);

    // The document comes: the cancelled order keeps it and tells an admin to correct it; asked no more.
    await publishOrderEvent(t.nc, t.names, order.orderId, 'DOCUMENT_ISSUED', { providerId: '77', number: 'FV/77/2026', issueDate: '2026-01-02', provider: 'fakturownia' }, { actor: 'invoicing' });
    await eventually(async () => {
      const [r] = await t.sql<{ document_state: string }[]>`select document_state from orders where id = ${order.orderId}`;
      return r?.document_state === 'issued';
    }, 'document kept on the cancelled order');
    const notes = await t.sql`select 1 from outbox where order_id = ${order.orderId} and envelope->'payload'->>'code' = 'DOCUMENT_AFTER_CANCEL'`;
    expect(notes).toHaveLength(1);
    await eventually(async () => (await t.sql`select 1 from orders where id = ${order.orderId} and updated_at < now() - interval '1 second'`).length === 1, 'the order quiet for longer than afterMs');
    expect((await redrive.check()).find((r) => r.orderId === order.orderId)?.sent).toEqual(['refund-payment']);
    expect(await streamCount(t, invoicing, issue)).toBe(1);
  });

  it('an event dead-lettered before its order existed is replayed once the order exists', async () => {
    const t = await ordersWorld();
    const order = sampleOrder();
    // The payment overtakes its ORDER_PLACED (passed over by NATS and put back later): no order yet.
    const paid = await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_CONFIRMED', { provider: 'payu', paymentId: 'p-early', amount: order.total, currency: 'PLN' });
    await eventually(async () => (await t.sql`select 1 from dead_letters where message_id = ${paid.id} and error_code = 'UNKNOWN_ORDER'`).length === 1, 'payment dead-lettered UNKNOWN_ORDER');
    const redrive = redriveByHand(t, 60_000);
    await redrive.check();
    expect(await t.sql`select 1 from dead_letters where replayed_at is not null`).toHaveLength(0);
    await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'pending', 'the order arrives');
    await redrive.check();
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'processing', 'the payment replayed and applied');
    const [d] = await t.sql<{ replayed_by: string }[]>`select replayed_by from dead_letters where message_id = ${paid.id}`;
    expect(d?.replayed_by).toBe('order re-drive');
    expect(await t.sql`select 1 from order_history where order_id = ${order.orderId} and type = 'PAYMENT_CONFIRMED' and outcome = 'applied'`).toHaveLength(1);
  });
});
