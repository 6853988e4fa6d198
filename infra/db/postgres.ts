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

/** Creates a pool. Callers own it and must `end()` it on shutdown. */
export function createSql(url: string, opts: SqlOptions = {}): Sql {
  return postgres(url, {
    max: opts.max ?? 10,
    // Idle connections go back to the server: many small processes share its max_connections.
    idle_timeout: 20,
    onnotice: () => {},
    connection: { application_name: opts.name ?? 'orderpilot' },
    ...(opts.onStatement === undefined ? {} : { debug: (_connection: number, query: string, parameters: unknown[]) => opts.onStatement?.(query, parameters) }),
  }) as Sql;
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
