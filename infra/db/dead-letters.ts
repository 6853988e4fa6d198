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
}

/** Dead letters, newest first; `open` only those not replayed yet. */
export async function listDeadLetters(sql: Sql, opts: { open?: boolean; limit?: number } = {}): Promise<DeadLetterRow[]> {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  return sql<DeadLetterRow[]>`
    select id::text, consumer, subject, message_id, order_id, error_code, error_message, deliveries, created_at, replayed_at, replayed_by
    from dead_letters ${opts.open ? sql`where replayed_at is null` : sql``}
    order by id desc limit ${limit}`;
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
): Promise<DeadLetterRow | null> {
  const [row] = await sql<Array<DeadLetterRow & { data: string; raw: Buffer | null }>>`
    select id::text, consumer, subject, message_id, order_id, data, raw, error_code, error_message, deliveries, created_at, replayed_at, replayed_by
    from dead_letters where id = ${id}`;
  if (!row) return null;
  await publish(row.subject, row.raw ? new Uint8Array(row.raw) : new TextEncoder().encode(row.data), `${row.message_id ?? `dead-letter-${row.id}`}:replay:${row.id}:${Date.now()}`);
  const [updated] = await sql<DeadLetterRow[]>`
    update dead_letters set replayed_at = now(), replayed_by = ${actor} where id = ${id}
    returning id::text, consumer, subject, message_id, order_id, error_code, error_message, deliveries, created_at, replayed_at, replayed_by`;
  return updated ?? null;
}

/** Dead letters not replayed yet, per consumer (what `/metrics` shows). */
export async function countOpenDeadLetters(sql: Sql): Promise<Array<{ consumer: string; count: number }>> {
  const rows = await sql<Array<{ consumer: string; count: number }>>`
    select consumer, count(*)::int as count from dead_letters where replayed_at is null group by consumer`;
  return [...rows];
}
