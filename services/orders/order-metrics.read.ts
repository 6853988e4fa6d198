import type { Sql } from '../../infra/db/postgres.ts';

/** What `/metrics` shows of the orders service's tables (one scrape = these four short reads). */
export interface OrderMetrics {
  /** Orders per summary state (pending, processing, held, closed, …). */
  byState: Array<{ state: string; count: number }>;
  /** Held orders per hold reason code. */
  heldByReason: Array<{ reason: string; count: number }>;
  /** Orders per document-region state (none, requested, issued, emailed, failed, …). */
  documentsByState: Array<{ state: string; count: number }>;
  /** Outbox rows not yet published, and the age of the oldest (0 when none). */
  outbox: { backlog: number; oldestAgeSeconds: number };
}

export async function readOrderMetrics(sql: Sql): Promise<OrderMetrics> {
  const [byState, held, documents, outbox] = await Promise.all([
    sql<Array<{ state: string; count: number }>>`select state, count(*)::int as count from orders group by state`,
    sql<Array<{ reason: string; count: number }>>`select coalesce(hold_code, 'UNKNOWN') as reason, count(*)::int as count from orders where state = 'held' group by 1`,
    sql<Array<{ state: string; count: number }>>`select document_state as state, count(*)::int as count from orders group by document_state`,
    // The partial index outbox_unsent_idx keeps this cheap however large the sent history grows.
    sql<Array<{ backlog: number; age: number | null }>>`
      select count(*)::int as backlog, extract(epoch from now() - min(created_at))::float8 as age
      from outbox where sent_at is null`,
  ]);
  return {
    byState: [...byState],
    heldByReason: [...held],
    documentsByState: [...documents],
    outbox: { backlog: outbox[0]?.backlog ?? 0, oldestAgeSeconds: Math.max(0, outbox[0]?.age ?? 0) },
  };
}
