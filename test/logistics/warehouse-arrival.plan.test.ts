import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../infra/db/postgres.ts';
import { settledArrivals, warehouseArrival } from '../../services/logistics/warehouse-arrival.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.cleanup();
});

/** The text and parameters of the statement `run` sends on `table` (postgres.js's debug hook; it also reads pg_type once). */
async function statementOf(table: string, run: (sql: Sql) => Promise<unknown>): Promise<{ text: string; parameters: readonly unknown[] }> {
  const sent: Array<{ text: string; parameters: readonly unknown[] }> = [];
  const sql = createSql(t.databaseUrl, { max: 1, onStatement: (text, parameters) => sent.push({ text, parameters }) });
  try {
    await run(sql);
  } finally {
    await sql.end();
  }
  const ours = sent.filter((s) => s.text.includes(table));
  expect(ours).toHaveLength(1);
  return ours[0] as { text: string; parameters: readonly unknown[] };
}

describe('warehouse arrivals: "one of our shipments?" at any size of the log', () => {
  it('the prepared statement\'s generic plan probes an index, not a scan of the whole log (migration 020)', async () => {
    // A young log, never analysed (autovacuum looks at a database once a minute): the generic plan a
    // connection keeps after its fifth execution is costed on this. Without the partial index it
    // hashed a sequential scan of the log, done again by every later statement for as long as the
    // plan was kept.
    for (let i = 0; i < 20; i++) {
      const ref = `ord_plan_${i}`;
      await t.sql`insert into warehouse_log (order_id, reference, direction, kind, raw) values (${ref}, ${ref}, 'out', 'submit-request', '{}')`;
      for (let k = 0; k < 6; k++) {
        await t.sql`insert into warehouse_log (order_id, reference, direction, kind, raw, dedupe_key, matched)
          values (${ref}, ${ref}, 'in', 'webhook', '{}', ${`warehouse:evt_plan_${i}_${k}`}, true)`;
      }
    }
    const arrival = warehouseArrival(
      { eventId: 'evt_plan_new', reference: 'ord_plan_3', shipmentId: 'shp_1', status: 'PICKING', occurredAt: new Date().toISOString() },
      '{}',
    );
    expect(arrival?.orderEvent).toBeNull();
    const probe = await statementOf('warehouse_log', async (sql) => {
      const fragment = settledArrivals(sql, [arrival!]);
      expect(fragment).not.toBeNull();
      return sql`${fragment!}`;
    });

    const plan = await t.sql.begin(async (tx) => {
      await tx`set local plan_cache_mode = force_generic_plan`;
      await tx.unsafe(`prepare arrival_probe as ${probe.text}`);
      // The probe's parameters are the batch's columns, text arrays as postgres.js serialised them;
      // a utility statement (EXPLAIN) takes no bound parameters, so they go in as literals.
      expect(probe.parameters.every((p) => typeof p === 'string' && p.startsWith('{'))).toBe(true);
      const literals = probe.parameters.map((p) => `'${String(p).replace(/'/g, "''")}'::text[]`).join(', ');
      const rows = await tx.unsafe(`explain execute arrival_probe(${literals})`);
      await tx.unsafe('deallocate arrival_probe');
      return rows.map((r) => String(r['QUERY PLAN'])).join('\n');
    });
    expect(plan).toContain('warehouse_log_submitted_idx');
    expect(plan).not.toMatch(/Seq Scan on warehouse_log/);
  });
});
