import type { Sql } from '../../infra/db/postgres.ts';

/** Unacknowledged notifications per severity and kind (what `/metrics` shows). */
export async function readOpenNotificationCounts(sql: Sql): Promise<Array<{ severity: string; kind: string; count: number }>> {
  const rows = await sql<Array<{ severity: string; kind: string; count: number }>>`
    select severity, kind, count(*)::int as count from notifications where acknowledged_at is null group by severity, kind`;
  return [...rows];
}
