import { expect } from 'vitest';
import { createSql, type Sql } from '../../infra/db/postgres.ts';

/**
 * The prepared-statement plans a connection keeps. postgres.js prepares every statement; after its
 * fifth execution Postgres may keep one generic plan, costed on the table as it was then (a young
 * table, never analysed, looks like ten pages) and kept until the table's statistics change. A
 * batch look-up planned there as "scan the table once and hash it" reads the whole table in every
 * later statement; these helpers show the plan a statement gets in that state.
 */

export interface SentStatement {
  text: string;
  parameters: readonly unknown[];
}

/** The one statement on `table` that `run` sends (postgres.js's debug hook; it also reads pg_type once). */
export async function statementOf(databaseUrl: string, table: string, run: (sql: Sql) => Promise<unknown>): Promise<SentStatement> {
  const sent: SentStatement[] = [];
  const sql = createSql(databaseUrl, { max: 1, onStatement: (text, parameters) => sent.push({ text, parameters }) });
  try {
    await run(sql);
  } finally {
    await sql.end();
  }
  const ours = sent.filter((s) => s.text.includes(table));
  expect(ours).toHaveLength(1);
  return ours[0] as SentStatement;
}

/**
 * EXPLAIN of `statement`'s generic plan (`plan_cache_mode = force_generic_plan`), its parameters
 * given as literals of their types (a utility statement takes no bound parameters), in a
 * transaction rolled back (EXPLAIN without ANALYZE runs nothing, but a data-modifying statement
 * stays out of harm's way all the same).
 */
export async function genericPlan(sql: Sql, statement: SentStatement, types: readonly string[]): Promise<string> {
  expect(types).toHaveLength(statement.parameters.length);
  const literals = statement.parameters.map((p, i) => `'${String(p).replace(/'/g, "''")}'::${types[i]}`).join(', ');
  let plan = '';
  await sql
    .begin(async (tx) => {
      await tx`set local plan_cache_mode = force_generic_plan`;
      await tx.unsafe(`prepare plan_probe as ${statement.text}`);
      const rows = await tx.unsafe(`explain execute plan_probe(${literals})`);
      await tx.unsafe('deallocate plan_probe'); // a prepared statement outlives a rollback
      plan = rows.map((r) => String(r['QUERY PLAN'])).join('\n');
      throw new RollBack();
    })
    .catch((err: unknown) => {
      if (!(err instanceof RollBack)) throw err;
    });
  return plan;
}

class RollBack extends Error {}

/**
 * Every scan of `table` in `plan` is an index probe keyed by the statement's own row — its
 * `Index Cond` is one of `conditions` (e.g. `order_id = u.id`) — and no hash is built: nothing in
 * the plan reads the table whole, however large it grows.
 */
export function expectKeyedProbes(plan: string, table: string, conditions: readonly string[]): void {
  const lines = plan.split('\n');
  const scans = lines.flatMap((line, at) => (new RegExp(`Scan.* on ${table}\\b`).test(line) ? [at] : []));
  expect(scans.length, `no scan of ${table} in\n${plan}`).toBeGreaterThan(0);
  for (const at of scans) {
    expect(lines[at], plan).toMatch(/Index (Only )?Scan/);
    expect(conditions.map((c) => `Index Cond: (${c})`), `${lines[at]} is keyed`).toContain(lines[at + 1]?.trim());
  }
  expect(plan).not.toMatch(/Hash/);
}
