import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../gateway/app.ts';
import type { BulkGate } from '../../infra/runtime/bulk-gate.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { GATEWAY_ENV, SHOP, intakeBody } from './gateway-helpers.ts';

/**
 * While the process's bulk gate holds bulk work back, a warehouse webhook waits at the door (at most
 * BULK_WEBHOOK_WAIT_MS) and new orders are answered first. The gate is a stand-in for the process's
 * own (whose pauses follow the event loop's real lateness): here a test opens and closes it.
 */
function controllableGate() {
  let paused = false;
  let waiters: Array<() => void> = [];
  const tick = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  // Like the real gate: while paused it ticks (every 10 ms), so a wait can see its deadline pass.
  const timer = setInterval(tick, 10);
  const gate: BulkGate = {
    limit: (max) => (paused ? 1 : max),
    nextTick: () => new Promise<void>((resolve) => waiters.push(resolve)),
    frontSeen: () => {},
    get paused() {
      return paused;
    },
    lagMs: 0,
    stats: () => ({ pauses: 0, pausedMs: 0 }),
    stop: () => clearInterval(timer),
  };
  return {
    gate,
    pause: () => {
      paused = true;
    },
    open: () => {
      paused = false;
      tick();
    },
  };
}

async function heldMetrics(app: FastifyInstance): Promise<{ held: number; seconds: number }> {
  const body = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  const held = /^orderpilot_gateway_bulk_webhooks_held_total (\S+)$/m.exec(body)?.[1];
  const seconds = /^orderpilot_gateway_bulk_webhooks_held_seconds_total (\S+)$/m.exec(body)?.[1];
  return { held: Number(held), seconds: Number(seconds) };
}

const warehouseRequest = { method: 'POST' as const, url: '/webhooks/warehouse', headers: { 'content-type': 'application/json' }, payload: '{}' };

describe('warehouse webhooks wait while the bulk gate is paused', () => {
  let t: TestContext;
  let app: FastifyInstance;
  const g = controllableGate();

  beforeAll(async () => {
    // A wait far longer than the test: only the gate opening lets the held request through.
    t = await createTestContext({ ...GATEWAY_ENV, BULK_WEBHOOK_WAIT_MS: '30000' });
    app = await buildGateway({ ...t, bulkGate: g.gate }, { defaultMetrics: false });
  });
  afterAll(async () => {
    g.gate.stop();
    await app?.close();
    await t?.cleanup();
  });

  it('answers a new order while a warehouse status waits, and the status once the gate opens', async () => {
    g.pause();
    let answered = false;
    const status = app.inject(warehouseRequest).then((res) => {
      answered = true;
      return res;
    });
    const order = await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: intakeBody() });
    expect(order.statusCode).toBe(202);
    expect(answered).toBe(false);
    g.open();
    const res = await status;
    // Handled as ever once let through: an unsigned body is stored and refused.
    expect(res.statusCode).toBe(400);
    const m = await heldMetrics(app);
    expect(m.held).toBe(1);
    expect(m.seconds).toBeGreaterThan(0);
  });

  it('does not hold a warehouse status while the gate is open', async () => {
    const before = await heldMetrics(app);
    const res = await app.inject(warehouseRequest);
    expect(res.statusCode).toBe(400);
    expect((await heldMetrics(app)).held).toBe(before.held);
  });
});

describe('a held warehouse webhook goes through after BULK_WEBHOOK_WAIT_MS', () => {
  let t: TestContext;
  let app: FastifyInstance;
  const g = controllableGate();

  beforeAll(async () => {
    t = await createTestContext({ ...GATEWAY_ENV, BULK_WEBHOOK_WAIT_MS: '200' });
    app = await buildGateway({ ...t, bulkGate: g.gate }, { defaultMetrics: false });
  });
  afterAll(async () => {
    g.gate.stop();
    await app?.close();
    await t?.cleanup();
  });

  it('handles the request when the gate stays paused past the wait', async () => {
    g.pause();
    const started = performance.now();
    const res = await app.inject(warehouseRequest);
    expect(res.statusCode).toBe(400);
    // It did wait (the deadline, not an open gate, let it through): at least the configured 200 ms.
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
    const m = await heldMetrics(app);
    expect(m.held).toBe(1);
    expect(m.seconds).toBeGreaterThanOrEqual(0.2);
  });
});
