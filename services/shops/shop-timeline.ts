import type { Sql } from '../../infra/db/postgres.ts';

export interface ShopLogEntry {
  id: string;
  shop: string;
  kind: string;
  method: string | null;
  url: string | null;
  request: string | null;
  httpStatus: number | null;
  response: string | null;
  ok: boolean;
  errorCode: string | null;
  summary: string;
  version: number | null;
  at: string;
}

/** Every request to an order's shop and its answer, oldest first (the order page's shop timeline). */
export async function shopLog(sql: Sql, orderId: string): Promise<ShopLogEntry[]> {
  const rows = await sql<Array<Omit<ShopLogEntry, 'at' | 'id'> & { id: string; at: Date }>>`
    select id::text as id, shop, kind, method, url, request, http_status as "httpStatus", response, ok,
           error_code as "errorCode", summary, version, at
    from shop_log where order_id = ${orderId} order by id`;
  return rows.map((r) => ({ ...r, at: r.at.toISOString() }));
}

/**
 * What matters of an order's shop log (the order page's default view): the calls that reached the
 * shop, and the updates given up or skipped; failed attempts that were retried are in `shopLog`.
 */
export async function shopTimeline(sql: Sql, orderId: string): Promise<ShopLogEntry[]> {
  return (await shopLog(sql, orderId)).filter((e) => e.ok || e.kind === 'gave-up' || e.kind === 'skipped-unknown-shop');
}
