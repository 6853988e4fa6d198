import type { Sql } from '../../infra/db/postgres.ts';

/**
 * Read side of the warehouse log for the admin API / console. The filtered timeline shows what is
 * worth an admin's time (rejections, gave-up, hand-off with tracking, delivery, failures, unmatched
 * statuses, re-reads after a release) and hides PICKING/PACKED chatter; which statuses count is
 * decided by `warehouse-status.mapping.ts` when a message is logged. The full log keeps everything raw.
 */

export interface WarehouseTimelineEntry {
  id: string;
  orderId: string | null;
  reference: string | null;
  shipmentId: string | null;
  direction: 'out' | 'in' | 'note';
  kind: string;
  status: string | null;
  orderEvent: string | null;
  errorCode: string | null;
  summary: string | null;
  /** When it happened (the warehouse's time for webhooks, else when we logged it). */
  occurredAt: string;
  at: string;
}

export interface WarehouseLogEntry extends WarehouseTimelineEntry {
  httpStatus: number | null;
  eventId: string | null;
  matched: boolean | null;
  timeline: boolean;
  raw: string;
  headers: Record<string, string> | null;
}

interface TimelineRow {
  id: string;
  order_id: string | null;
  reference: string | null;
  shipment_id: string | null;
  direction: 'out' | 'in' | 'note';
  kind: string;
  status: string | null;
  order_event: string | null;
  error_code: string | null;
  summary: string | null;
  occurred_at: Date;
  at: Date;
}

interface LogRow extends TimelineRow {
  http_status: number | null;
  event_id: string | null;
  matched: boolean | null;
  timeline: boolean;
  raw: string;
  headers: Record<string, string> | null;
}

function toEntry(r: TimelineRow): WarehouseTimelineEntry {
  return {
    id: String(r.id),
    orderId: r.order_id,
    reference: r.reference,
    shipmentId: r.shipment_id,
    direction: r.direction,
    kind: r.kind,
    status: r.status,
    orderEvent: r.order_event,
    errorCode: r.error_code,
    summary: r.summary,
    occurredAt: r.occurred_at.toISOString(),
    at: r.at.toISOString(),
  };
}

/** An order's filtered warehouse timeline, oldest first (the `warehouse_timeline` view). */
export async function warehouseTimeline(sql: Sql, orderId: string, opts: { limit?: number } = {}): Promise<WarehouseTimelineEntry[]> {
  const rows = await sql<TimelineRow[]>`
    select id, order_id, reference, shipment_id, direction, kind, status, order_event, error_code, summary, occurred_at, at
    from warehouse_timeline where order_id = ${orderId} or (order_id is null and reference = ${orderId})
    order by id limit ${opts.limit ?? 500}`;
  return rows.map(toEntry);
}

/** Everything sent to and received from the warehouse for an order, raw, oldest first. */
export async function warehouseLog(sql: Sql, orderId: string, opts: { limit?: number; after?: string } = {}): Promise<WarehouseLogEntry[]> {
  const rows = await sql<LogRow[]>`
    select id, order_id, reference, shipment_id, direction, kind, status, order_event, error_code, summary,
           coalesce(occurred_at, at) as occurred_at, at, http_status, event_id, matched, timeline, raw, headers
    from warehouse_log
    where (order_id = ${orderId} or reference = ${orderId}) ${opts.after ? sql`and id > ${opts.after}` : sql``}
    order by id limit ${opts.limit ?? 1000}`;
  return rows.map((r) => ({
    ...toEntry(r),
    httpStatus: r.http_status,
    eventId: r.event_id,
    matched: r.matched,
    timeline: r.timeline,
    raw: r.raw,
    headers: r.headers,
  }));
}

/** Warehouse messages that matched no order (newest first): statuses for unknown references, unreadable webhooks. */
export async function unmatchedWarehouseMessages(sql: Sql, opts: { limit?: number } = {}): Promise<WarehouseTimelineEntry[]> {
  const rows = await sql<TimelineRow[]>`
    select id, order_id, reference, shipment_id, direction, kind, status, order_event, error_code, summary,
           coalesce(occurred_at, at) as occurred_at, at
    from warehouse_log where matched = false order by at desc, id desc limit ${opts.limit ?? 100}`;
  return rows.map(toEntry);
}
