import type { Sql } from '../../infra/db/postgres.ts';
import type { ShopLogPort } from './shop-connector.port.ts';

/** The shop log and per-order progress in Postgres (`shop_log`, `shop_order_state`, migration 015). */
export function createShopLog(sql: Sql): ShopLogPort {
  return {
    async record(e) {
      await sql`
        insert into shop_log (shop, order_id, external_id, version, call_key, kind, method, url, request, http_status, response, ok, error_code, summary)
        values (${e.shop}, ${e.orderId}, ${e.externalId}, ${e.version}, ${e.callKey}, ${e.kind}, ${e.method ?? null}, ${e.url ?? null},
                ${e.request ?? null}, ${e.httpStatus ?? null}, ${e.response ?? null}, ${e.ok}, ${e.errorCode ?? null}, ${e.summary})`;
    },
    async isDone(callKey) {
      const rows = await sql`select 1 from shop_log where call_key = ${callKey} and ok limit 1`;
      return rows.length > 0;
    },
    async state(shop, orderId) {
      const [row] = await sql<{ last_version: number; last_status: string | null }[]>`
        select last_version, last_status from shop_order_state where shop = ${shop} and order_id = ${orderId}`;
      return row ? { lastVersion: row.last_version, lastStatus: row.last_status } : null;
    },
    async advance(s) {
      // Conditional on the version: a late writer never moves an order's progress backwards.
      await sql`
        insert into shop_order_state (shop, order_id, external_id, last_version, last_status)
        values (${s.shop}, ${s.orderId}, ${s.externalId}, ${s.version}, ${s.lastStatus})
        on conflict (shop, order_id) do update
          set last_version = excluded.last_version, last_status = excluded.last_status, updated_at = now()
          where shop_order_state.last_version < excluded.last_version`;
    },
  };
}
