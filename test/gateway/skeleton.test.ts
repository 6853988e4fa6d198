import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Type from 'typebox';
import type { FastifyInstance } from 'fastify';
import { buildGateway, GATEWAY_ROUTES } from '../../gateway/app.ts';
import { adminAuthHook, matchAdminToken } from '../../gateway/admin-auth.ts';
import type { GatewayRoute } from '../../gateway/gateway.types.ts';
import { startGatewayService } from '../../gateway/main.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

const ADMIN = 'alice:alice-token-0123456789,bob:bob-token-0123456789ab';

/** Test-only routes exercising the skeleton's parser, validation and auth. */
const probeRoute: GatewayRoute = async (app, ctx) => {
  app.post('/probe/echo', { schema: { body: Type.Object({ n: Type.Integer({ minimum: 1 }), email: Type.String({ format: 'email' }), inner: Type.Object({ a: Type.String() }) }) } }, async (request) => ({
    raw: request.rawBody?.toString('utf8'),
  }));
  app.get('/probe/boom', async () => {
    throw new Error('secret internals at /home/x.ts:12');
  });
  await app.register(async (admin) => {
    admin.addHook('onRequest', adminAuthHook(ctx.deps.config.adminTokens));
    admin.get('/probe/admin', async (request) => ({ admin: request.adminName }));
  });
};

let t: TestContext;
let app: FastifyInstance;

beforeAll(async () => {
  t = await createTestContext({ ADMIN_TOKENS: ADMIN, PORT: '0' });
  app = await buildGateway(t, { routes: [...GATEWAY_ROUTES, probeRoute], defaultMetrics: false });
});
afterAll(async () => {
  await app?.close();
  await t?.cleanup();
});

describe('gateway skeleton', () => {
  it('answers /healthz and /readyz (Postgres and NATS reachable)', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', postgres: 'ok', nats: 'ok' });
  });

  it('keeps the raw body bytes, rejects malformed JSON with 400 and > 1 MiB with 413', async () => {
    const raw = '{ "n": 1,  "email": "a@b.pl", "inner": {"a": "x"} }';
    const ok = await app.inject({ method: 'POST', url: '/probe/echo', headers: { 'content-type': 'application/json' }, payload: raw });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ raw });

    const bad = await app.inject({ method: 'POST', url: '/probe/echo', headers: { 'content-type': 'application/json' }, payload: '{"n": 1,' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'MALFORMED_JSON' } });

    const big = await app.inject({ method: 'POST', url: '/probe/echo', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }) });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ error: { code: 'BODY_TOO_LARGE' } });

    const text = await app.inject({ method: 'POST', url: '/probe/echo', headers: { 'content-type': 'text/plain' }, payload: 'hi' });
    expect(text.statusCode).toBe(415);
  });

  it('answers 422 naming each bad field, and never a stack trace', async () => {
    const res = await app.inject({ method: 'POST', url: '/probe/echo', payload: { n: 0, email: 'nope', inner: {} } });
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body.error.code).toBe('VALIDATION_FAILED');
    const fields = body.error.details.fields.map((f: { field: string }) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['body.n', 'body.email', 'body.inner.a']));
    expect(body.error.message).toContain('body.email');

    const boom = await app.inject('/probe/boom');
    expect(boom.statusCode).toBe(500);
    expect(boom.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
    expect(boom.body).not.toContain('x.ts');

    const missing = await app.inject('/nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('NOT_FOUND');
  });

  it('admin auth: 401 without a token, 403 with a wrong one, the name with a right one', async () => {
    expect((await app.inject('/probe/admin')).statusCode).toBe(401);
    expect((await app.inject({ url: '/probe/admin', headers: { authorization: 'Bearer wrong-token-0123456789' } })).statusCode).toBe(403);
    expect((await app.inject({ url: '/probe/admin', headers: { authorization: 'Basic abc' } })).statusCode).toBe(401);
    const ok = await app.inject({ url: '/probe/admin', headers: { authorization: 'Bearer bob-token-0123456789ab' } });
    expect(ok.json()).toEqual({ admin: 'bob' });
    expect(matchAdminToken(t.config.adminTokens, 'alice-token-0123456789')).toBe('alice');
    expect(matchAdminToken(t.config.adminTokens, 'alice-token-012345678')).toBeNull();
  });

  it('serves OpenAPI at /docs and Prometheus metrics at /metrics', async () => {
    const docs = await app.inject('/docs/json');
    expect(docs.statusCode).toBe(200);
    expect(docs.json().openapi).toMatch(/^3\./);
    const metrics = await app.inject('/metrics');
    expect(metrics.body).toContain('orderpilot_gateway_http_requests_total');
  });

  it('listens on a real port and stops gracefully, finishing the in-flight request', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let entered: () => void = () => {};
    const arrived = new Promise<void>((r) => (entered = r));
    const slowRoute: GatewayRoute = async (a) => {
      a.get('/probe/slow', async () => {
        entered();
        await gate;
        return { done: true };
      });
    };
    const gw = await startGatewayService({ ...t, config: { ...t.config, port: 0 } }, { routes: [slowRoute], defaultMetrics: false });
    const inFlight = fetch(`${gw.url}/probe/slow`).then(async (r) => ({ status: r.status, body: await r.json() }));
    // Stop only once the request is inside the handler (a condition, not a guess at how long that takes).
    await arrived;
    const stopped = gw.stop();
    setTimeout(release, 100);
    await stopped;
    expect(await inFlight).toEqual({ status: 200, body: { done: true } });
    await expect(fetch(`${gw.url}/probe/slow`)).rejects.toThrow();
  });
});
