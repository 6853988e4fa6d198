import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Sql } from '../../infra/db/postgres.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';

/**
 * What a Postgres restart, a failover or an admin's `pg_terminate_backend` does to postgres.js: the
 * session ends under a connection the client still uses. postgres.js 3.4.9 then wrote the next query
 * to a socket it had already dropped, from a `setImmediate`: an uncaught TypeError that ended the
 * process, and the query never settled (porsager/postgres#1208, #1154). `infra/patches/` carries the
 * guard from the upstream fix (PR #1209), applied by `npm ci` (patch-package); without it these tests
 * fail with that uncaught error.
 */
let t: TestContext;
let sql: Sql;
const closed: number[] = [];
beforeAll(async () => {
  t = await createTestContext();
  sql = openPostgres(t.databaseUrl, { max: 3, onnotice: () => {}, onclose: (id: number) => void closed.push(id), connection: { application_name: 'connection-loss-test' } });
});
afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await t?.cleanup();
});

const pidOf = async (q: Sql | Awaited<ReturnType<Sql['reserve']>>) => (await q<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]?.pid as number;
const terminate = async (pid: number) => expect((await t.sql<{ ok: boolean }[]>`select pg_terminate_backend(${pid}) as ok`)[0]?.ok).toBe(true);

/** Every pool connection answers (a connection left unable to write would hang its query). */
async function poolAnswers(): Promise<void> {
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => sql<{ n: number }[]>`select ${i}::int as n, pg_sleep(0.01)`));
  expect(answers.map((r) => r[0]?.n)).toEqual(Array.from({ length: 12 }, (_, i) => i));
}

describe('a Postgres session ending under postgres.js', () => {
  it('a reserved connection: its next query rejects (CONNECTION_CLOSED), the process lives on, the pool answers', async () => {
    const conn = await sql.reserve();
    try {
      const pid = await pidOf(conn);
      const before = closed.length;
      await terminate(pid);
      // The client has seen the close: the connection sits without a socket until it reconnects.
      await eventually(async () => closed.length > before, 'the client saw the session end', 30_000, 20);
      await expect(conn`select 1`).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    } finally {
      conn.release();
    }
    await poolAnswers();
  });

  it('a transaction whose session ends mid-statement rejects; its ROLLBACK on the dead connection does not end the process', async () => {
    const tx = sql.begin(async (q) => {
      await q`select pg_sleep(60)`;
    });
    const settled = tx.then(() => 'committed', (err: { code?: string }) => err.code ?? 'rejected');
    const [busy] = await eventually(
      async () => {
        const rows = await t.sql<{ pid: number }[]>`select pid from pg_stat_activity where application_name = 'connection-loss-test' and query like 'select pg_sleep(60)%' and state = 'active'`;
        return rows.length > 0 ? rows : null;
      },
      'the transaction is running its statement',
      30_000,
      20,
    );
    await terminate(busy?.pid as number);
    expect(['CONNECTION_CLOSED', '57P01', 'ECONNRESET']).toContain(await settled);
    // The scope's ROLLBACK went to the closed connection after the rejection: give it its turn,
    // then the pool must still answer on every connection.
    await poolAnswers();
  });

  it('a transaction outliving its session: its late statements fail and never run in the session the pool reconnected', async () => {
    // One connection: once reconnected, the pool's next query and the late statement would share it.
    const one = openPostgres(t.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await one`create table if not exists late_statement_probe (n int)`;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let late: Promise<unknown> | null = null;
      const tx = one.begin(async (q) => {
        const [me] = await q<{ pid: number }[]>`select pg_backend_pid() as pid`;
        await terminate(me?.pid as number);
        await gate;
        late = q`insert into late_statement_probe values (1)`.then(() => 'ran', (err: { code?: string }) => err.code ?? 'rejected');
        await late;
      });
      expect(await tx.then(() => 'committed', (err: { code?: string }) => err.code ?? 'rejected')).not.toBe('committed');
      // The pool reconnects its one connection for this; then the transaction's body goes on.
      expect((await one<{ n: number }[]>`select 1::int as n`)[0]?.n).toBe(1);
      release();
      await eventually(async () => late !== null, 'the late statement was issued', 30_000, 20);
      expect(await late).toBe('CONNECTION_CLOSED');
      expect(await one`select 1 from late_statement_probe`).toHaveLength(0);
      expect((await one<{ n: number }[]>`select 2::int as n`)[0]?.n).toBe(2);
    } finally {
      await one.end({ timeout: 5 });
    }
  });
});
