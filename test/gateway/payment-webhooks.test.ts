import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../gateway/app.ts';
import { createOrderHost, type OrderHost } from '../../services/orders/order-host.ts';
import { startOutboxRelay, type OutboxRelay } from '../../services/orders/outbox-relay.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { orderState } from '../support/orders.ts';
import { ALICE, GATEWAY_ENV, OTHER_SHOP, SHOP, intakeBody, paidSession, payuNotification, STRIPE_OLD_SECRET, stripeEvent, streamMessages } from './gateway-helpers.ts';

let t: TestContext;
let app: FastifyInstance;
/** The real order host, driven by hand where a test needs the order's answer (the stream keeps its messages for the other assertions). */
let host: OrderHost;
let relay: OutboxRelay;

beforeAll(async () => {
  t = await createTestContext(GATEWAY_ENV);
  app = await buildGateway(t, { defaultMetrics: false });
  host = createOrderHost({ sql: t.sql, names: t.names, logger: t.logger, paymentTimeoutMs: t.config.paymentTimeoutMs });
  relay = await startOutboxRelay({ sql: t.sql, nc: t.nc, logger: t.logger, pollMs: 200 });
});
afterAll(async () => {
  await app?.close();
  await relay?.stop();
  await t?.cleanup();
});

/** The order host applies what the gateway forwarded to this order, in publish order (as its partition consumer would). */
async function applyForwarded(orderId: string): Promise<void> {
  for (const m of await streamMessages(t.nc, t.names.streams.orderEvents)) {
    if (m.env.orderId === orderId) await host.handle(m.env, m.subject);
  }
}

/** The admin notices published for an order (the machine's through the outbox relay), once `n` are there. */
async function noticesFor(match: (n: { orderId: string | null; externalId: string | null }) => boolean, n: number) {
  return eventually(async () => {
    const found = (await notices()).filter(match);
    return found.length >= n ? found : undefined;
  }, `${n} admin notice(s)`);
}

async function newOrder(over: Record<string, unknown> = {}): Promise<{ orderId: string; externalId: string }> {
  const res = await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: intakeBody(over) });
  expect(res.statusCode).toBe(202);
  return res.json();
}

async function orderEvents(orderId: string, type: string) {
  return (await streamMessages(t.nc, t.names.streams.orderEvents)).filter((m) => m.env.orderId === orderId && m.env.type === type);
}

async function notices() {
  return (await streamMessages(t.nc, t.names.streams.command('notify'))).map((m) => m.env.payload as { code: string; orderId: string | null; externalId: string | null; message: string });
}

function post(url: string, e: { payload: string; headers: Record<string, string> }) {
  return app.inject({ method: 'POST', url, payload: e.payload, headers: e.headers });
}

describe('Stripe webhooks', () => {
  it('maps paid events to PAYMENT_CONFIRMED, found by our id, externalId or client_reference_id', async () => {
    const a = await newOrder();
    const b = await newOrder();
    const c = await newOrder();
    const r1 = await post('/webhooks/payments/stripe', stripeEvent('checkout.session.completed', paidSession(a.orderId)));
    expect(r1.statusCode).toBe(200);
    expect(r1.json()).toMatchObject({ received: true, verdict: 'accepted', duplicate: false });
    await post('/webhooks/payments/stripe', stripeEvent('payment_intent.succeeded', { id: 'pi_b', object: 'payment_intent', amount: 6500, amount_received: 6500, currency: 'pln', metadata: { order_id: b.externalId } }));
    await post('/webhooks/payments/stripe', stripeEvent('checkout.session.async_payment_succeeded', { ...paidSession('x'), metadata: {}, client_reference_id: c.orderId }));
    for (const o of [a, b, c]) {
      const ev = await orderEvents(o.orderId, 'PAYMENT_CONFIRMED');
      expect(ev).toHaveLength(1);
      expect(ev[0]?.env).toMatchObject({ actor: 'stripe', payload: { provider: 'stripe', amount: 6500, currency: 'PLN' } });
    }
    const stored = await eventually(async () => {
      const rows = await t.sql`select verdict, signature, dedupe_key, message_ids, published_at from webhook_inbox where order_id = ${a.orderId}`;
      return rows[0]?.['published_at'] ? rows : undefined;
    }, 'webhook marked published');
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ verdict: 'accepted', signature: 'valid' });
    expect(stored[0]?.['message_ids']).toEqual([stored[0]?.['dedupe_key']]);
  });

  it('maps failures to PAYMENT_FAILED and records other types without an event', async () => {
    const o = await newOrder();
    await post('/webhooks/payments/stripe', stripeEvent('payment_intent.payment_failed', { id: 'pi_f', object: 'payment_intent', metadata: { order_id: o.orderId }, last_payment_error: { message: 'card declined' } }));
    await post('/webhooks/payments/stripe', stripeEvent('checkout.session.expired', { id: 'cs_e', metadata: { order_id: o.orderId } }));
    const other = await post('/webhooks/payments/stripe', stripeEvent('customer.created', { id: 'cus_1' }));
    const unpaid = await post('/webhooks/payments/stripe', stripeEvent('checkout.session.completed', { ...paidSession(o.orderId), payment_status: 'unpaid' }));
    expect(other.json().verdict).toBe('recorded');
    expect(unpaid.json().verdict).toBe('recorded');
    const failed = await orderEvents(o.orderId, 'PAYMENT_FAILED');
    expect(failed.map((f) => (f.env.payload as { reason: string }).reason)).toEqual(['card declined', 'checkout session expired']);
    expect(await orderEvents(o.orderId, 'PAYMENT_CONFIRMED')).toHaveLength(0);
  });

  it('accepts a secret being rotated out, rejects bad and stale signatures with 400 (stored, no event)', async () => {
    const o = await newOrder();
    const rotated = await post('/webhooks/payments/stripe', stripeEvent('checkout.session.completed', paidSession(o.orderId), { secret: STRIPE_OLD_SECRET }));
    expect(rotated.json().verdict).toBe('accepted');

    const p = await newOrder();
    const forged = stripeEvent('checkout.session.completed', paidSession(p.orderId), { secret: 'whsec_attacker', id: 'evt_forged_then_real' });
    const bad = await post('/webhooks/payments/stripe', forged);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'SIGNATURE_INVALID', message: 'signature does not match' });
    const stale = await post('/webhooks/payments/stripe', stripeEvent('checkout.session.completed', paidSession(p.orderId), { timestamp: Math.floor(Date.now() / 1000) - 600 }));
    expect(stale.statusCode).toBe(400);
    expect(stale.json().error.message).toMatch(/tolerance/);
    const none = await app.inject({ method: 'POST', url: '/webhooks/payments/stripe', payload: { id: 'evt_x' } });
    expect(none.statusCode).toBe(400);
    expect(await orderEvents(p.orderId, 'PAYMENT_CONFIRMED')).toHaveLength(0);
    const invalid = await t.sql`select verdict, signature, detail from webhook_inbox where provider = 'stripe' and verdict = 'invalid'`;
    expect(invalid.length).toBeGreaterThanOrEqual(3);

    // The forged request did not claim the event id: the genuine event with that id still counts.
    const real = await post('/webhooks/payments/stripe', stripeEvent('checkout.session.completed', paidSession(p.orderId), { id: 'evt_forged_then_real' }));
    expect(real.json()).toMatchObject({ verdict: 'accepted', duplicate: false });
  });

  it('replayed, reordered and 50 concurrent duplicates → one PAYMENT_CONFIRMED', async () => {
    const o = await newOrder();
    const e = stripeEvent('checkout.session.completed', paidSession(o.orderId));
    const answers = await Promise.all(Array.from({ length: 50 }, () => post('/webhooks/payments/stripe', e)));
    expect(answers.every((a) => a.statusCode === 200)).toBe(true);
    expect(answers.filter((a) => a.json().duplicate === false)).toHaveLength(1);
    const fail = stripeEvent('payment_intent.payment_failed', { id: 'pi_f', metadata: { order_id: o.orderId } });
    await post('/webhooks/payments/stripe', fail);
    await post('/webhooks/payments/stripe', e); // an old event arriving again after a newer one
    await post('/webhooks/payments/stripe', fail);
    expect(await orderEvents(o.orderId, 'PAYMENT_CONFIRMED')).toHaveLength(1);
    expect(await orderEvents(o.orderId, 'PAYMENT_FAILED')).toHaveLength(1);
    expect(await t.sql`select 1 from webhook_inbox where order_id = ${o.orderId}`).toHaveLength(2);
  });

  it('an amount or currency mismatch is not a payment: the machine judges it (stays pending, admin notified), the webhook shows its answer', async () => {
    const o = await newOrder();
    // The gateway finds the order and forwards; it does not compare amounts.
    const r = await post('/webhooks/payments/stripe', stripeEvent('checkout.session.completed', paidSession(o.orderId, 6400)));
    expect(r.json()).toMatchObject({ verdict: 'accepted', duplicate: false });
    const r2 = await post('/webhooks/payments/stripe', stripeEvent('checkout.session.completed', paidSession(o.orderId, 6500, 'eur')));
    expect(r2.json()).toMatchObject({ verdict: 'accepted', duplicate: false });
    const forwarded = await orderEvents(o.orderId, 'PAYMENT_CONFIRMED');
    expect(forwarded.map((f) => f.env.payload)).toEqual([
      { provider: 'stripe', paymentId: expect.stringMatching(/^pi_/), amount: 6400, currency: 'PLN' },
      { provider: 'stripe', paymentId: expect.stringMatching(/^pi_/), amount: 6500, currency: 'EUR' },
    ]);

    await applyForwarded(o.orderId);
    expect(await orderState(t.sql, o.orderId)).toBe('pending');
    const n = await noticesFor((x) => x.orderId === o.orderId, 2);
    expect(n.map((x) => x.code)).toEqual(['PAYMENT_MISMATCH', 'PAYMENT_MISMATCH']);
    expect(n[0]?.message).toContain('6400 PLN');

    // The evidence: each webhook carries the order's own answer (applied, but still pending).
    for (const hook of [r, r2]) {
      const stored = await eventually(async () => {
        const w = (await app.inject({ url: `/admin/api/webhooks/${hook.json().webhookId}`, headers: ALICE })).json();
        return w.orderAnswers?.length === 1 ? w : undefined;
      }, 'the order answer on the webhook');
      expect(stored.orderAnswers).toEqual([expect.objectContaining({ type: 'PAYMENT_CONFIRMED', outcome: 'applied', fromState: 'pending', toState: 'pending' })]);
    }
    const listed = await app.inject({ url: `/admin/api/webhooks?orderId=${o.orderId}`, headers: ALICE });
    expect(listed.json().items.map((w: { orderAnswers: Array<{ toState: string }> }) => w.orderAnswers.map((a) => a.toState))).toEqual([['pending'], ['pending']]);
  });

  it('a webhook rejected on arrival is replayed only by force, with a note, recorded with who did it', async () => {
    const o = await newOrder();
    const monthOld = Math.floor(Date.now() / 1000) - 30 * 24 * 3600;
    const stale = await post('/webhooks/payments/stripe', stripeEvent('checkout.session.completed', paidSession(o.orderId), { timestamp: monthOld }));
    expect(stale.statusCode).toBe(400);
    const id = stale.json().error.details.webhookId as string;
    const url = `/admin/api/webhooks/${id}/replay`;

    // Staleness is judged against the time it arrived: a plain replay does not turn it valid.
    const plain = await app.inject({ method: 'POST', url, headers: ALICE });
    expect(plain.statusCode).toBe(409);
    expect(plain.json().error.code).toBe('REPLAY_NEEDS_FORCE');
    const noNote = await app.inject({ method: 'POST', url, headers: ALICE, payload: { force: true } });
    expect(noNote.statusCode).toBe(422);
    const junk = await app.inject({ method: 'POST', url, headers: ALICE, payload: { force: 'yes', note: 'x' } });
    expect(junk.statusCode).toBe(422);
    expect(await orderEvents(o.orderId, 'PAYMENT_CONFIRMED')).toHaveLength(0);

    const forced = await app.inject({ method: 'POST', url, headers: ALICE, payload: { force: true, note: 'confirmed in the Stripe dashboard: pi paid' } });
    expect(forced.statusCode).toBe(202);
    expect(forced.json().webhook).toMatchObject({
      verdict: 'accepted',
      signature: 'invalid',
      replayedBy: 'alice',
      replayForced: true,
      replayNote: 'confirmed in the Stripe dashboard: pi paid',
      detail: expect.stringMatching(/^forced by an admin despite: signature timestamp is outside/),
    });
    expect(await orderEvents(o.orderId, 'PAYMENT_CONFIRMED')).toHaveLength(1);
  });

  it('a payment names exactly one order: our id, shop:externalId, or an externalId only one shop uses', async () => {
    const body = intakeBody();
    const acme = await newOrder({ externalId: body.externalId });
    const other = (await app.inject({ method: 'POST', url: '/orders', headers: OTHER_SHOP, payload: body })).json();
    expect(other.orderId).not.toBe(acme.orderId);
    // Two shops use this externalId: a bare reference is not a guess.
    const bare = await post('/webhooks/payments/stripe', stripeEvent('checkout.session.completed', paidSession(body.externalId)));
    expect(bare.json().verdict).toBe('unmatched');
    const stored = await app.inject({ url: `/admin/api/webhooks/${bare.json().webhookId}`, headers: ALICE });
    expect(stored.json().detail).toMatch(/several shops use/);
    // Qualified by the shop, or by our id: exactly that order.
    const qualified = await post('/webhooks/payments/stripe', stripeEvent('checkout.session.completed', paidSession(`other:${body.externalId}`)));
    expect(qualified.json()).toMatchObject({ verdict: 'accepted' });
    expect(await orderEvents(other.orderId, 'PAYMENT_CONFIRMED')).toHaveLength(1);
    expect(await orderEvents(acme.orderId, 'PAYMENT_CONFIRMED')).toHaveLength(0);
    await post('/webhooks/payments/stripe', stripeEvent('checkout.session.completed', paidSession(acme.orderId)));
    expect(await orderEvents(acme.orderId, 'PAYMENT_CONFIRMED')).toHaveLength(1);
  });

  it('an unknown order → 200, stored as unmatched, admin notified; replay after the order exists confirms it', async () => {
    const body = intakeBody();
    const e = stripeEvent('checkout.session.completed', paidSession(body.externalId));
    const r = await post('/webhooks/payments/stripe', e);
    expect(r.statusCode).toBe(200);
    expect(r.json().verdict).toBe('unmatched');
    expect((await notices()).filter((x) => x.externalId === body.externalId).map((x) => x.code)).toEqual(['UNKNOWN_ORDER']);

    const list = await app.inject({ url: '/admin/api/webhooks?verdict=unmatched', headers: ALICE });
    expect(list.json().items.map((w: { id: string }) => w.id)).toContain(r.json().webhookId);

    const placed = (await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: body })).json();
    const replay = await app.inject({ method: 'POST', url: `/admin/api/webhooks/${r.json().webhookId}/replay`, headers: ALICE });
    expect(replay.statusCode).toBe(202);
    expect(replay.json().webhook).toMatchObject({ verdict: 'accepted', orderId: placed.orderId, replayedBy: 'alice', replayCount: 1 });
    expect(await orderEvents(placed.orderId, 'PAYMENT_CONFIRMED')).toHaveLength(1);
  });
});

describe('PayU webhooks', () => {
  it('COMPLETED → PAYMENT_CONFIRMED (MD5 and SHA256), CANCELED → PAYMENT_FAILED, PENDING recorded only', async () => {
    const o = await newOrder();
    const pending = await post('/webhooks/payments/payu', payuNotification(o.externalId, 'PENDING', { payuOrderId: 'P1' }));
    expect(pending.json()).toMatchObject({ verdict: 'recorded' });
    const waiting = await post('/webhooks/payments/payu', payuNotification(o.externalId, 'WAITING_FOR_CONFIRMATION', { payuOrderId: 'P1' }));
    expect(waiting.json()).toMatchObject({ verdict: 'recorded' });
    const done = await post('/webhooks/payments/payu', payuNotification(o.externalId, 'COMPLETED', { payuOrderId: 'P1', algorithm: 'SHA256' }));
    expect(done.json()).toMatchObject({ verdict: 'accepted', duplicate: false });
    const again = await post('/webhooks/payments/payu', payuNotification(o.externalId, 'COMPLETED', { payuOrderId: 'P1' }));
    expect(again.json()).toMatchObject({ duplicate: true });
    const ev = await orderEvents(o.orderId, 'PAYMENT_CONFIRMED');
    expect(ev).toHaveLength(1);
    // The PayU order id: what a refund is addressed to.
    expect(ev[0]?.env.payload).toEqual({ provider: 'payu', paymentId: 'P1', amount: 6500, currency: 'PLN' });

    const c = await newOrder();
    await post('/webhooks/payments/payu', payuNotification(c.externalId, 'CANCELED'));
    expect(await orderEvents(c.orderId, 'PAYMENT_FAILED')).toHaveLength(1);
  });

  it('rejects a wrong key or a tampered body with 400, stored as invalid; mismatch and unknown order notify', async () => {
    const o = await newOrder();
    const wrong = await post('/webhooks/payments/payu', payuNotification(o.externalId, 'COMPLETED', { key: 'not-the-key' }));
    expect(wrong.statusCode).toBe(400);
    const n = payuNotification(o.externalId, 'COMPLETED');
    const tampered = await post('/webhooks/payments/payu', { ...n, payload: n.payload.replace('"6500"', '"1"') });
    expect(tampered.statusCode).toBe(400);
    expect(tampered.json().error.code).toBe('SIGNATURE_INVALID');
    expect(await orderEvents(o.orderId, 'PAYMENT_CONFIRMED')).toHaveLength(0);

    const cheap = await post('/webhooks/payments/payu', payuNotification(o.externalId, 'COMPLETED', { amount: '100' }));
    expect(cheap.json().verdict).toBe('accepted');
    await applyForwarded(o.orderId);
    expect(await orderState(t.sql, o.orderId)).toBe('pending');
    const ghost = await post('/webhooks/payments/payu', payuNotification('NO-SUCH-ORDER', 'COMPLETED'));
    expect(ghost.statusCode).toBe(200);
    expect(ghost.json().verdict).toBe('unmatched');
    const codes = (await noticesFor((x) => x.orderId === o.orderId || x.externalId === 'NO-SUCH-ORDER', 2)).map((x) => x.code);
    expect(codes.sort()).toEqual(['PAYMENT_MISMATCH', 'UNKNOWN_ORDER']);
    const invalid = await app.inject({ url: '/admin/api/webhooks?verdict=invalid&provider=payu', headers: ALICE });
    expect(invalid.json().items).toHaveLength(2);
    expect(invalid.json().items[0]).toMatchObject({ signature: 'invalid', provider: 'payu' });
  });

  it('answers malformed JSON with 400 and oversize bodies with 413', async () => {
    const bad = await app.inject({ method: 'POST', url: '/webhooks/payments/payu', headers: { 'content-type': 'application/json' }, payload: '{"order":' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('MALFORMED_JSON');
    // Not processed, but stored raw first (never lost), with nothing published for it.
    const webhookId = bad.json().error.details.webhookId as string;
    const stored = await app.inject({ url: `/admin/api/webhooks?verdict=malformed&provider=payu`, headers: ALICE });
    expect(stored.json().items).toEqual([expect.objectContaining({ id: webhookId, provider: 'payu', verdict: 'malformed', signature: 'unchecked', messageIds: [] })]);
    const [row] = await t.sql<{ body: Buffer }[]>`select body from webhook_inbox where id = ${webhookId}`;
    expect(row?.body.toString()).toBe('{"order":');
    const big = await app.inject({ method: 'POST', url: '/webhooks/payments/stripe', headers: { 'content-type': 'application/json' }, payload: `{"pad":"${'x'.repeat(1_100_000)}"}` });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('BODY_TOO_LARGE');
  });
});
