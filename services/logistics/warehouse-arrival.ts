import type { Sql, SqlFragment } from '../../infra/db/postgres.ts';
import { isStorableText, warehouseEventKey, type WarehouseWebhook } from '../contracts/index.ts';
import { mapWarehouseWebhook, type MappedOrderEvent } from './warehouse-status.mapping.ts';

/**
 * A status webhook handled where it arrives (the gateway), so a status travels no further than it
 * must: its warehouse-log row is written in the same statement as the webhook's inbox row
 * (`logArrivals`), and only a status that moves the order is published — straight to the order's
 * event stream, with the same message id the logistics service would use (`warehouse:<eventId>`).
 *
 * The long way (a `warehouse-status` command to the logistics service, `warehouse-status.handler.ts`)
 * stays for everything that needs more than a log row: a reference we never submitted, a status the
 * mapping does not know (both tell an admin), a repeat of a stored webhook and an admin's replay.
 */
export interface WarehouseArrival {
  /** The inbox row's and the log row's dedupe key, and the order event's message id. */
  readonly dedupeKey: string;
  readonly reference: string;
  readonly shipmentId: string;
  readonly status: string;
  readonly eventId: string;
  readonly timeline: boolean;
  readonly summary: string;
  readonly raw: string;
  readonly occurredAt: string | null;
  /** The order event to publish, or null when the status is only logged. */
  readonly orderEvent: MappedOrderEvent | null;
}

const unstorable = (s: string | null | undefined) => typeof s === 'string' && !isStorableText(s);

function validTime(s: string): string | null {
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/**
 * What a verified status webhook does where it arrives, or null when it must go the long way: a
 * status the mapping does not know, or text Postgres cannot store (one bad value would fail a
 * whole batch of inbox rows; the logistics service logs such a webhook on its own).
 */
export function warehouseArrival(hook: WarehouseWebhook, raw: string): WarehouseArrival | null {
  const mapped = mapWarehouseWebhook(hook);
  if (mapped.unknownStatus) return null;
  if ([raw, hook.reference, hook.shipmentId, hook.status, hook.eventId, mapped.summary].some(unstorable)) return null;
  return {
    dedupeKey: warehouseEventKey(hook.eventId),
    reference: hook.reference,
    shipmentId: hook.shipmentId,
    status: hook.status,
    eventId: hook.eventId,
    timeline: mapped.timeline,
    summary: mapped.summary,
    raw,
    occurredAt: validTime(hook.occurredAt),
    orderEvent: mapped.event,
  };
}

/**
 * "One of our shipments?" for the arrival `v` of a statement: its reference has a `submit-request`
 * (logged before any submit is sent, so a genuine status cannot overtake it). One condition for
 * `logArrivals` and `settledArrivals`, which must agree on it (migration 020's partial index answers it).
 *
 * `offset 0` keeps it one index probe per arrival: without the fence Postgres may turn the
 * EXISTS into a hash of every submitted reference, and the plan a connection keeps from a young log
 * did so — one walk of the whole index in every statement, however few arrivals it carried.
 */
const SUBMITTED = (sql: Sql): SqlFragment => sql`exists (select 1 from warehouse_log l where l.reference = v.reference and l.kind = 'submit-request' offset 0)`;

/**
 * The warehouse-log rows of `arrivals` as one data-modifying statement, to be run as a CTE of the
 * webhook inbox's insert: a row is written only when its webhook's inbox row is new in that very
 * statement (`new_inbox_rows(dedupe_key)`) and its reference is one we submitted (`SUBMITTED`). Returns the
 * `dedupe_key` of each row written; a webhook without one goes the long way.
 */
export function logArrivals(sql: Sql, arrivals: readonly WarehouseArrival[]): SqlFragment {
  // The rows as ONE jsonb parameter (serialized by JSON.stringify at once; as ten text arrays postgres.js
  // escaped every element — the raw bodies too — in JavaScript). `warehouseArrival` lets no text that jsonb
  // refuses through, so one hostile webhook cannot fail the batch.
  const rows = arrivals.map((a) => ({
    reference: a.reference,
    shipment_id: a.shipmentId,
    status: a.status,
    event_id: a.eventId,
    dedupe_key: a.dedupeKey,
    order_event: a.orderEvent?.type ?? null,
    timeline: a.timeline,
    summary: a.summary,
    raw: a.raw,
    occurred_at: a.occurredAt,
  }));
  return sql`
    insert into warehouse_log
      (order_id, reference, shipment_id, direction, kind, status, event_id, dedupe_key, matched, order_event, timeline, summary, raw, occurred_at)
    select v.reference, v.reference, v.shipment_id, 'in', 'webhook', v.status, v.event_id, v.dedupe_key, true, v.order_event,
           v.timeline, v.summary, v.raw, v.occurred_at
      from jsonb_to_recordset(${sql.json(rows as never)}::jsonb)
           as v(reference text, shipment_id text, status text, event_id text, dedupe_key text, order_event text,
                timeline boolean, summary text, raw text, occurred_at timestamptz)
     where v.dedupe_key in (select n.dedupe_key from new_inbox_rows n)
       and ${SUBMITTED(sql)}
    on conflict (dedupe_key) do nothing
    returning dedupe_key`;
}

/**
 * The arrivals whose webhook `logArrivals` completes — a status only logged (no order event), for a
 * reference we submitted, the same test on the same statement's snapshot, and with no log row under
 * its key yet (which would make `logArrivals` skip it and the webhook go the long way) — as a SELECT
 * of their dedupe keys, or null when the batch has none. The webhook inbox inserts their rows already
 * marked published (`AlongsideWriter.settled`), so a status only logged costs one row write, not two.
 */
export function settledArrivals(sql: Sql, arrivals: readonly WarehouseArrival[]): SqlFragment | null {
  const onlyLogged = arrivals.filter((a) => a.orderEvent === null);
  if (onlyLogged.length === 0) return null;
  return sql`
    select v.dedupe_key from unnest(${onlyLogged.map((a) => a.dedupeKey)}::text[], ${onlyLogged.map((a) => a.reference)}::text[]) as v(dedupe_key, reference)
     where ${SUBMITTED(sql)}
       and not exists (select 1 from warehouse_log l where l.dedupe_key = v.dedupe_key offset 0)`; // a probe too (see SUBMITTED)
}
