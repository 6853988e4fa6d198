import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createSql, type Sql } from '../../infra/db/postgres.ts';
import { migrate } from '../../infra/db/migrate.ts';
import { createScratchDatabase } from '../support/world.ts';

let db: Awaited<ReturnType<typeof createScratchDatabase>>;
let sqlA: Sql;
let sqlB: Sql;

beforeAll(async () => {
  db = await createScratchDatabase(inject('databaseUrl'), 'op_migrate');
  sqlA = createSql(db.url, { max: 2 });
  sqlB = createSql(db.url, { max: 2 });
});
afterAll(async () => {
  await sqlA.end();
  await sqlB.end();
  await db.drop();
});

describe('migrations', () => {
  it('two processes at once: each file applied exactly once; a second run applies nothing', async () => {
    const [a, b] = await Promise.all([migrate(sqlA), migrate(sqlB)]);
    const applied = [...a, ...b].sort();
    const recorded = (await sqlA<{ name: string }[]>`select name from schema_migrations order by name`).map((r) => r.name);
    expect(applied).toEqual(recorded);
    expect(recorded[0]).toBe('001_core.sql');
    expect(await migrate(sqlA)).toEqual([]);
    const tables = await sqlA`select table_name from information_schema.tables where table_schema = 'public'`;
    expect(tables.map((t) => t['table_name'])).toEqual(expect.arrayContaining(['orders', 'order_history', 'outbox', 'processed_messages', 'timers', 'dead_letters']));
  });
});
