import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildGateway } from '../../gateway/app.ts';
import { signWarehouseBody, WAREHOUSE_SIGNATURE_HEADER } from '../../services/contracts/index.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { ALICE, GATEWAY_ENV, SHOP, intakeBody, paidSession, payuNotification, stripeEvent } from '../gateway/gateway-helpers.ts';

/**
 * The public door, attacked: a table of hostile requests across every route family. For each one:
 * no 5xx, the project's error format (JSON routes) or an HTML page without internals (console), no
 * stack trace or file path in the answer, no state change (no order, no intake row, nothing published
 * for an order), and for a signed webhook: the exact bytes are stored in the webhook inbox.
 */

const WAREHOUSE_SECRET = 'warehouse-secret-0123456789abcdef';
let t: TestContext;
let app: FastifyInstance;
let consoleCookie: string;
let consoleCsrf: string;

beforeAll(async () => {
  t = await createTestContext({ ...GATEWAY_ENV, WAREHOUSE_WEBHOOK_SECRET: WAREHOUSE_SECRET });
  app = await buildGateway(t, { defaultMetrics: false });
  const login = await app.inject({ method: 'POST', url: '/admin/login', payload: 'token=alice-token-0123456789', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const setCookie = login.headers['set-cookie'];
  consoleCookie = (Array.isArray(setCookie) ? setCookie[0]! : setCookie!).split(';')[0]!;
  const page = await app.inject({ method: 'GET', url: '/admin/notifications', headers: { cookie: consoleCookie } });
  consoleCsrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
}, 120_000);
afterAll(async () => {
  await app?.close();
  await t?.cleanup();
});

const NUL = '\u0000';
const LONE = '\ud800';
const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;

/** A JSON text with a raw lone surrogate escape, which JSON.stringify would otherwise re-escape. */
const withLone = (body: Record<string, unknown>, field: string) => JSON.stringify({ ...body, [field]: 'X' }).replace('"X"', '"\\ud800"');

interface Case {
  name: string;
  req: InjectOptions;
  /** The answer is an HTML console page rather than the JSON error format. */
  html?: boolean;
  /** A signed webhook: its bytes must be in the inbox afterwards. */
  stored?: boolean;
  /** Sent with the console session (and, for a form, its CSRF token). */
  signedIn?: boolean;
  /** A status that is fine for this case (default: any 4xx). */
  ok?: (status: number) => boolean;
}

const json = (s: string) => ({ 'content-type': 'application/json' }) as Record<string, string>;
const cases: Case[] = [];
const add = (c: Case) => cases.push(c);

// ---- POST /orders (authenticated shop) -------------------------------------------------------
{
  const base = intakeBody();
  const bodies: Array<[string, string]> = [
    ['NUL in externalId', JSON.stringify({ ...base, externalId: `A${NUL}B` })],
    ['NUL in customer name', JSON.stringify({ ...base, customer: { email: 'a@b.pl', name: `Jan${NUL}` } })],
    ['NUL in line name', JSON.stringify({ ...base, lines: [{ sku: 'S', name: `K${NUL}`, quantity: 1, unitPrice: 5000, taxRate: 23 }] })],
    ['NUL in address', JSON.stringify({ ...base, shippingAddress: { ...base.shippingAddress, street: `x${NUL}` } })],
    ['NUL in an unknown field', JSON.stringify({ ...base, extra: NUL })],
    ['NUL in a key', JSON.stringify({ ...base, [`k${NUL}`]: 1 })],
    ['lone surrogate in externalId', withLone(base, 'externalId')],
    ['lone surrogate in an unknown field', withLone(base, 'note')],
    ['lone surrogate in the customer', JSON.stringify({ ...base, customer: { email: 'a@b.pl', name: 'X' } }).replace('"name":"X"', '"name":"\\udfff"')],
    ['50k-deep arrays', deep(50_000)],
    ['50k-deep objects', deepObject(50_000)],
    ['200-deep arrays in a field', JSON.stringify({ ...base, lines: 'X' }).replace('"X"', deep(200))],
    ['externalId of 129 chars', JSON.stringify({ ...base, externalId: 'E'.repeat(129) })],
    ['externalId of 100k chars', JSON.stringify({ ...base, externalId: 'E'.repeat(100_000) })],
    ['empty body', ''],
    ['truncated JSON', '{"externalId": '],
    ['JSON null', 'null'],
    ['JSON array', '[]'],
    ['JSON number', '42'],
    ['JSON string', '"order"'],
    ['__proto__ key', JSON.stringify(base).replace('{', '{"__proto__":{"admin":true},')],
    ['constructor.prototype', JSON.stringify({ ...base, constructor: { prototype: { x: 1 } } })],
    ['money as float', JSON.stringify({ ...base, total: 65.0001 })],
    ['money 1e308', JSON.stringify({ ...base, total: 1e308 })],
    ['money negative', JSON.stringify({ ...base, shippingPrice: -1500, total: 3500 })],
    ['quantity 0', JSON.stringify({ ...base, lines: [{ sku: 'S', name: 'K', quantity: 0, unitPrice: 5000, taxRate: 23 }] })],
    ['10k lines', JSON.stringify({ ...base, lines: Array.from({ length: 10_000 }, () => ({ sku: 'S', name: 'K', quantity: 1, unitPrice: 1, taxRate: 23 })) })],
    ['wrong types everywhere', JSON.stringify({ externalId: 1, currency: [], customer: 'x', lines: {}, total: '65' })],
    ['currency not ISO', JSON.stringify({ ...base, currency: 'ZŁ' })],
    ['email with NUL', JSON.stringify({ ...base, customer: { email: `a${NUL}@b.pl`, name: 'J' } })],
    ['invalid UTF-8 bytes', '{"externalId":"\xff\xfe"}'],
  ];
  for (const [name, payload] of bodies) add({ name: `POST /orders: ${name}`, req: { method: 'POST', url: '/orders', headers: { ...SHOP, ...json('') }, payload } });
  const contentTypes = ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/json; charset=bogus', 'multipart/form-data; boundary=x', 'application/xml', '*/*'];
  for (const ct of contentTypes) add({ name: `POST /orders: content-type ${ct}`, req: { method: 'POST', url: '/orders', headers: { ...SHOP, 'content-type': ct }, payload: JSON.stringify(base) } });
  add({ name: 'POST /orders: 2 MiB body', req: { method: 'POST', url: '/orders', headers: { ...SHOP, ...json('') }, payload: JSON.stringify({ ...base, pad: 'x'.repeat(2 * 1024 * 1024) }) } });
  for (const auth of ['Bearer ', `Bearer ${'k'.repeat(10_000)}`, 'Bearer \u00ff\u00fe', 'Bearer a b c', 'bearer', 'Digest x']) {
    add({ name: `POST /orders: authorization ${JSON.stringify(auth.slice(0, 20))}`, req: { method: 'POST', url: '/orders', headers: { authorization: auth, ...json('') }, payload: JSON.stringify(base) } });
  }
}

// ---- Admin API ---------------------------------------------------------------------------------
{
  const get = (url: string) => ({ method: 'GET' as const, url, headers: ALICE });
  const hostileValues = ['%00', 'a%00b', '%ud800', '%ED%A0%80', '%FF%FE', `${'x'.repeat(5000)}`, '%', '%%32', '..%2F..%2Fetc%2Fpasswd', "'%20or%201=1--", '%0d%0aSet-Cookie:%20x=1'];
  for (const v of hostileValues) {
    add({ name: `GET /admin/api/orders?q=${v.slice(0, 20)}`, req: get(`/admin/api/orders?q=${v}`), ok: (s) => s < 500 });
    add({ name: `GET /admin/api/orders?cursor=${v.slice(0, 20)}`, req: get(`/admin/api/orders?cursor=${v}`) });
    add({ name: `GET /admin/api/orders?state=${v.slice(0, 20)}`, req: get(`/admin/api/orders?state=${v}`) });
    add({ name: `GET /admin/api/orders/${v.slice(0, 20)}`, req: get(`/admin/api/orders/${v}`) });
    add({ name: `GET /admin/api/orders/${v.slice(0, 20)}/history`, req: get(`/admin/api/orders/${v}/history`) });
    add({ name: `GET /admin/api/notifications?kind=${v.slice(0, 20)}`, req: get(`/admin/api/notifications?kind=${v}`), ok: (s) => s < 500 });
    add({ name: `GET /admin/api/notifications?severity=${v.slice(0, 20)}`, req: get(`/admin/api/notifications?severity=${v}`) });
    add({ name: `GET /admin/api/webhooks/${v.slice(0, 20)}`, req: get(`/admin/api/webhooks/${v}`) });
    add({ name: `GET /admin/api/webhooks?provider=${v.slice(0, 20)}`, req: get(`/admin/api/webhooks?provider=${v}`), ok: (s) => s < 500 });
    add({ name: `GET /admin/api/dead-letters?cursor=${v.slice(0, 20)}`, req: get(`/admin/api/dead-letters?cursor=${v}`), ok: (s) => s < 500 });
  }
  for (const id of ['99999999999999999999999', '-1', '1e3', '0x10', 'NaN']) {
    add({ name: `POST /admin/api/webhooks/${id}/replay`, req: { method: 'POST', url: `/admin/api/webhooks/${id}/replay`, headers: { ...ALICE, ...json('') }, payload: '{}' } });
    add({ name: `POST /admin/api/dead-letters/${id}/replay`, req: { method: 'POST', url: `/admin/api/dead-letters/${id}/replay`, headers: { ...ALICE, ...json('') }, payload: '{}' } });
    add({ name: `POST /admin/api/notifications/${id}/ack`, req: { method: 'POST', url: `/admin/api/notifications/${id}/ack`, headers: { ...ALICE, ...json('') }, payload: '{}' } });
  }
  const eventBodies: Array<[string, string]> = [
    ['NUL in note', JSON.stringify({ type: 'RELEASE', note: `ok${NUL}` })],
    ['lone surrogate in note', '{"type":"RELEASE","note":"\\ud800"}'],
    ['NUL in type', JSON.stringify({ type: `RELEASE${NUL}`, note: 'x' })],
    ['unknown type', JSON.stringify({ type: 'DROP_TABLE', note: 'x' })],
    ['machine-only event', JSON.stringify({ type: 'PAYMENT_CONFIRMED', provider: 'stripe', paymentId: 'p', amount: 1, currency: 'PLN' })],
    ['deep nesting', deepObject(50_000)],
    ['note of 100k chars', JSON.stringify({ type: 'RELEASE', note: 'n'.repeat(100_000) })],
    ['array body', '[{"type":"RELEASE"}]'],
  ];
  for (const [name, payload] of eventBodies) {
    add({ name: `POST /admin/api/orders/:id/events: ${name}`, req: { method: 'POST', url: `/admin/api/orders/ord_${randomUUID()}/events`, headers: { ...ALICE, ...json('') }, payload } });
  }
  add({ name: 'admin API without a token', req: { method: 'GET', url: '/admin/api/orders' } });
  add({ name: 'admin API with a shop key', req: { method: 'GET', url: '/admin/api/orders', headers: SHOP } });
  add({ name: 'admin API with a 10k token', req: { method: 'GET', url: '/admin/api/orders', headers: { authorization: `Bearer ${'t'.repeat(10_000)}` } } });
  add({ name: 'admin event with a 10k Idempotency-Key', req: { method: 'POST', url: `/admin/api/orders/ord_${randomUUID()}/events`, headers: { ...ALICE, ...json(''), 'idempotency-key': 'k'.repeat(10_000) }, payload: JSON.stringify({ type: 'RELEASE', note: 'x' }) } });
}

// ---- Paths -------------------------------------------------------------------------------------
add({ name: 'GET /orders/%2e%2e (a dot segment)', req: { method: 'GET', url: '/orders/%2e%2e', headers: ALICE }, ok: (s) => s < 500 });
for (const path of ['/%00', '/admin/api/orders/%', `/${'p'.repeat(10_000)}`, '/admin/api/orders/ord_%ff', '/webhooks/%00', '/docs/%00', '/admin/assets/..%2F..%2Fpackage.json', '/metrics%00']) {
  add({ name: `GET ${path.slice(0, 40)}`, html: /^\/admin(\/|$)/.test(path) && !path.startsWith('/admin/api'), req: { method: 'GET', url: path, headers: ALICE } });
}
add({ name: 'GET an id of 101 chars', req: { method: 'GET', url: `/admin/api/orders/${'i'.repeat(101)}`, headers: ALICE } });
add({ name: 'GET an id of 128 chars', req: { method: 'GET', url: `/admin/api/orders/${'i'.repeat(128)}`, headers: ALICE } });

// ---- Console -------------------------------------------------------------------------------
{
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  for (const origin of ['garbage', 'http://', '://', 'http://[::1', 'null', 'http://evil.example', 'javascript:alert(1)', '\u00ff']) {
    add({ name: `console POST with Origin ${origin}`, html: true, req: { method: 'POST', url: '/admin/notifications/ack', headers: { ...form, origin }, payload: 'id=1&_csrf=x' }, ok: (s) => s === 401 || s === 403 });
  }
  for (const v of ['%00', '%ud800', '%ED%A0%80', 'x'.repeat(5000), '%', "'--"]) {
    add({ name: `console GET /admin/orders?q=${v.slice(0, 20)}`, html: true, req: { method: 'GET', url: `/admin/orders?q=${v}`, headers: {} }, ok: (s) => s === 303 || (s >= 400 && s < 500) });
    add({ name: `console GET /admin/orders/${v.slice(0, 20)}`, html: true, req: { method: 'GET', url: `/admin/orders/${v}` }, ok: (s) => s === 303 || (s >= 400 && s < 500) });
    add({ name: `console GET /admin/login?next=${v.slice(0, 20)}`, html: true, req: { method: 'GET', url: `/admin/login?next=${v}` }, ok: (s) => s === 200 || (s >= 400 && s < 500) });
    add({ name: `console POST /admin/login token=${v.slice(0, 20)}`, html: true, req: { method: 'POST', url: '/admin/login', headers: form, payload: `token=${v}` } });
  }
  add({ name: 'console POST /admin/login as JSON', html: true, req: { method: 'POST', url: '/admin/login', headers: json(''), payload: '{"token":["a","b"]}' } });
  add({ name: 'console POST /admin/login deep JSON', html: true, req: { method: 'POST', url: '/admin/login', headers: json(''), payload: deepObject(50_000) } });
  add({ name: 'console cookie of 8k', html: true, req: { method: 'GET', url: '/admin', headers: { cookie: `op_session=${'c'.repeat(8000)}` } }, ok: (s) => s === 303 || s === 401 });
  // Signed-in hostile requests: filled in lazily (the cookie exists only after beforeAll).
  for (const v of ['%00', '%ud800', '%', 'x'.repeat(3000)]) {
    add({ name: `signed-in console GET /admin/orders?q=${v.slice(0, 12)}`, html: true, req: { method: 'GET', url: `/admin/orders?q=${v}`, headers: {} }, ok: (s) => s < 500 });
    add({ name: `signed-in console GET /admin/orders?state=${v.slice(0, 12)}&from=${v.slice(0, 12)}`, html: true, req: { method: 'GET', url: `/admin/orders?state=${v}&from=${v}&to=${v}`, headers: {} }, ok: (s) => s < 500 });
    add({ name: `signed-in console GET /admin/orders/${v.slice(0, 12)}`, html: true, req: { method: 'GET', url: `/admin/orders/${v}`, headers: {} }, ok: (s) => s >= 400 && s < 500 });
    add({ name: `signed-in console GET /admin/notifications?status=${v.slice(0, 12)}`, html: true, req: { method: 'GET', url: `/admin/notifications?status=${v}`, headers: {} }, ok: (s) => s < 500 });
  }
  for (const [name, payload] of [
    ['NUL in a note', `type=RELEASE&note=a%00b`],
    ['lone surrogate in a note', `type=RELEASE&note=%ED%A0%80`],
    ['1000 fields', Array.from({ length: 1000 }, (_, i) => `f${i}=1`).join('&')],
    ['unknown event', 'type=DROP'],
  ] as const) {
    add({ name: `signed-in console POST event: ${name}`, html: true, req: { method: 'POST', url: `/admin/orders/ord_${randomUUID()}/events`, headers: form, payload }, ok: (s) => s < 500 });
  }
  for (const c of cases.filter((x) => x.name.startsWith('signed-in'))) c.signedIn = true;
}

// ---- Webhooks ------------------------------------------------------------------------------------
{
  const stripe = (name: string, ref: string) =>
    add({ name: `Stripe signed, ${name}`, stored: true, req: { method: 'POST', url: '/webhooks/payments/stripe', ...stripeEvent('checkout.session.completed', paidSession(ref)) }, ok: (s) => (s >= 400 && s < 500) || s === 200 });
  stripe('NUL in the reference', `ord_${NUL}x`);
  stripe('lone surrogate in the reference', LONE);
  stripe('reference of 10k chars', 'r'.repeat(10_000));
  stripe('empty reference', '');
  stripe('reference of another shop style', 'acme:EXT-1');
  const payu = (name: string, ext: string, status = 'COMPLETED') =>
    add({ name: `PayU signed, ${name}`, stored: true, req: { method: 'POST', url: '/webhooks/payments/payu', ...payuNotification(ext, status) }, ok: (s) => (s >= 400 && s < 500) || s === 200 });
  payu('NUL in extOrderId', `E${NUL}`);
  payu('lone surrogate in extOrderId', LONE);
  payu('extOrderId of 10k chars', 'e'.repeat(10_000));
  payu('NUL in the status', 'E-1', `COMP${NUL}`);
  const warehouse = (name: string, body: string) =>
    add({
      name: `warehouse signed, ${name}`,
      stored: true,
      req: { method: 'POST', url: '/webhooks/warehouse', headers: { 'content-type': 'application/json', [WAREHOUSE_SIGNATURE_HEADER]: signWarehouseBody(WAREHOUSE_SECRET, body) }, payload: body },
      ok: (s) => (s >= 400 && s < 500) || s === 200,
    });
  const wh = (over: Record<string, unknown>) => JSON.stringify({ eventId: `ev-${randomUUID()}`, shipmentId: 'sh-1', reference: 'ord_x', status: 'HANDED_TO_CARRIER', trackingNumber: 'T1', at: new Date().toISOString(), ...over });
  warehouse('NUL in the reference', wh({ reference: `ord_${NUL}` }));
  warehouse('NUL in the event id', wh({ eventId: `ev${NUL}` }));
  warehouse('lone surrogate in the tracking number', wh({ trackingNumber: 'X' }).replace('"trackingNumber":"X"', '"trackingNumber":"\\ud800"'));
  warehouse('50k-deep body', deepObject(50_000));
  warehouse('not JSON', 'status=DELIVERED');
  for (const [name, req] of [
    ['Stripe unsigned', { method: 'POST', url: '/webhooks/payments/stripe', headers: json(''), payload: JSON.stringify({ id: 'evt_x', type: 'checkout.session.completed' }) }],
    ['Stripe signature garbage', { method: 'POST', url: '/webhooks/payments/stripe', headers: { ...json(''), 'stripe-signature': `t=1,v1=${NUL}` }, payload: '{}' }],
    ['Stripe 30-day-old signature', { method: 'POST', url: '/webhooks/payments/stripe', ...stripeEvent('checkout.session.completed', paidSession('ord_x'), { timestamp: Math.floor(Date.now() / 1000) - 30 * 86400 }) }],
    ['PayU signature garbage', { method: 'POST', url: '/webhooks/payments/payu', headers: { ...json(''), 'openpayu-signature': 'signature=;algorithm=ROT13' }, payload: '{}' }],
    ['warehouse without signature', { method: 'POST', url: '/webhooks/warehouse', headers: json(''), payload: wh({}) }],
    ['warehouse signature of 10k', { method: 'POST', url: '/webhooks/warehouse', headers: { ...json(''), [WAREHOUSE_SIGNATURE_HEADER]: `sha256=${'a'.repeat(10_000)}` }, payload: wh({}) }],
  ] as Array<[string, InjectOptions]>) {
    add({ name, req });
  }
  for (const provider of ['unknown', 'stripe2', 'woocommerce-evil', 'x'.repeat(300)]) {
    add({ name: `unknown webhook provider ${provider.slice(0, 20)}`, req: { method: 'POST', url: `/webhooks/${provider}`, headers: json(''), payload: '{"a":1}' }, ok: (s) => s === 404 });
    add({ name: `unknown webhook provider ${provider.slice(0, 20)}, not JSON`, req: { method: 'POST', url: `/webhooks/${provider}`, headers: json(''), payload: 'garbage' }, ok: (s) => s === 404 });
  }
  // A dot segment is normalised away by the router: not a webhook route at all.
  add({ name: 'webhook path /webhooks/.., not JSON', req: { method: 'POST', url: '/webhooks/..', headers: json(''), payload: 'garbage' } });
}

async function stateCounts() {
  const [r] = await t.sql<Array<{ orders: number; intake: number; notifications: number }>>`select
    (select count(*)::int from orders) as orders,
    (select count(*)::int from order_intake) as intake,
    (select count(*)::int from notifications) as notifications`;
  return r!;
}

describe('the public door under attack', () => {
  it(`has at least 200 hostile requests in its table (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(200);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const before = await stateCounts();
    const inboxBefore = c.stored ? Buffer.from(String(c.req.payload)) : null;
    const req: InjectOptions = c.signedIn
      ? {
          ...c.req,
          headers: { ...c.req.headers, cookie: consoleCookie },
          ...(c.req.method === 'POST' ? { payload: `${String(c.req.payload)}&_csrf=${encodeURIComponent(consoleCsrf)}` } : {}),
        }
      : c.req;
    const res = await app.inject(req);
    const ok = c.ok ?? ((s: number) => s >= 400 && s < 500);
    expect(res.statusCode, res.body.slice(0, 300)).toBeLessThan(500);
    expect(ok(res.statusCode), `status ${res.statusCode}: ${res.body.slice(0, 300)}`).toBe(true);
    expect(res.body).not.toMatch(/\n\s+at |\/work\/|node_modules|\.ts:\d+/);
    const type = String(res.headers['content-type'] ?? '');
    if (!c.html && res.statusCode >= 400) {
      expect(type).toMatch(/^application\/json/);
      const body = res.json() as { error?: { code?: unknown; message?: unknown } };
      expect(typeof body.error?.code).toBe('string');
      expect(typeof body.error?.message).toBe('string');
    }
    if (c.html && res.statusCode >= 400) expect(type).toMatch(/^text\/html/);
    expect(await stateCounts()).toEqual(before);
    if (inboxBefore) {
      const rows = await t.sql`select id from webhook_inbox where body = ${inboxBefore}`;
      expect(rows.length, `the signed webhook is stored (answer ${res.statusCode} ${res.body.slice(0, 200)})`).toBe(1);
    }
  });

  it('stored nothing for unknown providers', async () => {
    const rows = await t.sql`select provider from webhook_inbox where provider not in ('stripe', 'payu', 'warehouse')`;
    expect(rows).toEqual([]);
  });
});
