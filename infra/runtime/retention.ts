import type { Logger } from '../logger.ts';

export interface RetentionOptions {
  /** What is deleted, for the log ("rejected webhooks", "admin idempotency keys"). */
  what: string;
  /** Deletes what is older than the date; resolves with how many rows went. */
  prune: (olderThan: Date) => Promise<number>;
  retentionMs: number;
  logger: Logger;
  /** Default hourly. */
  everyMs?: number;
}

/**
 * Deletes rows past their retention: once at start, then every `everyMs` (one run at a time; a failed
 * run is logged and the next one tries again). Several processes may prune the same table: deletes of
 * old rows are idempotent. Returns a stop function.
 */
export function startRetention(o: RetentionOptions): () => void {
  let running: Promise<void> | null = null;
  const run = () => {
    if (running) return;
    running = o
      .prune(new Date(Date.now() - o.retentionMs))
      .then((n) => {
        if (n > 0) o.logger.info({ deleted: n, retentionMs: o.retentionMs }, `${o.what} past their retention deleted`);
      })
      .catch((err: unknown) => o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, `${o.what}: retention failed; will try again`))
      .finally(() => {
        running = null;
      });
  };
  run();
  const timer = setInterval(run, o.everyMs ?? 3600_000);
  timer.unref();
  return () => clearInterval(timer);
}
