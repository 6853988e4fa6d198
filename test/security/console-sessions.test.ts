import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../gateway/app.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { GATEWAY_ENV } from '../gateway/gateway-helpers.ts';

const TOKEN = 'alice-token-0123456789';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

let t: TestContext;
let app: FastifyInstance;
let proxied: FastifyInstance;

beforeAll(async () => {
  t = await createTestContext({ ...GATEWAY_ENV, METRICS_TOKEN });
  app = await buildGateway(t, { defaultMetrics: false });
  // The same system behind a TLS-terminating proxy (its own gateway instance, same database).
  const behindProxy = { ...t, config: { ...t.config, trustProxy: true } };
  proxied = await buildGateway(behindProxy, { defaultMetrics: false });
}, 120_000);
afterAll(async () => {
  await proxied?.close();
  await app?.close();
  await t?.cleanup();
});

async function signIn(gateway: FastifyInstance, headers: Record<string, string> = {}) {
  const res = await gateway.inject({ method: 'POST', url: '/admin/login', headers: { ...FORM, ...headers }, payload: `token=${TOKEN}` });
  expect(res.statusCode).toBe(303);
  const raw = res.headers['set-cookie'];
  const header = Array.isArray(raw) ? raw[0]! : raw!;
  const value = /^orderpilot_session=([^;]+)/.exec(header)?.[1];
  expect(value).toBeDefined();
  return { header, cookie: `orderpilot_session=${value}`, id: value! };
}

async function csrfOf(cookie: string): Promise<string> {
  const page = await app.inject({ method: 'GET', url: '/admin/notifications', headers: { cookie } });
  expect(page.statusCode).toBe(200);
  return /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
}

describe('console sessions', () => {
  it('the cookie holds a random session id, never the admin token; only its hash is stored', async () => {
    const a = await signIn(app);
    const b = await signIn(app);
    expect(a.header).not.toContain(TOKEN);
    expect(a.id).not.toBe(b.id);
    expect(a.header).toMatch(/HttpOnly/);
    expect(a.header).toMatch(/SameSite=Strict/);
    expect(a.header).toMatch(/Path=\/admin/);
    const rows = await t.sql<Array<{ id_hash: string; admin: string }>>`select id_hash, admin from console_sessions where admin = 'alice'`;
    const hashes = rows.map((r) => r.id_hash);
    expect(hashes).toContain(createHash('sha256').update(a.id).digest('hex'));
    expect(hashes).not.toContain(a.id);
    expect((await app.inject({ method: 'GET', url: '/admin', headers: { cookie: a.cookie } })).statusCode).toBe(200);
  });

  it('the admin token itself is not a session', async () => {
    const res = await app.inject({ method: 'GET', url: '/admin', headers: { cookie: `orderpilot_session=${TOKEN}` } });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toMatch(/^\/admin\/login/);
  });

  it('sign-out revokes the session: the same cookie no longer opens the console', async () => {
    const s = await signIn(app);
    const csrf = await csrfOf(s.cookie);
    const out = await app.inject({ method: 'POST', url: '/admin/logout', headers: { ...FORM, cookie: s.cookie }, payload: `_csrf=${encodeURIComponent(csrf)}` });
    expect(out.statusCode).toBe(303);
    const after = await app.inject({ method: 'GET', url: '/admin', headers: { cookie: s.cookie } });
    expect(after.statusCode).toBe(303);
    expect(after.headers.location).toMatch(/^\/admin\/login/);
    const [row] = await t.sql<Array<{ revoked: boolean }>>`select revoked_at is not null as revoked from console_sessions where id_hash = ${createHash('sha256').update(s.id).digest('hex')}`;
    expect(row?.revoked).toBe(true);
  });

  it('an expired session is refused', async () => {
    const s = await signIn(app);
    await t.sql`update console_sessions set expires_at = now() - interval '1 second' where id_hash = ${createHash('sha256').update(s.id).digest('hex')}`;
    expect((await app.inject({ method: 'GET', url: '/admin', headers: { cookie: s.cookie } })).statusCode).toBe(303);
  });

  it('Secure cookies behind a TLS proxy only when TRUST_PROXY says to believe it', async () => {
    const direct = await signIn(app, { 'x-forwarded-proto': 'https' });
    expect(direct.header).not.toMatch(/Secure/);
    const viaProxy = await signIn(proxied, { 'x-forwarded-proto': 'https' });
    expect(viaProxy.header).toMatch(/Secure/);
    const plainViaProxy = await signIn(proxied, { 'x-forwarded-proto': 'http' });
    expect(plainViaProxy.header).not.toMatch(/Secure/);
  });
});

describe('METRICS_TOKEN', () => {
  it('/metrics needs the token when it is set', async () => {
    const none = await app.inject({ method: 'GET', url: '/metrics' });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe('UNAUTHENTICATED');
    const wrong = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer not-the-metrics-token-000' } });
    expect(wrong.statusCode).toBe(403);
    const right = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(right.statusCode).toBe(200);
    expect(right.body).toContain('orderpilot_');
  });
});
