import { createGroupedWrites } from '../../infra/db/grouped-writes.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import { storableText } from '../contracts/index.ts';
import type { WarehouseExchange, WarehouseLogPort } from './warehouse.port.ts';

/** Postgres text cannot hold NUL (nor a lone surrogate): one such value from a warehouse must not fail the rows logged with it. */
function storable(s: string | null): string | null {
  return s === null ? null : storableText(s);
}

function validTime(s: string | null | undefined): string | null {
  if (typeof s !== 'string') return null;
  return Number.isNaN(Date.parse(s)) ? null : s;
}

/** The warehouse log in Postgres (`warehouse_log`, migration 004). */
export function createWarehouseLog(sql: Sql): WarehouseLogPort & { isKnownReference(reference: string): Promise<boolean> } {
  // Concurrent submits log together (infra/db/grouped-writes.ts): many rows, one INSERT, one commit.
  // A row's insert still commits before its caller goes on (a request is logged before it is sent).
  const insert = createGroupedWrites<WarehouseExchange, boolean>({
    maxBatch: 100,
    async write(batch) {
      const rows = batch.map((e) => ({
        order_id: storable(e.orderId),
        reference: storable(e.reference),
        shipment_id: storable(e.shipmentId ?? null),
        direction: e.direction,
        kind: e.kind,
        status: storable(e.status),
        http_status: e.httpStatus === undefined || e.httpStatus === null ? null : String(e.httpStatus),
        event_id: storable(e.eventId ?? null),
        dedupe_key: storable(e.dedupeKey ?? null),
        matched: e.matched === undefined || e.matched === null ? null : String(e.matched),
        order_event: e.orderEvent ?? null,
        error_code: e.errorCode ?? null,
        timeline: String(e.timeline ?? false),
        summary: storable(e.summary ?? null),
        raw: storable(e.raw) ?? '',
        headers: e.headers ? JSON.stringify(e.headers) : null,
        occurred_at: validTime(e.occurredAt),
      }));
      const col = (k: keyof (typeof rows)[number]) => rows.map((r) => r[k]);
      // One array per column (unnest): the same statement text for every batch size, prepared once per connection.
      const inserted = await sql<{ dedupe_key: string | null }[]>`
        insert into warehouse_log (order_id, reference, shipment_id, direction, kind, status, http_status, event_id, dedupe_key, matched, order_event, error_code, timeline, summary, raw, headers, occurred_at)
        select v.order_id, v.reference, v.shipment_id, v.direction, v.kind, v.status, v.http_status::int, v.event_id, v.dedupe_key, v.matched::boolean,
               v.order_event, v.error_code, v.timeline::boolean, v.summary, v.raw, v.headers::jsonb, v.occurred_at::timestamptz
          from unnest(${col('order_id')}::text[], ${col('reference')}::text[], ${col('shipment_id')}::text[], ${col('direction')}::text[], ${col('kind')}::text[],
                      ${col('status')}::text[], ${col('http_status')}::text[], ${col('event_id')}::text[], ${col('dedupe_key')}::text[], ${col('matched')}::text[],
                      ${col('order_event')}::text[], ${col('error_code')}::text[], ${col('timeline')}::text[], ${col('summary')}::text[], ${col('raw')}::text[],
                      ${col('headers')}::text[], ${col('occurred_at')}::text[])
            as v(order_id, reference, shipment_id, direction, kind, status, http_status, event_id, dedupe_key, matched, order_event, error_code, timeline, summary, raw, headers, occurred_at)
        on conflict (dedupe_key) do nothing
        returning dedupe_key`;
      // A row without a dedupe key is always new; a keyed one is new only for its first waiter.
      const fresh = new Set(inserted.map((r) => r.dedupe_key).filter((k): k is string => k !== null));
      return rows.map((r) => r.dedupe_key === null || fresh.delete(r.dedupe_key));
    },
  });
  return {
    /** A reference is ours when we submitted a shipment with it (the request is logged before it is sent). */
    async isKnownReference(reference: string): Promise<boolean> {
      const rows = await sql`select 1 from warehouse_log where reference = ${reference} and kind = 'submit-request' limit 1`;
      return rows.length > 0;
    },
    record: (e: WarehouseExchange) => insert(e),
  };
}
