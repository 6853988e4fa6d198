import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../gateway/app.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { ACME_KEY, ACME_NEW_KEY, ALICE, GATEWAY_ENV, OTHER_SHOP, SHOP, intakeBody, streamMessages } from './gateway-helpers.ts';

let t: TestContext;
let app: FastifyInstance;

beforeAll(async () => {
  t = await createTestContext(GATEWAY_ENV);
  app = await buildGateway(t, { defaultMetrics: false });
});
afterAll(async () => {
  await app?.close();
  await t?.cleanup();
});

async function placed(orderId: string) {
  const all = await streamMessages(t.nc, t.names.streams.orderEvents);
  return all.filter((m) => m.env.orderId === orderId && m.env.type === 'ORDER_PLACED');
}

describe('POST /orders', () => {
  it('accepts an order with 202, publishes ORDER_PLACED with our id and a default language', async () => {
    const body = intakeBody();
    const res = await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: body });
    expect(res.statusCode).toBe(202);
    const answer = res.json();
    expect(answer).toEqual({ orderId: expect.stringMatching(/^ord_[0-9a-f-]{36}$/), externalId: body.externalId, state: 'pending' });
    const msgs = await placed(answer.orderId);
    expect(msgs).toHaveLength(1);
    const msg = msgs[0]!;
    expect(msg.subject).toBe(t.names.subjects.orderEvent(answer.orderId));
    expect(msg.msgId).toBe(`order-placed:${answer.orderId}`);
    expect(msg.env.payload).toMatchObject({ order: { orderId: answer.orderId, externalId: body.externalId, language: 'pl', total: 6500, placedAt: expect.any(String) } });

    const abroad = intakeBody({ shippingAddress: { ...body.shippingAddress, country: 'DE' } });
    const de = (await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: abroad })).json();
    expect((await placed(de.orderId))[0]?.env.payload).toMatchObject({ order: { language: 'en' } });
  });

  it('is idempotent on externalId: same body → same answer, no second order; other body → 409', async () => {
    const body = intakeBody();
    const first = await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: body });
    // Same content, keys in another order: still the same order.
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const again = await Promise.all([1, 2, 3].map(() => app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: reordered })));
    for (const r of again) {
      expect(r.statusCode).toBe(202);
      expect(r.json()).toEqual(first.json());
    }
    expect(await placed(first.json().orderId)).toHaveLength(1);
    expect(await t.sql`select 1 from order_intake where external_id = ${body.externalId}`).toHaveLength(1);

    const different = await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: { ...body, shippingPrice: 500, total: 5500 } });
    expect(different.statusCode).toBe(409);
    expect(different.json()).toEqual({ error: { code: 'ORDER_CONFLICT', message: `externalId ${body.externalId} was already used by this shop for a different order` } });
    expect(different.body).not.toContain(first.json().orderId);
  });

  it('needs a shop key: none, a wrong one, an admin token or a malformed header → 401; nothing recorded', async () => {
    const body = intakeBody();
    const attempts = [
      {},
      { authorization: 'Bearer acme-key-0123456789abcdef012345678X' },
      { authorization: ALICE.authorization },
      { authorization: `Basic ${Buffer.from(`acme:${ACME_KEY}`).toString('base64')}` },
      { authorization: `Bearer ${ACME_KEY} extra` },
      { authorization: ACME_KEY },
    ];
    for (const headers of attempts) {
      const res = await app.inject({ method: 'POST', url: '/orders', headers, payload: body });
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="orderpilot-intake"');
      expect(res.json().error.code).toBe('UNAUTHENTICATED');
    }
    expect(await t.sql`select 1 from order_intake where external_id = ${body.externalId}`).toHaveLength(0);
    // Unauthenticated bodies are not even parsed: a broken one is still 401, not 400.
    const broken = await app.inject({ method: 'POST', url: '/orders', headers: { 'content-type': 'application/json' }, payload: '{"externalId": ' });
    expect(broken.statusCode).toBe(401);
  });

  it('records the shop; both keys of a shop are that shop; two shops may use one externalId', async () => {
    const body = intakeBody();
    const acme = await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: body });
    const acmeAgain = await app.inject({ method: 'POST', url: '/orders', headers: { authorization: `Bearer ${ACME_NEW_KEY}` }, payload: body });
    const other = await app.inject({ method: 'POST', url: '/orders', headers: OTHER_SHOP, payload: body });
    expect([acme.statusCode, acmeAgain.statusCode, other.statusCode]).toEqual([202, 202, 202]);
    expect(acmeAgain.json().orderId).toBe(acme.json().orderId);
    expect(other.json().orderId).not.toBe(acme.json().orderId);
    expect(await t.sql`select shop, order_id from order_intake where external_id = ${body.externalId} order by shop`).toEqual([
      { shop: 'acme', order_id: acme.json().orderId },
      { shop: 'other', order_id: other.json().orderId },
    ]);
    expect((await placed(other.json().orderId))[0]?.env.payload).toMatchObject({ order: { shop: 'other', externalId: body.externalId } });
    // The other shop's different body under the same number is its own business: no conflict across shops.
    const changed = await app.inject({ method: 'POST', url: '/orders', headers: OTHER_SHOP, payload: { ...body, shippingPrice: 500, total: 5500 } });
    expect(changed.statusCode).toBe(409);
    expect(changed.body).not.toContain(other.json().orderId);
  });

  it('concurrent first submissions of one externalId create one order', async () => {
    const body = intakeBody();
    const answers = await Promise.all(Array.from({ length: 10 }, () => app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: body })));
    const ids = new Set(answers.map((a) => a.json().orderId));
    expect(answers.every((a) => a.statusCode === 202)).toBe(true);
    expect(ids.size).toBe(1);
    expect(await placed([...ids][0] as string)).toHaveLength(1);
  });

  it('concurrent submissions of one externalId with different bodies: one order, the others 409', async () => {
    const externalId = intakeBody().externalId;
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: intakeBody({ externalId, shippingPrice: 1500 + i, total: 6500 + i }) })),
    );
    const accepted = answers.filter((a) => a.statusCode === 202);
    expect(accepted).toHaveLength(1);
    expect(answers.filter((a) => a.statusCode === 409)).toHaveLength(9);
    expect(await placed(accepted[0]?.json().orderId as string)).toHaveLength(1);
  });

  it('answers 422 naming each bad field, and a wrong total', async () => {
    const bad = intakeBody({ currency: 'zł', customer: { email: 'not-an-email' }, lines: [{ sku: 'A', name: 'A', quantity: 0, unitPrice: 1.5, taxRate: 23 }] });
    const res = await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: bad });
    expect(res.statusCode).toBe(422);
    const err = res.json().error;
    expect(err.code).toBe('VALIDATION_FAILED');
    const fields = err.details.fields.map((f: { field: string }) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['body.currency', 'body.customer.email', 'body.customer.name', 'body.lines.0.quantity', 'body.lines.0.unitPrice']));
    for (const f of ['body.currency', 'body.customer.email', 'body.lines.0.quantity']) expect(err.message).toContain(f);

    const total = await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: intakeBody({ total: 7000 }) });
    expect(total.statusCode).toBe(422);
    expect(total.json().error.details.fields).toEqual([{ field: 'body.total', message: 'must equal the lines plus shippingPrice (6500)' }]);

    const missing = await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: {} });
    expect(missing.statusCode).toBe(422);
    expect(missing.json().error.details.fields.map((f: { field: string }) => f.field)).toEqual(expect.arrayContaining(['body.externalId', 'body.lines', 'body.total']));
  });

  it('answers 400 for malformed JSON and 413 over 1 MiB, without a stack trace', async () => {
    const bad = await app.inject({ method: 'POST', url: '/orders', headers: { ...SHOP, 'content-type': 'application/json' }, payload: '{"externalId": ' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error: { code: 'MALFORMED_JSON', message: 'request body is not valid JSON' } });
    const big = await app.inject({ method: 'POST', url: '/orders', headers: { ...SHOP, 'content-type': 'application/json' }, payload: JSON.stringify(intakeBody({ pad: 'x'.repeat(1_100_000) })) });
    expect(big.statusCode).toBe(413);
    expect(big.body).not.toMatch(/at \w+ \(/);
  });
});
