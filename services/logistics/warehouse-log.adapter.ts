import type { Sql } from '../../infra/db/postgres.ts';
import type { WarehouseExchange, WarehouseLogPort } from './warehouse.port.ts';

function validTime(s: string | null | undefined): string | null {
  if (typeof s !== 'string') return null;
  return Number.isNaN(Date.parse(s)) ? null : s;
}

/** The warehouse log in Postgres (`warehouse_log`, migration 004). */
export function createWarehouseLog(sql: Sql): WarehouseLogPort & { isKnownReference(reference: string): Promise<boolean> } {
  return {
    /** A reference is ours when we submitted a shipment with it (the request is logged before it is sent). */
    async isKnownReference(reference: string): Promise<boolean> {
      const rows = await sql`select 1 from warehouse_log where reference = ${reference} and kind = 'submit-request' limit 1`;
      return rows.length > 0;
    },
    async record(e: WarehouseExchange): Promise<boolean> {
      const rows = await sql`
        insert into warehouse_log
          (order_id, reference, shipment_id, direction, kind, status, http_status, event_id, dedupe_key, matched,
           order_event, error_code, timeline, summary, raw, headers, occurred_at)
        values (${e.orderId}, ${e.reference}, ${e.shipmentId ?? null}, ${e.direction}, ${e.kind}, ${e.status},
           ${e.httpStatus ?? null}, ${e.eventId ?? null}, ${e.dedupeKey ?? null}, ${e.matched ?? null},
           ${e.orderEvent ?? null}, ${e.errorCode ?? null}, ${e.timeline ?? false}, ${e.summary ?? null}, ${e.raw},
           ${e.headers ? sql.json(e.headers) : null}, ${validTime(e.occurredAt)})
        on conflict (dedupe_key) do nothing
        returning id`;
      return rows.length > 0;
    },
  };
}
