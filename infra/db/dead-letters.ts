import { storableText } from '../../services/contracts/index.ts';
import type { Sql } from './postgres.ts';

export interface DeadLetter {
  consumer: string;
  stream: string | null;
  subject: string;
  messageId: string | null;
  orderId: string | null;
  data: string;
  /** The message's exact bytes (kept beside the sanitised `data`, replayed as they were). */
  raw?: Uint8Array;
  errorCode: string;
  errorMessage: string;
  deliveries: number;
}

/**
 * Records a message a consumer gave up on, for admins to see and replay. Whatever the message holds,
 * the row can be written: text columns are sanitised (`storableText`), the exact bytes go to `raw`.
 */
export async function recordDeadLetter(sql: Sql, d: DeadLetter): Promise<void> {
  const text = (s: string | null) => (s === null ? null : storableText(s));
  await sql`insert into dead_letters
    (consumer, stream, subject, message_id, order_id, data, raw, error_code, error_message, deliveries)
    values (${text(d.consumer)}, ${text(d.stream)}, ${text(d.subject)}, ${text(d.messageId)}, ${text(d.orderId)}, ${storableText(d.data)},
            ${d.raw === undefined ? null : Buffer.from(d.raw)}, ${storableText(d.errorCode)}, ${storableText(d.errorMessage.slice(0, 4000))}, ${d.deliveries})`;
}

export interface DeadLetterRow {
  id: string;
  consumer: string;
  subject: string;
  message_id: string | null;
  order_id: string | null;
  error_code: string;
  error_message: string;
  deliveries: number;
  created_at: Date;
  replayed_at: Date | null;
  replayed_by: string | null;
  replay_note: string | null;
  /** The message as text (sanitised; the exact bytes stay in `raw`), at most 20,000 characters. */
  data: string;
}

const COLUMNS = 'id::text, consumer, subject, message_id, order_id, error_code, error_message, deliveries, created_at, replayed_at, replayed_by, replay_note, left(data, 20000) as data';

/** Dead letters, newest first; `open` only those not replayed yet; `consumer` / `code` filter; `before` pages. */
export async function listDeadLetters(sql: Sql, opts: { open?: boolean; limit?: number; consumer?: string; code?: string; before?: string } = {}): Promise<DeadLetterRow[]> {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  const where = [
    opts.open ? sql`replayed_at is null` : null,
    opts.consumer ? sql`consumer = ${opts.consumer}` : null,
    opts.code ? sql`error_code = ${opts.code}` : null,
    opts.before && /^\d{1,18}$/.test(opts.before) ? sql`id < ${opts.before}` : null,
  ].filter((w) => w !== null);
  const clause = where.reduce((acc, w, i) => (i === 0 ? sql`where ${w}` : sql`${acc} and ${w}`), sql``);
  return sql<DeadLetterRow[]>`select ${sql.unsafe(COLUMNS)} from dead_letters ${clause} order by id desc limit ${limit}`;
}

/**
 * Puts a dead letter back on its subject (after the cause was fixed) and marks it replayed by
 * `actor`. The JetStream message id gets a replay suffix so the stream's duplicate window does not
 * drop it; the envelope keeps its id, so a consumer that did process it still sees a duplicate.
 */
export async function replayDeadLetter(
  sql: Sql,
  publish: (subject: string, data: Uint8Array, msgId: string) => Promise<void>,
  id: string,
  actor: string,
  note: string | null = null,
): Promise<DeadLetterRow | null> {
  const [row] = await sql<Array<{ id: string; subject: string; message_id: string | null; data: string; raw: Buffer | null }>>`
    select id::text, subject, message_id, data, raw from dead_letters where id = ${id}`;
  if (!row) return null;
  await publish(row.subject, row.raw ? new Uint8Array(row.raw) : new TextEncoder().encode(row.data), `${row.message_id ?? `dead-letter-${row.id}`}:replay:${row.id}:${Date.now()}`);
  const [updated] = await sql<DeadLetterRow[]>`
    update dead_letters set replayed_at = now(), replayed_by = ${actor}, replay_note = ${note === null ? null : storableText(note.slice(0, 2000))} where id = ${id}
    returning ${sql.unsafe(COLUMNS)}`;
  return updated ?? null;
}

/**
 * Replays an order's dead letters with this error code not replayed yet, oldest first (e.g. the
 * events dead-lettered `UNKNOWN_ORDER` before its `ORDER_PLACED`, once that is published again).
 * Resolves with the replayed ids.
 */
export async function replayDeadLettersOfOrder(
  sql: Sql,
  publish: (subject: string, data: Uint8Array, msgId: string) => Promise<void>,
  o: { orderId: string; code: string; actor: string; note: string },
): Promise<string[]> {
  const rows = await sql<Array<{ id: string }>>`
    select id::text from dead_letters where order_id = ${o.orderId} and error_code = ${o.code} and replayed_at is null order by id`;
  for (const r of rows) await replayDeadLetter(sql, publish, r.id, o.actor, o.note);
  return rows.map((r) => r.id);
}

/** Dead letters not replayed yet, per consumer (what `/metrics` shows). */
export async function countOpenDeadLetters(sql: Sql): Promise<Array<{ consumer: string; count: number }>> {
  const rows = await sql<Array<{ consumer: string; count: number }>>`
    select consumer, count(*)::int as count from dead_letters where replayed_at is null group by consumer`;
  return [...rows];
}
