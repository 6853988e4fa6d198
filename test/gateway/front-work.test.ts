import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildGateway } from '../../gateway/app.ts';
import type { BulkGate } from '../../infra/runtime/bulk-gate.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { GATEWAY_ENV, SHOP, intakeBody } from './gateway-helpers.ts';

/** The gateway tells the process's bulk gate when front work (new orders, payments) comes in. */
let t: TestContext;
let app: FastifyInstance;
let fronts = 0;
const gate: BulkGate = {
  limit: (max) => max,
  nextTick: () => Promise.resolve(),
  frontSeen: () => {
    fronts++;
  },
  paused: false,
  lagMs: 0,
  stats: () => ({ pauses: 3, pausedMs: 1500 }),
  stop: () => {},
};

beforeAll(async () => {
  t = await createTestContext(GATEWAY_ENV);
  app = await buildGateway({ ...t, bulkGate: gate }, { defaultMetrics: false });
});
afterAll(async () => {
  await app?.close();
  await t?.cleanup();
});

describe('front work and the bulk gate', () => {
  it('counts order intake and payment webhooks as front work; warehouse statuses, reads and probes not', async () => {
    const count = async (req: InjectOptions) => {
      const before = fronts;
      await app.inject(req);
      return fronts - before;
    };
    expect(await count({ method: 'POST', url: '/orders', headers: SHOP, payload: intakeBody() })).toBe(1);
    expect(await count({ method: 'POST', url: '/webhooks/payments/stripe', headers: { 'content-type': 'application/json' }, payload: '{}' })).toBe(1);
    expect(await count({ method: 'POST', url: '/webhooks/warehouse', headers: { 'content-type': 'application/json' }, payload: '{}' })).toBe(0);
    expect(await count({ method: 'GET', url: '/healthz' })).toBe(0);
    expect(await count({ method: 'GET', url: '/orders' })).toBe(0);
  });

  it('exports how often and how long the bulk work paused', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/^orderpilot_bulk_gate_pauses 3$/m);
    expect(res.body).toMatch(/^orderpilot_bulk_gate_paused_seconds 1\.5$/m);
  });
});
