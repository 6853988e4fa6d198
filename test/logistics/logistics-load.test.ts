import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/context.ts';
import { sampleOrder } from '../support/orders.ts';
import { notices, placePaidOrder, startLogisticsWorld, type LogisticsWorld } from './world.ts';

const ORDERS = 200;
let w: LogisticsWorld;

beforeAll(async () => {
  w = await startLogisticsWorld({
    logisticsInstances: 2,
    // Generous timeout and attempts: the sandbox shares this process's CPU with everything else.
    env: { ORDER_PARTITIONS: '8', LOGISTICS_CONCURRENCY: '16', WAREHOUSE_TIMEOUT_MS: '1500', LOGISTICS_MAX_ATTEMPTS: '6' },
    sandbox: {
      seed: 7,
      // 20 % of the references get one fault each.
      faults: {
        ADDRESS_INVALID: 0.02,
        OUT_OF_STOCK: 0.02,
        SKU_UNKNOWN: 0.02,
        REJECTED: 0.02,
        timeout: 0.02,
        lostResponse: 0.02,
        serverError: 0.02,
        duplicateWebhooks: 0.02,
        reorderWebhooks: 0.02,
        LOST: 0.01,
        ON_HOLD: 0.01,
      },
    },
  });
}, 120_000);
afterAll(async () => {
  await w?.stop();
});

describe('logistics under load: 2 service instances, 200 orders, 20 % injected faults', () => {
  it('every order ends closed or held with a reason; one shipment per order; the warehouse log is complete', async () => {
    const orders = Array.from({ length: ORDERS }, () => sampleOrder());
    await Promise.all(orders.map((o) => placePaidOrder(w.t, o)));

    const rows = await eventually(
      async () => {
        const r = await w.t.sql<{ id: string; state: string; hold_code: string | null }[]>`select id, state, hold_code from orders`;
        return r.length === ORDERS && r.every((x) => x.state === 'closed' || x.state === 'held') ? r : undefined;
      },
      'every order closed or held',
      120_000,
      250,
    );
    await w.sandbox.idle(60_000);

    let faulty = 0;
    const wrong: unknown[] = [];
    for (const row of rows) {
      const plan = w.sandbox.plans.get(row.id) ?? {};
      if (Object.keys(plan).length > 0) faulty++;
      const created = w.sandbox.created.get(row.id) ?? 0;
      // A rejected submit creates nothing; everything else reaches the warehouse exactly once,
      // whatever was lost, timed out or retried on the way.
      const expected =
        plan.reject !== undefined
          ? { state: 'held', hold: plan.reject, created: 0 }
          : plan.problem !== undefined
            ? { state: 'held', hold: plan.problem, created: 1 }
            : { state: 'closed', hold: null, created: 1 };
      const actual = { state: row.state, hold: row.hold_code, created };
      if (JSON.stringify(actual) !== JSON.stringify(expected)) wrong.push({ id: row.id, plan, expected, actual, submits: w.sandbox.submits.get(row.id) });
    }
    expect(wrong).toEqual([]);
    expect(faulty).toBeGreaterThan(ORDERS * 0.1);

    // Every webhook the sandbox sent was delivered and is in the warehouse log (once per event id).
    const sent = w.sandbox.webhooks;
    expect(sent.every((s) => s.delivered)).toBe(true);
    const logged = await eventually(
      async () => {
        const l = await w.t.sql<{ event_id: string; raw: string }[]>`select event_id, raw from warehouse_log where kind = 'webhook'`;
        return l.length === new Set(sent.map((s) => s.eventId)).size ? l : undefined;
      },
      'every webhook logged',
      30_000,
    );
    const byEvent = new Map(logged.map((l) => [l.event_id, l.raw]));
    for (const s of sent) expect(byEvent.get(s.eventId)).toBe(s.body);

    // Held orders: one admin notification each.
    const held = rows.filter((r) => r.state === 'held');
    const n = await eventually(async () => {
      const all = await notices(w.t);
      return held.every((h) => all.some((x) => x.orderId === h.id)) ? all : undefined;
    }, 'held notifications');
    for (const h of held) expect(n.filter((x) => x.orderId === h.id && x.kind === 'order.held')).toHaveLength(1);
    expect(n.filter((x) => x.kind === 'order.held')).toHaveLength(held.length);
  }, 180_000);
});
