import postgres from 'postgres';

/** The postgres.js client type used across orderpilot. */
export type Sql = postgres.Sql<Record<string, never>>;
/** A transaction handle (the `sql` passed to `sql.begin`). */
export type TxSql = postgres.TransactionSql<Record<string, never>>;
/** A piece of SQL built with `sql\`…\`` to be placed inside another statement (e.g. as a CTE). */
export type SqlFragment = postgres.Fragment;

export interface SqlOptions {
  max?: number;
  /** Application name shown in pg_stat_activity. */
  name?: string;
  /**
   * Called for every statement sent (the bench counts them). Costs a stack capture per query
   * (postgres.js's debug hook), so it is off unless asked for.
   */
  onStatement?: (query: string, parameters: readonly unknown[]) => void;
}

/**
 * A Postgres URL as postgres.js takes it. libpq's way of naming a Unix socket,
 * `postgres://user@localhost/db?host=/var/run/postgresql` (the directory holding `.s.PGSQL.<port>`),
 * is not understood by postgres.js, which would send `host` to the server as a run-time setting and
 * fail; here it becomes postgres.js's `path` option. Any other URL passes through unchanged.
 */
export function connectionTarget(url: string): { url: string; path?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { url };
  }
  const dir = u.searchParams.get('host');
  if (dir === null || !dir.startsWith('/')) return { url };
  u.searchParams.delete('host');
  return { url: u.toString(), path: `${dir.replace(/\/+$/, '')}/.s.PGSQL.${u.port || '5432'}` };
}

/** postgres.js on `url` (TCP or, libpq-style, a Unix socket), with the given client options. */
export function openPostgres(url: string, options: postgres.Options<Record<string, postgres.PostgresType>> = {}): Sql {
  const target = connectionTarget(url);
  return postgres(target.url, target.path === undefined ? options : { ...options, path: target.path }) as Sql;
}

/** Leader locks' pool of each pool made by `createSql` (made on first use). */
const leaderPools = new WeakMap<Sql, () => Sql>();
/** Most leader locks one process holds at once (relay, sweeper, redrive, rechecks, one per polled shop); more wait. */
const LEADER_POOL_MAX = 16;

/**
 * Creates a pool. Callers own it and must `end()` it on shutdown (which also ends its leader pool).
 *
 * Leader locks (`withTryLock`: a transaction holding an advisory lock for as long as a process
 * leads, the outbox relay's for its whole life) are taken on a second pool of their own, made on
 * first use, so they never sit on the work pool's connections: the work pool can be small — a few
 * backends busy at once on a 2-core machine (Postgres spends less CPU per statement than with
 * twenty: README, "Benchmark") — without a leader's inner statements waiting for a connection that
 * the leaders themselves hold.
 */
export function createSql(url: string, opts: SqlOptions = {}): Sql {
  const name = opts.name ?? 'orderpilot';
  const common = {
    // Idle connections go back to the server: many small processes share its max_connections.
    idle_timeout: 20,
    onnotice: () => {},
    ...(opts.onStatement === undefined ? {} : { debug: (_connection: number, query: string, parameters: unknown[]) => opts.onStatement?.(query, parameters) }),
  };
  const sql = openPostgres(url, { ...common, max: opts.max ?? 10, connection: { application_name: name } });
  let leaders: Sql | null = null;
  let ended = false;
  // Once ended, no leader pool is made any more (nothing would end it): the ended work pool answers, with CONNECTION_ENDED.
  leaderPools.set(sql, () => (ended ? sql : (leaders ??= openPostgres(url, { ...common, max: LEADER_POOL_MAX, connection: { application_name: `${name}-leader` } }))));
  const endWork = sql.end.bind(sql);
  sql.end = async (options?: { timeout?: number | undefined }) => {
    ended = true;
    await Promise.all([endWork(options), leaders?.end(options)]);
  };
  return sql;
}

/** The pool leader locks are taken on: `sql`'s own leader pool when `createSql` made it, else `sql`. */
export function leaderPool(sql: Sql): Sql {
  return leaderPools.get(sql)?.() ?? sql;
}

/** SQLSTATEs that mean "try again": serialization failures, deadlocks, connection loss, shutdown. */
const RETRYABLE_SQLSTATE = new Set(['40001', '40P01', '55P03', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004', '53300']);
const RETRYABLE_NODE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT']);

/** True when a database error is transient (worth a retry), by error code, never by message text. */
export function isRetryableDbError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (RETRYABLE_SQLSTATE.has(code) || RETRYABLE_NODE_CODES.has(code));
}
