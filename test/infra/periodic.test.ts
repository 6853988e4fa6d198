import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql } from '../../infra/db/postgres.ts';
import { startPeriodic, withTryLock } from '../../infra/runtime/periodic.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

/** The shared periodic task of the work-queue sweeper and the intake recheck: one at a time, per process and across processes. */
let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.cleanup();
});

describe('periodic tasks', () => {
  it('a second instance finds the lock taken and skips its round; after the first, it gets it', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const first = withTryLock(t.sql, 4242, async () => {
      entered();
      await held;
      return 'first';
    });
    await inside;
    expect(await withTryLock(t.sql, 4242, async () => 'second')).toBeNull();
    release();
    expect(await first).toBe('first');
    expect(await withTryLock(t.sql, 4242, async () => 'second')).toBe('second');
  });

  it('leaders hold their locks on a pool of their own: a work pool of one connection still serves their statements', async () => {
    // Like the outbox relay (leads for its whole life) beside the sweeper: each lock is a transaction
    // held while its task sends statements through the work pool. On the work pool's own connections,
    // the first lock would take the only one and its task's first statement would wait forever.
    const sql = createSql(t.databaseUrl, { max: 1, name: 'leader-pool-test' });
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const relay = withTryLock(sql, 4444, async () => {
        const [row] = await sql<{ n: number }[]>`select 1 as n`;
        await held;
        return row?.n;
      });
      const sweep = withTryLock(sql, 4445, async () => (await sql<{ n: number }[]>`select 2 as n`)[0]?.n);
      expect(await sweep).toBe(2);
      release();
      expect(await relay).toBe(1);
      const sessions = await t.sql<{ name: string; n: number }[]>`
        select application_name as name, count(*)::int as n from pg_stat_activity
        where application_name like 'leader-pool-test%' group by 1 order by 1`;
      expect(sessions).toEqual([
        { name: 'leader-pool-test', n: 1 },
        { name: 'leader-pool-test-leader', n: 2 },
      ]);
    } finally {
      await sql.end({ timeout: 5 });
    }
    // A pool ended before it ever led: a late leader is refused, and no leader pool is opened for it.
    const unused = createSql(t.databaseUrl, { max: 1, name: 'leader-pool-test-unused' });
    await unused.end({ timeout: 5 });
    await expect(withTryLock(unused, 4446, async () => 'led')).rejects.toMatchObject({ code: 'CONNECTION_ENDED' });
    // end() closed the leader pool as well: no session of either pool is left.
    await expect
      .poll(async () => (await t.sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where application_name like 'leader-pool-test%'`)[0]?.n, { timeout: 10_000 })
      .toBe(0);
  });

  /** The session holding advisory lock `key` (once granted). */
  async function holderOf(key: number): Promise<number> {
    let pid: number | undefined;
    await expect
      .poll(async () => {
        [{ pid } = { pid: undefined }] = await t.sql<{ pid: number }[]>`select pid from pg_locks where locktype = 'advisory' and objid = ${key} and granted`;
        return pid;
      }, { timeout: 10_000 })
      .toBeTypeOf('number');
    return pid as number;
  }

  it('a long run pins no snapshot (the xmin horizon moves on), and a failing run lets go of the lock', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // Like the work-queue sweeper: the task itself is NATS requests, no statement.
    const run = withTryLock(t.sql, 4343, async () => {
      await held;
      return 'done';
    });
    const holder = await holderOf(4343);
    // While it waits, its transaction is idle and holds no snapshot: no xmin keeping every other
    // session's dead rows (with the lock taken over the extended protocol, its portal kept one).
    await expect
      .poll(async () => (await t.sql<{ state: string; xmin: string | null }[]>`select state, backend_xmin::text as xmin from pg_stat_activity where pid = ${holder}`)[0], { timeout: 10_000 })
      .toEqual({ state: 'idle in transaction', xmin: null });
    expect(await withTryLock(t.sql, 4343, async () => 'other')).toBeNull();
    release();
    expect(await run).toBe('done');

    await expect(withTryLock(t.sql, 4343, async () => { throw new Error('task failed'); })).rejects.toThrow('task failed');
    expect(await withTryLock(t.sql, 4343, async () => 'after the failure')).toBe('after the failure');
    const [left] = await t.sql<{ n: number }[]>`select count(*)::int as n from pg_locks where locktype = 'advisory' and objid = 4343`;
    expect(left?.n).toBe(0);
  });

  it('the holder\'s session ended (a Postgres restart): withTryLock rejects, held() turns false, another takes the lock', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let isHeld: () => boolean = () => false;
    const run = withTryLock(t.sql, 4444, async (_tx, h) => {
      isHeld = h;
      await held;
      return 'finished';
    });
    const outcome = run.then(() => 'resolved', (err: { code?: string }) => err.code ?? 'rejected');
    const holder = await holderOf(4444);
    expect(isHeld()).toBe(true);
    await t.sql`select pg_terminate_backend(${holder})`;
    expect(['CONNECTION_CLOSED', '57P01', 'ECONNRESET']).toContain(await outcome);
    // The task runs on (it was waiting); held() tells it its transaction is over.
    expect(isHeld()).toBe(false);
    expect(await withTryLock(t.sql, 4444, async () => 'next leader')).toBe('next leader');
    release();
  });

  it('run() while a run is in flight joins it instead of starting another', async () => {
    let runs = 0;
    let release!: () => void;
    const p = startPeriodic({
      everyMs: 0,
      logger: t.logger,
      what: 'test task',
      task: async () => {
        runs++;
        await new Promise<void>((r) => (release = r));
        return runs;
      },
    });
    const a = p.run();
    const b = p.run();
    release();
    expect(await Promise.all([a, b])).toEqual([1, 1]);
    expect(runs).toBe(1);
    await p.stop();
  });

  it('stop() tells the run in flight (stopping), which cuts itself short, and waits for it', async () => {
    let step!: () => void;
    let done = 0;
    const p = startPeriodic({
      everyMs: 0,
      logger: t.logger,
      what: 'test task',
      task: async () => {
        for (let i = 0; i < 5; i++) {
          if (p.stopping) break;
          await new Promise<void>((r) => (step = r));
          done++;
        }
        return done;
      },
    });
    expect(p.stopping).toBe(false);
    const run = p.run();
    step();
    await new Promise((r) => setImmediate(r));
    const stopped = p.stop();
    expect(p.stopping).toBe(true);
    step();
    await stopped;
    expect(await run).toBe(2);
  });
});
