import type { StateValue } from 'xstate';
import type { Sql, TxSql } from '../../infra/db/postgres.ts';
import { activeStateIds } from '../../machines/machine-graph.ts';
import {
  allowedAdminEvents,
  READABLE_MACHINE_VERSIONS,
  restoreOrderSnapshot,
  type AdminEventType,
  type Failure,
  type Hold,
  type OrderContext,
  type OrderStatus,
} from '../../machines/order/index.ts';

/**
 * The orders read model: what the admin API, the console and the payment webhooks may know about
 * orders, as typed values. Only this service knows the shape of the stored snapshot (the JSON paths
 * below); everyone else asks through `services/orders/index.ts`.
 */

/** One row of the order list. */
export interface OrderSummary {
  id: string;
  externalId: string;
  state: string;
  documentState: string;
  customerEmail: string;
  customerName: string | null;
  holdCode: string | null;
  total: number;
  currency: string;
  documentNumber: string | null;
  trackingNumber: string | null;
  createdAt: string;
  updatedAt: string;
}

/** How a list is ordered: newest / oldest by creation, or most recently changed first. */
export type OrderSort = 'newest' | 'oldest' | 'updated';
export const ORDER_SORTS: readonly OrderSort[] = ['newest', 'oldest', 'updated'];

/** Keyset position in the list (by the sort's time column, then id). */
export interface OrderCursor {
  /** The sort column's timestamp as Postgres prints it (full precision). */
  at: string;
  id: string;
}

export interface OrderListFilter {
  state?: OrderStatus | undefined;
  /**
   * Text search in externalId, customer e-mail and name, or an exact order id, document number or
   * tracking number.
   */
  q?: string | undefined;
  /** Created at or after / before these instants (ISO). */
  from?: string | undefined;
  to?: string | undefined;
  sort?: OrderSort | undefined;
  limit: number;
  /** Orders older than this position. */
  before?: OrderCursor | null | undefined;
}

/** One order as the admin API shows it: stored state, the machine's context, what an admin may send now. */
export interface OrderDetail {
  id: string;
  externalId: string;
  state: string;
  documentState: string;
  value: StateValue;
  context: OrderContext;
  machineVersion: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  /** The admin events the machine accepts now; none for a snapshot of a machine version we do not run. */
  allowedEvents: AdminEventType[];
}

/** One event offered to an order (applied or ignored), oldest first. */
export interface OrderHistoryEntry {
  id: string;
  messageId: string;
  type: string;
  source: string;
  outcome: string;
  from: string | null;
  to: string | null;
  toValue: unknown;
  payload: unknown;
  actor: string | null;
  note: string | null;
  occurredAt: string;
  at: string;
}

/** An order a payment provider refers to (by our id or the shop's externalId). */
export interface OrderReference {
  orderId: string;
  externalId: string;
}

export interface HeldOrder {
  id: string;
  externalId: string;
  hold: Hold | null;
  holdCount: number;
  updatedAt: string;
}

export interface FailedDocument {
  id: string;
  externalId: string;
  state: string;
  failure: Failure | null;
  documentRequests: number;
}

function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Orders newest first, filtered; `next` is the position after the page when there are more. */
export async function listOrders(sql: Sql, f: OrderListFilter): Promise<{ items: OrderSummary[]; next: OrderCursor | null }> {
  const { state, q, limit, before: c } = f;
  const sort = f.sort ?? 'newest';
  const col = sort === 'updated' ? sql`updated_at` : sql`created_at`;
  const after = sort === 'oldest';
  const rows = await sql<
    {
      id: string; external_id: string; state: string; document_state: string; customer_email: string; customer_name: string | null; hold_code: string | null;
      total: number; currency: string; document_number: string | null; tracking_number: string | null; created_at: Date; updated_at: Date; sort_key: string;
    }[]
  >`
    select id, external_id, state, document_state, customer_email, hold_code,
           snapshot->'context'->'order'->'customer'->>'name' as customer_name,
           snapshot->'context'->'order'->'total' as total, snapshot->'context'->'order'->'currency' as currency,
           snapshot->'context'->'document'->>'number' as document_number, snapshot->'context'->>'trackingNumber' as tracking_number,
           created_at, updated_at, ${col}::text as sort_key
    from orders
    where true
      ${state ? sql`and state = ${state}` : sql``}
      ${
        q
          ? sql`and (external_id ilike ${likePattern(q)} or customer_email ilike ${likePattern(q.toLowerCase())} or id = ${q}
              or snapshot->'context'->'order'->'customer'->>'name' ilike ${likePattern(q)}
              or snapshot->'context'->'document'->>'number' = ${q} or snapshot->'context'->>'trackingNumber' = ${q})`
          : sql``
      }
      ${f.from ? sql`and created_at >= ${f.from}::timestamptz` : sql``}
      ${f.to ? sql`and created_at < ${f.to}::timestamptz` : sql``}
      ${c ? (after ? sql`and (${col}, id) > (${c.at}::timestamptz, ${c.id})` : sql`and (${col}, id) < (${c.at}::timestamptz, ${c.id})`) : sql``}
    order by ${col} ${after ? sql`asc` : sql`desc`}, id ${after ? sql`asc` : sql`desc`}
    limit ${limit + 1}`;
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({
      id: r.id,
      externalId: r.external_id,
      state: r.state,
      documentState: r.document_state,
      customerEmail: r.customer_email,
      customerName: r.customer_name,
      holdCode: r.hold_code,
      total: r.total,
      currency: r.currency,
      documentNumber: r.document_number,
      trackingNumber: r.tracking_number,
      createdAt: r.created_at.toISOString(),
      updatedAt: r.updated_at.toISOString(),
    })),
    next: rows.length > limit && last ? { at: last.sort_key, id: last.id } : null,
  };
}

/** One order by our id or the shop's externalId (our id first); null when there is none. */
export async function findOrder(sql: Sql, idOrExternal: string): Promise<OrderDetail | null> {
  const [row] = await sql<
    { id: string; external_id: string; state: string; document_state: string; snapshot: { value: StateValue; context: OrderContext }; machine_version: string; version: number; created_at: Date; updated_at: Date }[]
  >`
    select id, external_id, state, document_state, snapshot, machine_version, version, created_at, updated_at from orders where id = ${idOrExternal}
    union all
    select id, external_id, state, document_state, snapshot, machine_version, version, created_at, updated_at from orders where external_id = ${idOrExternal} and id <> ${idOrExternal}
    limit 1`;
  if (!row) return null;
  return {
    id: row.id,
    externalId: row.external_id,
    state: row.state,
    documentState: row.document_state,
    value: row.snapshot.value,
    context: row.snapshot.context,
    machineVersion: row.machine_version,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    allowedEvents: READABLE_MACHINE_VERSIONS.includes(row.machine_version) ? allowedAdminEvents(restoreOrderSnapshot(row.snapshot)) : [],
  };
}

/** Every event offered to the order, oldest first. */
/** An applied transition of some order, newest first (the console's inspector across orders). */
export interface RecentTransition {
  id: string;
  orderId: string;
  externalId: string;
  type: string;
  from: string | null;
  to: string | null;
  toValue: unknown;
  payload: unknown;
  actor: string | null;
  occurredAt: string;
  at: string;
}

/** The newest `limit` transitions that changed an order (created or applied), across orders or of one. */
export async function recentTransitions(sql: Sql, opts: { limit: number; orderId?: string }): Promise<RecentTransition[]> {
  const rows = await sql<
    { id: string; order_id: string; external_id: string; type: string; from_state: string | null; to_state: string | null; to_value: unknown; payload: unknown; actor: string | null; occurred_at: Date; at: Date }[]
  >`
    select h.id::text as id, h.order_id, o.external_id, h.type, h.from_state, h.to_state, h.to_value, h.payload, h.actor, h.occurred_at, h.at
    from order_history h join orders o on o.id = h.order_id
    where h.outcome in ('created', 'applied') ${opts.orderId ? sql`and h.order_id = ${opts.orderId}` : sql``}
    order by h.id desc limit ${Math.min(Math.max(opts.limit, 1), 200)}`;
  return rows.map((h) => ({
    id: h.id,
    orderId: h.order_id,
    externalId: h.external_id,
    type: h.type,
    from: h.from_state,
    to: h.to_state,
    toValue: h.to_value,
    payload: h.payload,
    actor: h.actor,
    occurredAt: h.occurred_at.toISOString(),
    at: h.at.toISOString(),
  }));
}

export async function orderHistory(sql: Sql, orderId: string): Promise<OrderHistoryEntry[]> {
  const rows = await sql<
    { id: string; message_id: string; type: string; source: string; outcome: string; from_state: string | null; to_state: string | null; to_value: unknown; payload: unknown; actor: string | null; note: string | null; occurred_at: Date; at: Date }[]
  >`
    select id::text as id, message_id, type, source, outcome, from_state, to_state, to_value, payload, actor, note, occurred_at, at
    from order_history where order_id = ${orderId} order by order_history.id`; // the bigint column: the text alias `id` sorts "1000" before "999"
  return rows.map((h) => ({
    id: h.id,
    messageId: h.message_id,
    type: h.type,
    source: h.source,
    outcome: h.outcome,
    from: h.from_state,
    to: h.to_state,
    toValue: h.to_value,
    payload: h.payload,
    actor: h.actor,
    note: h.note,
    occurredAt: h.occurred_at.toISOString(),
    at: h.at.toISOString(),
  }));
}

/** Which of these order ids have no order (yet): what the gateway's intake recheck republishes. */
export async function missingOrders(sql: Sql | TxSql, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  // One primary-key probe per id (`offset 0`: not turned into an anti join, which a plan kept from a
  // young table made a hash of every order).
  const rows = await sql<{ id: string }[]>`
    select t.id from unnest(${[...ids]}::text[]) as t(id) where not exists (select 1 from orders o where o.id = t.id offset 0)`;
  return rows.map((r) => r.id);
}

/**
 * The one order a payment reference names, deterministically: our order id; or `<shop>:<externalId>`;
 * or a bare externalId when exactly one shop uses it. Two shops with that externalId → `ambiguous`
 * (the provider must send our id or the shop-qualified form), never an arbitrary pick.
 */
export async function findOrderByReference(sql: Sql, ref: string): Promise<OrderReference | { ambiguous: number } | null> {
  const colon = ref.indexOf(':');
  const shop = colon > 0 ? ref.slice(0, colon) : null;
  const qualified = colon > 0 ? ref.slice(colon + 1) : null;
  const rows = await sql<{ id: string; external_id: string; how: number }[]>`
    select id, external_id,
      case when id = ${ref} then 0 when shop = ${shop} and external_id = ${qualified} then 1 else 2 end as how
    from orders
    where id = ${ref} or (shop = ${shop} and external_id = ${qualified}) or external_id = ${ref}
    order by how, id limit 2`;
  const [first, second] = rows;
  if (!first) return null;
  if (first.how === 2 && second !== undefined) return { ambiguous: rows.length };
  return { orderId: first.id, externalId: first.external_id };
}

/** Held orders, longest waiting first (the console's "needs attention"). */
export async function heldOrders(sql: Sql, limit = 200): Promise<HeldOrder[]> {
  const rows = await sql<{ id: string; external_id: string; hold: Hold | null; hold_count: number | null; updated_at: Date }[]>`
    select id, external_id, snapshot->'context'->'hold' as hold, (snapshot->'context'->>'holdCount')::int as hold_count, updated_at
    from orders where state = 'held' order by updated_at asc, id limit ${limit}`;
  return rows.map((r) => ({ id: r.id, externalId: r.external_id, hold: r.hold, holdCount: r.hold_count ?? 1, updatedAt: r.updated_at.toISOString() }));
}

/** Orders whose document failed, longest waiting first. */
export async function failedDocuments(sql: Sql, limit = 200): Promise<FailedDocument[]> {
  const rows = await sql<{ id: string; external_id: string; state: string; failure: Failure | null; requests: number | null }[]>`
    select id, external_id, state, snapshot->'context'->'documentFailure' as failure, (snapshot->'context'->>'documentRequests')::int as requests
    from orders where document_state = 'failed' order by updated_at asc, id limit ${limit}`;
  return rows.map((r) => ({ id: r.id, externalId: r.external_id, state: r.state, failure: r.failure, documentRequests: r.requests ?? 0 }));
}

/** What an operator needs on a work-queue row: who, how much, what, and what may be done now. */
export interface AttentionFacts {
  customerName: string;
  customerEmail: string;
  total: number;
  currency: string;
  /** "2 × Kubek, 1 × Talerz" (the first three lines, then "+ n more"). */
  items: string;
  allowedEvents: AdminEventType[];
}

/** The facts of each order in `ids` (the needs-attention rows), by order id. */
export async function attentionFacts(sql: Sql, ids: readonly string[]): Promise<Map<string, AttentionFacts>> {
  const out = new Map<string, AttentionFacts>();
  if (ids.length === 0) return out;
  const rows = await sql<{ id: string; snapshot: { value: StateValue; context: OrderContext }; machine_version: string }[]>`
    select id, snapshot, machine_version from orders where id = any(${[...ids]})`;
  for (const r of rows) {
    const o = r.snapshot.context.order;
    const lines = o.lines.slice(0, 3).map((l) => `${l.quantity} × ${l.name}`);
    if (o.lines.length > 3) lines.push(`+ ${o.lines.length - 3} more`);
    out.set(r.id, {
      customerName: o.customer.name,
      customerEmail: o.customer.email,
      total: o.total,
      currency: o.currency,
      items: lines.join(', '),
      allowedEvents: READABLE_MACHINE_VERSIONS.includes(r.machine_version) ? allowedAdminEvents(restoreOrderSnapshot(r.snapshot)) : [],
    });
  }
  return out;
}

/** How many orders are held and how many documents failed (the work queue's totals, never capped). */
export async function problemCounts(sql: Sql): Promise<{ held: number; documentFailed: number }> {
  const [r] = await sql<{ held: number; failed: number }[]>`
    select count(*) filter (where state = 'held')::int as held, count(*) filter (where document_state = 'failed')::int as failed from orders
    where state = 'held' or document_state = 'failed'`;
  return { held: r?.held ?? 0, documentFailed: r?.failed ?? 0 };
}

/** Orders per one-word state. */
export async function countsPerState(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql<{ state: string; n: number }[]>`select state, count(*)::int as n from orders group by state`;
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

/** Orders per state node of the order machine (every active node counts, parallel regions included). */
export async function countsPerStateNode(sql: Sql, rootId: string): Promise<Map<string, number>> {
  const rows = await sql<{ value: StateValue; n: number }[]>`select state_value as value, count(*)::int as n from orders group by state_value`;
  const counts = new Map<string, number>();
  for (const r of rows) {
    for (const id of activeStateIds(rootId, r.value)) counts.set(id, (counts.get(id) ?? 0) + r.n);
  }
  return counts;
}
