import type { Sql, TxSql } from '../db/postgres.ts';
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
 */
export async function withTryLock<T>(sql: Sql, key: number, fn: (tx: TxSql) => Promise<T>): Promise<T | null> {
  return sql.begin(async (tx) => {
    const [lock] = await tx<{ ok: boolean }[]>`select pg_try_advisory_xact_lock(${key}) as ok`;
    return lock?.ok ? fn(tx) : null;
  }) as Promise<T | null>;
}
