import type { StateValue } from 'xstate';
import type { OrderSnapshot } from '../../machines/order/index.ts';
import type { Sql, SqlFragment } from '../../infra/db/postgres.ts';
import type { EffectPlan } from './order-effects.ts';

/**
 * The order host's statements. A write is a single SQL statement (data-modifying CTEs), so it is
 * atomic without BEGIN/COMMIT round trips — snapshot, history, outbox, timers and inbox row commit
 * together or not at all (the relay is woken after the commit, not by it). Every write is conditional on the order row version
 * the decision was made from (optimistic concurrency): if someone else changed the order in between,
 * nothing is written and the caller re-reads. The host writes through `writeOrderEvents` (group
 * commit: many orders' events in one statement); `writeOrderEvent` is the one-event form (a batch
 * that failed is retried with it one event at a time; the benches' bare baseline uses it too).
 */

export interface StoredOrder {
  snapshot: { value: StateValue; context: unknown };
  machine_version: string;
  version: number;
  /** The live snapshot, when the host kept it in memory (saves rebuilding it from `snapshot`). */
  live?: OrderSnapshot;
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
  /** The whole snapshot: `{ value, context, status }`. */
  snapshot: unknown;
  /** The snapshot's `status` (XState's: active, done…). */
  status: string;
  /**
   * An update may send this instead of `snapshot`: the context keys that changed, merged into the
   * stored context (`value` and `status` are sent whole). Valid only against the stored snapshot the
   * decision was made from, which the write's version condition guarantees. Null: send `snapshot`.
   */
  contextPatch: Record<string, unknown> | null;
  machineVersion: string;
  holdCode: string | null;
}

/**
 * The stored snapshot with its context merged with a patch (jsonb `||` on the top level: the keys
 * sent replace the stored ones), `value` and `status` whole: the one shape both update statements build.
 */
function patchedSnapshot(sql: Sql, p: { value: SqlFragment; status: SqlFragment; stored: SqlFragment; patch: SqlFragment }): SqlFragment {
  return sql`jsonb_build_object('value', ${p.value}, 'status', ${p.status}, 'context', (${p.stored}->'context') || ${p.patch})`;
}

/** The new snapshot as the one-event update's SET expression: the whole snapshot, or the patched stored one. */
function snapshotUpdate(sql: Sql, s: OrderColumns) {
  const json = (v: unknown) => sql.json(v as never);
  if (s.contextPatch === null) return json(s.snapshot);
  return patchedSnapshot(sql, { value: sql`${json(s.stateValue)}::jsonb`, status: sql`${s.status}::text`, stored: sql`snapshot`, patch: sql`${json(s.contextPatch)}::jsonb` });
}

/**
 * Writes one event's outcome in one statement. Returns false when the row version had moved on or
 * the message is already in the inbox.
 */
export async function writeOrderEvent(sql: Sql, w: OrderWrite): Promise<boolean> {
  const h = w.history;
  const json = (v: unknown) => sql.json(v as never);
  // The host may decide from a snapshot kept in memory, without reading the inbox first: a
  // redelivery of a message already applied must then write nothing (a new order's id conflicts).
  const notInInbox = sql`not exists (select 1 from processed_messages where consumer = ${w.consumer} and message_id = ${h.messageId})`;
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
        snapshot = ${snapshotUpdate(sql, s)}, machine_version = ${s.machineVersion}, hold_code = ${s.holdCode}, version = version + 1, updated_at = now()
      where id = ${w.orderId} and version = ${w.row.expectedVersion} and ${notInInbox} returning id`;
  } else {
    target = sql`update orders set version = version + 1 where id = ${w.orderId} and version = ${w.row.expectedVersion} and ${notInInbox} returning id`;
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
  if (w.effects.outbox.length > 0) {
    const outbox = w.effects.outbox.map((o) => ({ id: o.envelope.id, subject: o.subject, envelope: o.envelope }));
    ctes = sql`${ctes}, new_outbox as (
      insert into outbox (id, order_id, subject, envelope)
      select r.id, ${w.orderId}, r.subject, r.envelope
      from target, jsonb_to_recordset(${json(outbox)}::jsonb) as r(id text, subject text, envelope jsonb)
      returning 1)`;
  }
  // No NOTIFY here: Postgres lets one transaction at a time commit a NOTIFY, holding that lock through
  // its WAL flush, so every write with outbox rows queued behind the last. The host wakes the relay
  // once the write has committed (a NATS hint, `OrderHostDeps.onOutboxWritten`); the relay polls too.
  const [result] = await sql<Array<{ written: number }>>`
    with ${ctes}
    select (select count(*) from target)::int as written`;
  return (result?.written ?? 0) === 1;
}

/**
 * Group commit: several events' outcomes, each for a different order, in ONE statement — one
 * round trip and one commit for every partition waiting. Each order's part is conditional on its
 * own row version AND on its message id not being in the inbox yet, so the caller may decide from
 * a snapshot it kept in memory instead of reading first: a stale snapshot, or a redelivery of a
 * message already applied, writes nothing for that order and the caller re-reads. Parts are
 * independent: one order's condition failing never stops another's. Returns the message ids
 * written. The statement is atomic like `writeOrderEvent`: all parts that pass commit together.
 */
export async function writeOrderEvents(sql: Sql, writes: readonly OrderWrite[]): Promise<Set<string>> {
  const json = (v: unknown) => sql.json(v as never);
  const consumer = writes[0]?.consumer;
  if (consumer === undefined) return new Set();
  if (writes.some((w) => w.consumer !== consumer)) throw new Error('one group commit serves one consumer');
  const orders = writes.map((w, n) => orderInput(w, n));
  const history = writes.map((w, n) => ({ n, order_id: w.orderId, ...historyInput(w.history) }));
  const cancels = writes.flatMap((w) => w.effects.cancelTimers.map((kind) => ({ order_id: w.orderId, kind })));
  const timers = writes.flatMap((w) =>
    w.effects.timers.map((t) => ({ id: t.envelope.id, order_id: w.orderId, kind: t.kind, fire_at: t.fireAt.toISOString(), subject: t.subject, envelope: t.envelope })),
  );
  const outbox = writes.flatMap((w) => w.effects.outbox.map((o) => ({ id: o.envelope.id, order_id: w.orderId, subject: o.subject, envelope: o.envelope }))).map((o, n) => ({ n, ...o }));
  // The update keeps the single-event statement's shape ("update orders set …"), so what waits on
  // a locked order row looks the same in pg_stat_activity whichever path wrote it.
  // `fresh` asks the inbox once per event with a scalar sub-select (one index probe each): written
  // as `not exists`, Postgres made it an anti join and, taking the input for 100 rows, hashed all of
  // the consumer's inbox rows whenever it had some thousands (26 ms a statement at 9k rows).
  const rows = await sql<Array<{ written: string[] }>>`
    with input as (
      select * from jsonb_to_recordset(${json(orders)}::jsonb) as r(
        n int, id text, kind text, expected int, external_id text, customer_email text, created_at timestamptz, state text,
        document_state text, state_value jsonb, snapshot jsonb, status text, context_patch jsonb, machine_version text, hold_code text, message_id text)),
    fresh as (
      select i.* from input i
      where (select true from processed_messages p where p.consumer = ${consumer} and p.message_id = i.message_id) is null),
    created as (
      insert into orders (id, external_id, state, document_state, state_value, snapshot, machine_version, version, customer_email, created_at, updated_at)
      select id, external_id, state, document_state, state_value, snapshot, machine_version, 1, customer_email, created_at, now()
      from fresh where kind = 'create' order by n
      on conflict (id) do nothing returning id),
    updated as (
      update orders set
        state = case when i.kind = 'update' then i.state else orders.state end,
        document_state = case when i.kind = 'update' then i.document_state else orders.document_state end,
        state_value = case when i.kind = 'update' then i.state_value else orders.state_value end,
        snapshot = case when i.kind <> 'update' then orders.snapshot
                        when i.context_patch is null then i.snapshot
                        else ${patchedSnapshot(sql, { value: sql`i.state_value`, status: sql`i.status`, stored: sql`orders.snapshot`, patch: sql`i.context_patch` })} end,
        machine_version = case when i.kind = 'update' then i.machine_version else orders.machine_version end,
        hold_code = case when i.kind = 'update' then i.hold_code else orders.hold_code end,
        updated_at = case when i.kind = 'update' then now() else orders.updated_at end,
        version = orders.version + 1
      from fresh i
      where i.kind <> 'create' and orders.id = i.id and orders.version = i.expected
      returning orders.id),
    target as (select id from created union all select id from updated),
    inbox as (
      insert into processed_messages (consumer, message_id)
      select ${consumer}, i.message_id from input i join target t on t.id = i.id on conflict do nothing),
    history as (
      insert into order_history (order_id, message_id, type, source, outcome, from_state, to_state, from_value, to_value, payload, actor, note, occurred_at)
      select h.order_id, h.message_id, h.type, h.source, h.outcome, h.from_state, h.to_state, h.from_value, h.to_value, h.payload, h.actor, h.note, h.occurred_at
      from jsonb_to_recordset(${json(history)}::jsonb) as h(
        n int, order_id text, message_id text, type text, source text, outcome text, from_state text, to_state text,
        from_value jsonb, to_value jsonb, payload jsonb, actor text, note text, occurred_at timestamptz)
      join target t on t.id = h.order_id order by h.n),
    cancelled_timers as (
      delete from timers using jsonb_to_recordset(${json(cancels)}::jsonb) as c(order_id text, kind text), target t
      where t.id = c.order_id and timers.order_id = c.order_id and timers.kind = c.kind),
    new_timers as (
      insert into timers (id, order_id, kind, fire_at, subject, envelope)
      select r.id, r.order_id, r.kind, r.fire_at, r.subject, r.envelope
      from jsonb_to_recordset(${json(timers)}::jsonb) as r(id text, order_id text, kind text, fire_at timestamptz, subject text, envelope jsonb)
      join target t on t.id = r.order_id
      on conflict (order_id, kind) do update set fire_at = excluded.fire_at, envelope = excluded.envelope, subject = excluded.subject),
    new_outbox as (
      insert into outbox (id, order_id, subject, envelope)
      select r.id, r.order_id, r.subject, r.envelope
      from jsonb_to_recordset(${json(outbox)}::jsonb) as r(n int, id text, order_id text, subject text, envelope jsonb)
      join target t on t.id = r.order_id order by r.n
      returning 1)
    select coalesce((select array_agg(i.message_id) from input i join target t on t.id = i.id), '{}') as written`;
  return new Set(rows[0]?.written ?? []);
}

function orderInput(w: OrderWrite, n: number) {
  const s = w.row.kind === 'touch' ? null : w.row.state;
  return {
    n,
    id: w.orderId,
    kind: w.row.kind,
    expected: w.row.kind === 'create' ? null : w.row.expectedVersion,
    external_id: w.row.kind === 'create' ? w.row.externalId : null,
    customer_email: w.row.kind === 'create' ? w.row.customerEmail : null,
    created_at: w.row.kind === 'create' ? w.row.createdAt : null,
    state: s?.state ?? null,
    document_state: s?.documentState ?? null,
    state_value: s?.stateValue ?? null,
    // One or the other: the patch when the decision made one (see `OrderColumns.contextPatch`).
    snapshot: s && s.contextPatch === null ? s.snapshot : null,
    status: s?.status ?? null,
    context_patch: s?.contextPatch ?? null,
    machine_version: s?.machineVersion ?? null,
    hold_code: s?.holdCode ?? null,
    message_id: w.history.messageId,
  };
}

function historyInput(h: HistoryEntry) {
  return {
    message_id: h.messageId,
    type: h.type,
    source: h.source,
    outcome: h.outcome,
    from_state: h.fromState,
    to_state: h.toState,
    from_value: h.fromValue,
    to_value: h.toValue,
    payload: h.payload,
    actor: h.actor,
    note: h.note,
    occurred_at: h.occurredAt,
  };
}
