import type { Sql } from '../infra/db/postgres.ts';
import type { Logger } from '../infra/logger.ts';

/** What the gateway's rechecks (intake, webhooks) share: how often, how late, how far back, how much at once. */
export interface RecheckOptions {
  sql: Sql;
  logger: Logger;
  /** Pause between checks (0: only `check()` by hand). */
  everyMs: number;
  /** Rows younger than this are not looked at yet (what they led to may be on its way). */
  graceMs: number;
  /** How far back the first check after a start looks (default 24 h: a gateway down for hours still rechecks what it accepted before). */
  lookbackMs?: number;
  /** Most rows one check reads (default 5,000; the next check goes on from there). */
  maxRows?: number;
}

/**
 * A recheck's place in time as it walks a table by a timestamp: each check reads the window
 * (`from`, `until`], `until` being `graceMs` ago; a full page goes on from its last row next time,
 * else from `until`. Each gateway keeps its own.
 */
export function recheckWindow(o: Pick<RecheckOptions, 'graceMs' | 'lookbackMs' | 'maxRows'>) {
  const maxRows = o.maxRows ?? 5000;
  let from = new Date(Date.now() - (o.lookbackMs ?? 24 * 3600_000));
  return {
    maxRows,
    next(): { from: Date; until: Date } {
      return { from, until: new Date(Date.now() - o.graceMs) };
    },
    /** After reading `count` rows of the window ordered by time, the last at `lastAt`. */
    advance(until: Date, count: number, lastAt: Date | undefined): void {
      from = count === maxRows && lastAt ? lastAt : until;
    },
  };
}
