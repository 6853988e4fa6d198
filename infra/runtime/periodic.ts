import type { Sql } from '../db/postgres.ts';
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
 * Runs `fn` while this process holds the Postgres advisory lock `key`, or resolves null at once when
 * another session holds it: one process of many does the work, the others skip that round. `fn` gets
 * the connection that holds the lock (reserved from the pool for the run).
 *
 * A session lock, not a transaction's: `fn` may take seconds (the work-queue sweeper's NATS requests
 * on a loaded machine took 2–7 s), and a transaction left open that long, even idle, holds back the
 * database's xmin horizon — no dead row anywhere could be pruned or vacuumed meanwhile, and index
 * scans walked the outbox's sent rows again in every relay batch. The lock goes with the session if
 * the connection breaks or the process dies.
 */
export async function withTryLock<T>(sql: Sql, key: number, fn: (db: Sql) => Promise<T>): Promise<T | null> {
  const db = await sql.reserve();
  let locked = false;
  try {
    const [lock] = await db<{ ok: boolean }[]>`select pg_try_advisory_lock(${key}) as ok`;
    locked = lock?.ok === true;
    return locked ? await fn(db) : null;
  } finally {
    // Fails only with the connection, whose session (and lock) is gone with it.
    if (locked) await db`select pg_advisory_unlock(${key})`.catch(() => {});
    db.release();
  }
}
