import type { Sql } from '../../infra/db/postgres.ts';
import { toStored, type NotificationRow } from './notification.store.ts';
import type { NotificationView, Severity } from './notification.types.ts';

/**
 * The notifications read model (and the admins' acknowledgements) for the admin API and console;
 * the rows are mapped like the service's own (`toStored`).
 */

export interface NotificationFilter {
  /** 'open' (unacknowledged, the default), 'acknowledged' or 'all'. */
  status?: 'open' | 'acknowledged' | 'all';
  orderId?: string;
  severity?: Severity;
  limit?: number;
  /** Keyset paging: notifications with a smaller id than this. */
  before?: string;
}

interface Row extends NotificationRow {
  last_seen_at: Date;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  delivery: Record<string, string> | null;
}

/** Lists notifications, newest first. */
export async function listNotifications(sql: Sql, f: NotificationFilter = {}): Promise<NotificationView[]> {
  const status = f.status ?? 'open';
  const limit = Math.min(Math.max(f.limit ?? 100, 1), 500);
  const rows = await sql<Row[]>`
    select n.id, n.kind, n.severity, n.code, n.order_id, n.external_id, n.message, n.occurrences, n.created_at,
           n.last_seen_at, n.acknowledged_at, n.acknowledged_by,
           (select jsonb_object_agg(d.channel, d.status) from notification_deliveries d where d.notification_id = n.id) as delivery
    from notifications n
    where true
      ${status === 'open' ? sql`and n.acknowledged_at is null` : status === 'acknowledged' ? sql`and n.acknowledged_at is not null` : sql``}
      ${f.orderId ? sql`and n.order_id = ${f.orderId}` : sql``}
      ${f.severity ? sql`and n.severity = ${f.severity}` : sql``}
      ${f.before ? sql`and n.id < ${f.before}` : sql``}
    order by n.id desc limit ${limit}`;
  return rows.map((r) => ({
    ...toStored(r),
    lastSeenAt: r.last_seen_at.toISOString(),
    acknowledgedAt: r.acknowledged_at?.toISOString() ?? null,
    acknowledgedBy: r.acknowledged_by,
    delivery: r.delivery ?? {},
  }));
}

/** Open notifications per severity (the console's badge). */
export async function countOpenNotifications(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql<{ severity: string; n: number }[]>`
    select severity, count(*)::int as n from notifications where acknowledged_at is null group by severity`;
  return Object.fromEntries(rows.map((r) => [r.severity, r.n]));
}

/**
 * Acknowledges notifications by id (already acknowledged ones are left as they were). Their pending
 * deliveries are skipped, and the same problem on the same order may notify again later.
 * Returns the ids it acknowledged now.
 */
export async function acknowledgeNotifications(sql: Sql, ids: readonly string[], by: string): Promise<string[]> {
  const clean = ids.filter((id) => /^\d{1,18}$/.test(id));
  if (clean.length === 0) return [];
  const rows = await sql<{ id: string }[]>`
    update notifications set acknowledged_at = now(), acknowledged_by = ${by}
    where id = any(${clean}::bigint[]) and acknowledged_at is null returning id`;
  return rows.map((r) => String(r.id));
}

/**
 * Acknowledges the open notifications of one order, of the given kinds (all kinds when omitted) —
 * used when an admin acts on the problem, so that the same problem coming back notifies again.
 */
export async function acknowledgeOrderNotifications(sql: Sql, orderId: string, by: string, kinds?: readonly string[]): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    update notifications set acknowledged_at = now(), acknowledged_by = ${by}
    where order_id = ${orderId} and acknowledged_at is null
      ${kinds ? sql`and kind = any(${kinds}::text[])` : sql``}
    returning id`;
  return rows.map((r) => String(r.id));
}
