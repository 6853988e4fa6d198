import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayService, type RunningGateway } from '../../gateway/main.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { ALICE, GATEWAY_ENV, OTHER_SHOP, SHOP, intakeBody, paidSession, stripeEvent } from './gateway-helpers.ts';

let t: TestContext;
let gw: RunningGateway;
let orders: RunningService;

beforeAll(async () => {
  t = await createTestContext(GATEWAY_ENV);
  orders = await startOrdersService(t);
  gw = await startGatewayService(t, { defaultMetrics: false });
});
afterAll(async () => {
  await gw?.stop();
  await orders?.stop();
  await t?.cleanup();
});

async function http(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text) };
}

const admin = (method: string, path: string, body?: unknown) => http(method, path, body, ALICE);

async function stateOf(orderId: string): Promise<string | undefined> {
  const r = await admin('GET', `/admin/api/orders/${orderId}`);
  return r.status === 200 ? r.body.state : undefined;
}

async function place(): Promise<{ orderId: string; externalId: string }> {
  const r = await http('POST', '/orders', intakeBody(), SHOP);
  expect(r.status).toBe(202);
  await eventually(async () => (await stateOf(r.body.orderId)) === 'pending', 'order pending');
  return r.body;
}

describe('gateway end to end over loopback HTTP (real order host, Postgres, NATS)', () => {
  it('drives an order pending → paid → processing through HTTP only', async () => {
    const o = await place();
    const e = stripeEvent('checkout.session.completed', paidSession(o.orderId));
    const hook = await http('POST', '/webhooks/payments/stripe', e.payload, e.headers);
    expect(hook.status).toBe(200);
    await eventually(async () => (await stateOf(o.orderId)) === 'processing', 'order processing');

    const detail = (await admin('GET', `/admin/api/orders/${o.externalId}`)).body;
    expect(detail).toMatchObject({ id: o.orderId, externalId: o.externalId, state: 'processing', payment: { provider: 'stripe', amount: 6500, currency: 'PLN' } });
    expect(detail.history.map((h: { type: string; to: string }) => [h.type, h.to])).toEqual([
      ['ORDER_PLACED', 'pending'],
      ['PAYMENT_CONFIRMED', 'processing'],
    ]);
    expect(detail.history[1].actor).toBe('stripe');
    // Asked of the machine: nothing to release while the parcel is being submitted.
    expect(detail.allowedEvents).not.toContain('RELEASE');
  });

  it('50 concurrent copies of one webhook over HTTP, plus a late repeat → one PAYMENT_CONFIRMED applied', async () => {
    const o = await place();
    const e = stripeEvent('payment_intent.succeeded', { id: 'pi_dup', object: 'payment_intent', amount: 6500, amount_received: 6500, currency: 'pln', metadata: { order_id: o.orderId } });
    const answers = await Promise.all(Array.from({ length: 50 }, () => http('POST', '/webhooks/payments/stripe', e.payload, e.headers)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.filter((a) => a.body.duplicate === false)).toHaveLength(1);
    await eventually(async () => (await stateOf(o.orderId)) === 'processing', 'order processing');
    const late = await http('POST', '/webhooks/payments/stripe', e.payload, e.headers);
    expect(late.body.duplicate).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    const history = (await admin('GET', `/admin/api/orders/${o.orderId}`)).body.history;
    expect(history.filter((h: { type: string }) => h.type === 'PAYMENT_CONFIRMED')).toHaveLength(1);
  });

  it('two shops place one externalId: two orders, each recording its shop', async () => {
    const body = intakeBody();
    const a = await http('POST', '/orders', body, SHOP);
    const b = await http('POST', '/orders', body, OTHER_SHOP);
    expect([a.status, b.status]).toEqual([202, 202]);
    await eventually(async () => (await stateOf(a.body.orderId)) === 'pending' && (await stateOf(b.body.orderId)) === 'pending', 'both orders pending');
    expect(await t.sql`select id, shop from orders where external_id = ${body.externalId} order by shop`).toEqual([
      { id: a.body.orderId, shop: 'acme' },
      { id: b.body.orderId, shop: 'other' },
    ]);
  });

  it('admin auth: 401 without a token, 403 with a wrong one, 200 with a right one', async () => {
    expect((await http('GET', '/admin/api/orders')).status).toBe(401);
    expect((await http('GET', '/admin/api/orders', undefined, { authorization: 'Bearer not-a-real-token-000' })).status).toBe(403);
    expect((await http('GET', '/admin/api/webhooks', undefined, { authorization: 'Bearer not-a-real-token-000' })).status).toBe(403);
    expect((await admin('GET', '/admin/api/orders')).status).toBe(200);
  });

  it('admin events: 409 with the allowed list when not allowed, 202 and history with who and note when allowed', async () => {
    const o = await place();
    const no = await admin('POST', `/admin/api/orders/${o.orderId}/events`, { type: 'RELEASE', note: 'go' });
    expect(no.status).toBe(409);
    expect(no.body.error).toMatchObject({ code: 'EVENT_NOT_ALLOWED', details: { state: 'pending', allowed: expect.arrayContaining(['CANCEL']) } });
    expect(no.body.error.details.allowed).not.toContain('RELEASE');

    const bad = await admin('POST', `/admin/api/orders/${o.orderId}/events`, { type: 'EXPLODE' });
    expect(bad.status).toBe(422);
    expect((await admin('POST', '/admin/api/orders/ord_nope/events', { type: 'CANCEL' })).status).toBe(404);

    const ok = await admin('POST', `/admin/api/orders/${o.orderId}/events`, { type: 'CANCEL', note: 'customer asked by phone' });
    expect(ok.status).toBe(202);
    expect(ok.body).toMatchObject({ accepted: true, by: 'alice' });
    await eventually(async () => (await stateOf(o.orderId)) === 'cancelled', 'order cancelled');
    const detail = (await admin('GET', `/admin/api/orders/${o.orderId}`)).body;
    const cancel = detail.history.find((h: { type: string }) => h.type === 'CANCEL');
    expect(cancel).toMatchObject({ actor: 'alice', note: 'customer asked by phone', outcome: 'applied', to: 'cancelled' });
    expect(detail.allowedEvents).toEqual([]);
  });

  it('lists orders newest first with state / text filters and cursor pagination', async () => {
    const a = await place();
    const b = await place();
    const c = await place();
    const page1 = (await admin('GET', '/admin/api/orders?state=pending&limit=2')).body;
    expect(page1.items.map((i: { id: string }) => i.id)).toEqual([c.orderId, b.orderId]);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const page2 = (await admin('GET', `/admin/api/orders?state=pending&limit=2&cursor=${page1.nextCursor}`)).body;
    expect(page2.items[0].id).toBe(a.orderId);
    const found = (await admin('GET', `/admin/api/orders?q=${encodeURIComponent(b.externalId.toLowerCase())}`)).body;
    expect(found.items.map((i: { id: string }) => i.id)).toEqual([b.orderId]);
    expect((await admin('GET', '/admin/api/orders?q=jan%40example')).body.items.length).toBeGreaterThanOrEqual(3);
    expect((await admin('GET', '/admin/api/orders?state=bogus')).status).toBe(422);
    expect((await admin('GET', '/admin/api/orders?cursor=garbage')).status).toBe(422);
  });

  it('counts requests, webhook verdicts and published events in /metrics', async () => {
    const m = await fetch(`${gw.url}/metrics`).then((r) => r.text());
    expect(m).toMatch(/orderpilot_gateway_webhooks_total\{provider="stripe",verdict="accepted",new="true"\} 2/); // two distinct Stripe events above
    expect(m).toMatch(/orderpilot_gateway_webhooks_total\{provider="stripe",verdict="accepted",new="false"\} 50/);
    expect(m).toMatch(/orderpilot_gateway_events_published_total\{type="ORDER_PLACED"\} \d+/);
    expect(m).toMatch(/orderpilot_gateway_http_requests_total\{method="POST",route="\/orders",status="202"\}/);
  });
});
