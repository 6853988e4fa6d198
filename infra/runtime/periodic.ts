import { leaderPool, type Sql, type TxSql } from '../db/postgres.ts';
import type { Logger } from '../logger.ts';

export interface Periodic<T> {
  /** Runs the task now, or joins the run in flight; resolves with its result. */
  run(): Promise<T>;
  /** No further runs; waits for the one in flight (which sees `stopping` and may cut itself short). */
  stop(): Promise<void>;
  /** True once `stop()` was called: a long task checks it between items. */
  readonly stopping: boolean;
}

/**
 * Runs `task` every `everyMs` after the previous run ended (0: only `run()` by hand), never two at
 * once. A failed run is logged as a warning naming `what`; the next one comes at the usual time. The
 * timer does not keep the process alive.
 */
export function startPeriodic<T>(o: { everyMs: number; task: () => Promise<T>; logger: Logger; what: string }): Periodic<T> {
  const onError = (err: unknown) => o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, `${o.what} failed; next one at the usual time`);
  let stopped = false;
  let running: Promise<T> | null = null;
  let timer: NodeJS.Timeout | null = null;
  const run = (): Promise<T> => {
    running ??= o.task().finally(() => {
      running = null;
    });
    return running;
  };
  const schedule = () => {
    if (stopped || o.everyMs <= 0) return;
    timer = setTimeout(() => void run().catch(onError).finally(schedule), o.everyMs);
    timer.unref();
  };
  schedule();
  return {
    run,
    get stopping() {
      return stopped;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => {});
    },
  };
}

/**
 * Runs `fn` inside a transaction holding the Postgres advisory lock `key`, or resolves null at once
 * when another session holds it: one process of many does the work, the others skip that round.
 *
 * `fn` may take seconds (the work-queue sweeper's NATS requests on a loaded machine took 2–7 s). An
 * idle transaction pins no snapshot by itself, but after a statement postgres.js sends with
 * parameters (extended protocol) it kept that statement's snapshot until the next one
 * (`pg_stat_activity.backend_xmin` stays set): taken that way, the lock held back the database's
 * xmin horizon for the whole task — no dead row anywhere could be pruned or vacuumed meanwhile, and
 * the outbox relay's scans walked sent rows again in every batch. The lock is therefore taken with the
 * simple protocol (test/infra/periodic.test.ts watches the xmin).
 *
 * Not a session lock on a `reserve()`d connection, which would need no transaction: postgres.js 3.4.9
 * did not survive such a connection dying — the next query on it threw an uncaught TypeError and
 * never settled (porsager/postgres#1208; `infra/patches/` now guards it, see
 * test/infra/postgres-connection-loss.test.ts). A transaction whose connection dies is rejected
 * (ECONNRESET / CONNECTION_CLOSED / 57P01) and the pool goes on.
 *
 * The transaction runs on `sql`'s leader pool (`leaderPool`), not on its work connections; statements
 * `fn` sends through `sql` itself take a work connection as any other.
 */
export async function withTryLock<T>(sql: Sql, key: number, fn: (tx: TxSql, held: () => boolean) => Promise<T>): Promise<T | null> {
  // The simple protocol takes no parameters: the key goes in as an integer literal.
  if (!Number.isSafeInteger(key)) throw new Error(`advisory lock key ${key} is not an integer`);
  // When the session ends, postgres.js rejects the transaction at once, while `fn` runs on: a task
  // that goes on for long (the outbox relay leads until stopped) asks `held()` and stops using `tx`,
  // whose connection the pool reconnects and hands to others.
  let over = false;
  try {
    return (await leaderPool(sql).begin(async (tx) => {
      const [lock] = await tx.unsafe<{ ok: boolean }[]>(`select pg_try_advisory_xact_lock(${key}::bigint) as ok`).simple();
      return lock?.ok ? fn(tx, () => !over) : null;
    })) as T | null;
  } finally {
    over = true;
  }
}
