import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../gateway/app.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { GATEWAY_ENV, SHOP, intakeBody, paidSession, stripeEvent } from '../gateway/gateway-helpers.ts';

/** Storage from unauthenticated requests is bounded: rejected webhooks are rate-limited per address and expire. */
let t: TestContext;
let app: FastifyInstance;

beforeAll(async () => {
  t = await createTestContext({ ...GATEWAY_ENV, WEBHOOK_INVALID_RATE_LIMIT: '5' });
  app = await buildGateway(t, { defaultMetrics: false });
}, 120_000);
afterAll(async () => {
  await app?.close();
  await t?.cleanup();
});

const rejectedRows = async () => Number((await t.sql<Array<{ n: string }>>`select count(*) as n from webhook_inbox where verdict in ('invalid', 'malformed')`)[0]?.n);

function forged(i: number, ip: string) {
  const e = stripeEvent('checkout.session.completed', paidSession(`ord_forged_${i}`), { secret: 'whsec_attacker' });
  return app.inject({ method: 'POST', url: '/webhooks/payments/stripe', payload: e.payload, headers: e.headers, remoteAddress: ip });
}

describe('rejected webhooks are bounded', () => {
  it('one address gets 5 rejected webhooks a minute stored, then 429 and nothing stored; signed ones are never limited', async () => {
    const ip = '203.0.113.7';
    const before = await rejectedRows();
    for (let i = 0; i < 4; i++) expect((await forged(i, ip)).statusCode).toBe(400);
    const garbage = await app.inject({ method: 'POST', url: '/webhooks/payments/stripe', payload: 'not json', headers: { 'content-type': 'application/json' }, remoteAddress: ip });
    expect(garbage.statusCode).toBe(400);
    expect(await rejectedRows()).toBe(before + 5);

    const limited = await forged(99, ip);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    const limitedGarbage = await app.inject({ method: 'POST', url: '/webhooks/payments/stripe', payload: 'x'.repeat(1000), headers: { 'content-type': 'application/json' }, remoteAddress: ip });
    expect(limitedGarbage.statusCode).toBe(429);
    expect(await rejectedRows()).toBe(before + 5);

    // The same address with genuine, signed webhooks: never counted, never limited.
    for (let i = 0; i < 12; i++) {
      const order = (await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: intakeBody() })).json();
      const e = stripeEvent('checkout.session.completed', paidSession(order.orderId));
      const ok = await app.inject({ method: 'POST', url: '/webhooks/payments/stripe', payload: e.payload, headers: e.headers, remoteAddress: ip });
      expect(ok.statusCode).toBe(200);
    }
    // Another address has its own allowance.
    expect((await forged(100, '198.51.100.9')).statusCode).toBe(400);
  });

  it('rejected webhooks past WEBHOOK_INVALID_RETENTION are deleted; accepted ones stay', async () => {
    const order = (await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: intakeBody() })).json();
    const e = stripeEvent('checkout.session.completed', paidSession(order.orderId));
    const accepted = (await app.inject({ method: 'POST', url: '/webhooks/payments/stripe', payload: e.payload, headers: e.headers })).json().webhookId as string;
    const rejected = (await forged(200, '192.0.2.44')).json().error.details.webhookId as string;
    await t.sql`update webhook_inbox set received_at = now() - interval '8 days' where id in (${accepted}, ${rejected})`;
    // A gateway starting up (and then hourly) applies the retention (default 7 days).
    const other = await buildGateway(t, { defaultMetrics: false });
    try {
      await eventually(async () => (await t.sql`select 1 from webhook_inbox where id = ${rejected}`).length === 0, 'rejected webhook deleted', 30_000);
      expect(await t.sql`select 1 from webhook_inbox where id = ${accepted}`).toHaveLength(1);
    } finally {
      await other.close();
    }
  });
});
