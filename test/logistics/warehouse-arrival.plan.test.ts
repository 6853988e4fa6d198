import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logArrivals, settledArrivals, warehouseArrival } from '../../services/logistics/warehouse-arrival.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { expectKeyedProbes, genericPlan, statementOf } from '../support/generic-plan.ts';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.cleanup();
});

/** A log of `orders` submitted shipments with six statuses each, never analysed (autovacuum looks once a minute). */
async function logOf(orders: number, prefix: string): Promise<void> {
  for (let i = 0; i < orders; i++) {
    const ref = `${prefix}_${i}`;
    await t.sql`insert into warehouse_log (order_id, reference, direction, kind, raw) values (${ref}, ${ref}, 'out', 'submit-request', '{}')`;
    for (let k = 0; k < 6; k++) {
      await t.sql`insert into warehouse_log (order_id, reference, direction, kind, raw, dedupe_key, matched)
        values (${ref}, ${ref}, 'in', 'webhook', '{}', ${`warehouse:evt_${prefix}_${i}_${k}`}, true)`;
    }
  }
}

const arrival = (reference: string) =>
  warehouseArrival({ eventId: `evt_new_${reference}`, reference, shipmentId: 'shp_1', status: 'PICKING', occurredAt: new Date().toISOString() }, '{}');

/** Every lookup of the log is a probe keyed by the arrival (its reference, its dedupe key); the reference's is there. */
function expectProbesOnly(plan: string): void {
  expect(plan).toContain('Index Cond: (reference = v.reference)');
  expectKeyedProbes(plan, 'warehouse_log', ['reference = v.reference', 'dedupe_key = v.dedupe_key']);
}

describe('warehouse arrivals: "one of our shipments?" is one index probe per arrival, at any size of the log', () => {
  // The generic plan a connection keeps after a statement's fifth execution is costed on the log as
  // it was then. Without the fences the probes became a hash of the whole log, or of every submitted
  // reference (migration 020's index read end to end), built again by every later statement.
  for (const [name, orders] of [['a young log', 1], ['a grown log', 40]] as const) {
    it(`the statement that settles status-only arrivals, on ${name}`, async () => {
      await logOf(orders, `settle_${orders}`);
      const a = arrival(`settle_${orders}_0`);
      expect(a?.orderEvent).toBeNull();
      const probe = await statementOf(t.databaseUrl, 'warehouse_log', (sql) => sql`${settledArrivals(sql, [a!])!}`);
      expectProbesOnly(await genericPlan(t.sql, probe, ['text[]', 'text[]']));
    });
  }

  it('the insert that logs arrivals alongside the webhook inbox row', async () => {
    await logOf(40, 'log');
    const a = arrival('log_0');
    // As in the webhook inbox's grouped insert: the arrivals are logged for the inbox rows new in the same statement.
    const probe = await statementOf(t.databaseUrl, 'warehouse_log', (sql) =>
      sql`with new_inbox_rows as (select ${a!.dedupeKey}::text as dedupe_key), logged as (${logArrivals(sql, [a!])}) select count(*) from logged`,
    );
    const plan = await genericPlan(t.sql, probe, ['text', ...Array.from({ length: probe.parameters.length - 1 }, () => 'text[]')]);
    expect(plan).toContain('Insert on warehouse_log');
    expectProbesOnly(plan);
  });
});
