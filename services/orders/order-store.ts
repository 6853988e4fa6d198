import type { StateValue } from 'xstate';
import type { Sql } from '../../infra/db/postgres.ts';
import type { EffectPlan } from './order-effects.ts';

/**
 * The order host's two statements. Each event costs one read and ONE write statement: the write is
 * a single SQL statement (data-modifying CTEs), so it is atomic without BEGIN/COMMIT round trips —
 * snapshot, history, outbox, timers, inbox row and the relay's NOTIFY commit together or not at
 * all. Every write is conditional on the order row version read before (optimistic concurrency):
 * if someone else changed the order in between, nothing is written and the caller re-reads.
 */

export interface StoredOrder {
  snapshot: { value: StateValue; context: unknown };
  machine_version: string;
  version: number;
}

export interface LoadResult {
  /** The message id is already in this consumer's inbox. */
  processed: boolean;
  order: StoredOrder | null;
}

export async function loadForEvent(sql: Sql, consumer: string, messageId: string, orderId: string): Promise<LoadResult> {
  const [row] = await sql<Array<{ processed: boolean } & Partial<StoredOrder>>>`
    select exists(select 1 from processed_messages where consumer = ${consumer} and message_id = ${messageId}) as processed,
           o.snapshot, o.machine_version, o.version
    from (select 1) as one left join orders o on o.id = ${orderId}`;
  if (!row) throw new Error('load returned no row');
  return {
    processed: row.processed,
    order: row.version === undefined || row.version === null ? null : (row as StoredOrder),
  };
}

export interface HistoryEntry {
  messageId: string;
  type: string;
  source: string;
  outcome: 'created' | 'applied' | 'ignored';
  fromState: string | null;
  toState: string | null;
  fromValue: StateValue | null;
  toValue: StateValue | null;
  payload: unknown;
  actor: string | null;
  note: string | null;
  occurredAt: string;
}

export interface OrderWrite {
  consumer: string;
  orderId: string;
  history: HistoryEntry;
  effects: EffectPlan;
  /**
   * - `create`: insert the order (nothing happens if it exists);
   * - `update`: new snapshot, conditional on `expectedVersion`;
   * - `touch`: state unchanged (an ignored event), only the version moves, conditional likewise.
   */
  row:
    | { kind: 'create'; externalId: string; customerEmail: string; createdAt: string; state: OrderColumns }
    | { kind: 'update'; expectedVersion: number; state: OrderColumns }
    | { kind: 'touch'; expectedVersion: number };
}

export interface OrderColumns {
  state: string;
  documentState: string;
  stateValue: StateValue;
  snapshot: unknown;
  machineVersion: string;
  holdCode: string | null;
}

/** Writes one event's outcome in one statement. Returns false when the row version had moved on. */
export async function writeOrderEvent(sql: Sql, w: OrderWrite): Promise<boolean> {
  const h = w.history;
  const json = (v: unknown) => sql.json(v as never);
  let target;
  if (w.row.kind === 'create') {
    const s = w.row.state;
    target = sql`insert into orders (id, external_id, state, document_state, state_value, snapshot, machine_version, version, customer_email, created_at, updated_at)
      values (${w.orderId}, ${w.row.externalId}, ${s.state}, ${s.documentState}, ${json(s.stateValue)}, ${json(s.snapshot)}, ${s.machineVersion}, 1,
              ${w.row.customerEmail}, ${w.row.createdAt}::timestamptz, now())
      on conflict (id) do nothing returning id`;
  } else if (w.row.kind === 'update') {
    const s = w.row.state;
    target = sql`update orders set state = ${s.state}, document_state = ${s.documentState}, state_value = ${json(s.stateValue)},
        snapshot = ${json(s.snapshot)}, hold_code = ${s.holdCode}, version = version + 1, updated_at = now()
      where id = ${w.orderId} and version = ${w.row.expectedVersion} returning id`;
  } else {
    target = sql`update orders set version = version + 1 where id = ${w.orderId} and version = ${w.row.expectedVersion} returning id`;
  }
  // Most events have no effects: only the CTEs that have work are part of the statement (each
  // shape is its own prepared statement), which keeps the common statement small for Postgres.
  let ctes = sql`target as (${target}),
    inbox as (
      insert into processed_messages (consumer, message_id) select ${w.consumer}, ${h.messageId} from target on conflict do nothing returning 1),
    history as (
      insert into order_history (order_id, message_id, type, source, outcome, from_state, to_state, from_value, to_value, payload, actor, note, occurred_at)
      select ${w.orderId}, ${h.messageId}, ${h.type}, ${h.source}, ${h.outcome}, ${h.fromState}, ${h.toState},
             ${h.fromValue === null ? null : json(h.fromValue)}::jsonb, ${h.toValue === null ? null : json(h.toValue)}::jsonb,
             ${json(h.payload)}::jsonb, ${h.actor}, ${h.note}, ${h.occurredAt}::timestamptz
      from target returning 1)`;
  if (w.effects.cancelTimers.length > 0) {
    ctes = sql`${ctes}, cancelled_timers as (
      delete from timers where order_id = ${w.orderId} and kind = any(${w.effects.cancelTimers}::text[]) and exists (select 1 from target) returning 1)`;
  }
  if (w.effects.timers.length > 0) {
    const timers = w.effects.timers.map((t) => ({ id: t.envelope.id, kind: t.kind, fire_at: t.fireAt.toISOString(), subject: t.subject, envelope: t.envelope }));
    ctes = sql`${ctes}, new_timers as (
      insert into timers (id, order_id, kind, fire_at, subject, envelope)
      select r.id, ${w.orderId}, r.kind, r.fire_at, r.subject, r.envelope
      from target, jsonb_to_recordset(${json(timers)}::jsonb) as r(id text, kind text, fire_at timestamptz, subject text, envelope jsonb)
      on conflict (order_id, kind) do update set fire_at = excluded.fire_at, envelope = excluded.envelope, subject = excluded.subject
      returning 1)`;
  }
  let wake = sql``;
  if (w.effects.outbox.length > 0) {
    const outbox = w.effects.outbox.map((o) => ({ id: o.envelope.id, subject: o.subject, envelope: o.envelope }));
    ctes = sql`${ctes}, new_outbox as (
      insert into outbox (id, order_id, subject, envelope)
      select r.id, ${w.orderId}, r.subject, r.envelope
      from target, jsonb_to_recordset(${json(outbox)}::jsonb) as r(id text, subject text, envelope jsonb)
      returning 1),
    wake as (select pg_notify('outbox', '') from target)`;
    // A CTE that only reads runs only when referenced.
    wake = sql`, (select count(*) from wake) as woke`;
  }
  const [result] = await sql<Array<{ written: number }>>`
    with ${ctes}
    select (select count(*) from target)::int as written ${wake}`;
  return (result?.written ?? 0) === 1;
}
