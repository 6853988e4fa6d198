import { storableText } from '../../services/contracts/index.ts';
import type { Sql } from './postgres.ts';

/** A retry under way: what failed, which attempt it was, when the next one comes. */
export interface PendingRetry {
  consumer: string;
  messageId: string;
  orderId: string | null;
  subject: string;
  type: string | null;
  attempt: number;
  maxAttempts: number;
  nextAt: string;
  lastError: string;
}

/** Records (or updates) a retry after a nak; only ever called on the failure path. */
export async function recordPendingRetry(sql: Sql, r: Omit<PendingRetry, 'nextAt'> & { delayMs: number }): Promise<void> {
  await sql`insert into pending_retries (consumer, message_id, order_id, subject, type, attempt, max_attempts, next_at, last_error)
    values (${r.consumer}, ${storableText(r.messageId)}, ${r.orderId === null ? null : storableText(r.orderId)}, ${storableText(r.subject)}, ${r.type === null ? null : storableText(r.type)},
            ${r.attempt}, ${r.maxAttempts}, now() + make_interval(secs => ${r.delayMs / 1000}), ${storableText(r.lastError.slice(0, 2000))})
    on conflict (consumer, message_id) do update set attempt = excluded.attempt, max_attempts = excluded.max_attempts,
      next_at = excluded.next_at, last_error = excluded.last_error, updated_at = now()`;
}

/** The message is done (handled or dead-lettered): no retry is pending any more. */
export async function clearPendingRetry(sql: Sql, consumer: string, messageId: string): Promise<void> {
  await sql`delete from pending_retries where consumer = ${consumer} and message_id = ${storableText(messageId)}`;
}

/** An order's retries under way, soonest first. */
export async function pendingRetriesOf(sql: Sql, orderId: string): Promise<PendingRetry[]> {
  const rows = await sql<Array<{ consumer: string; message_id: string; order_id: string | null; subject: string; type: string | null; attempt: number; max_attempts: number; next_at: Date; last_error: string }>>`
    select consumer, message_id, order_id, subject, type, attempt, max_attempts, next_at, last_error from pending_retries where order_id = ${orderId} order by next_at`;
  return rows.map((r) => ({
    consumer: r.consumer,
    messageId: r.message_id,
    orderId: r.order_id,
    subject: r.subject,
    type: r.type,
    attempt: r.attempt,
    maxAttempts: r.max_attempts,
    nextAt: r.next_at.toISOString(),
    lastError: r.last_error,
  }));
}
