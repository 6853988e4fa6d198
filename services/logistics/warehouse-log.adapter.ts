import { createGroupedWrites } from '../../infra/db/grouped-writes.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import type { WarehouseExchange, WarehouseLogPort } from './warehouse.port.ts';

/** Postgres text cannot hold NUL: one such byte from a warehouse must not fail the rows logged with it. */
function storable(s: string | null): string | null {
  return s === null ? null : s.replace(/\u0000/g, '\uFFFD');
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
    maxInFlight: 4,
    maxBatch: 100,
    async write(batch) {
      const rows = batch.map((e) => ({
        order_id: storable(e.orderId),
        reference: storable(e.reference),
        shipment_id: storable(e.shipmentId ?? null),
        direction: e.direction,
        kind: e.kind,
        status: storable(e.status),
        http_status: e.httpStatus ?? null,
        event_id: storable(e.eventId ?? null),
        dedupe_key: storable(e.dedupeKey ?? null),
        matched: e.matched ?? null,
        order_event: e.orderEvent ?? null,
        error_code: e.errorCode ?? null,
        timeline: e.timeline ?? false,
        summary: storable(e.summary ?? null),
        raw: storable(e.raw) ?? '',
        headers: e.headers ? sql.json(e.headers) : null,
        occurred_at: validTime(e.occurredAt),
      }));
      const inserted = await sql<{ dedupe_key: string | null }[]>`
        insert into warehouse_log ${sql(rows as never, 'order_id', 'reference', 'shipment_id', 'direction', 'kind', 'status', 'http_status', 'event_id', 'dedupe_key', 'matched', 'order_event', 'error_code', 'timeline', 'summary', 'raw', 'headers', 'occurred_at')}
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
