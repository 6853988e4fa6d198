import type { Sql, TxSql } from '../../infra/db/postgres.ts';

/**
 * What an order did with one message it was sent: the history row the order host wrote for it
 * (applied or ignored, from → to). This is the order's own answer to, say, a forwarded payment — a
 * payment the machine does not take leaves the order where it was (pending → pending, an admin
 * notified) — so a sender such as the webhook inbox shows it as evidence instead of judging again.
 */
export interface OrderAnswer {
  orderId: string;
  messageId: string;
  type: string;
  outcome: 'created' | 'applied' | 'ignored';
  fromState: string | null;
  toState: string | null;
  at: string;
}

/** The answers to these (order, message id) pairs that exist so far, oldest first (one query). */
export async function orderAnswers(sql: Sql | TxSql, refs: ReadonlyArray<{ orderId: string; messageId: string }>): Promise<OrderAnswer[]> {
  if (refs.length === 0) return [];
  const orderIds = [...new Set(refs.map((r) => r.orderId))];
  const messageIds = [...new Set(refs.map((r) => r.messageId))];
  // `order_id = any(...)` uses the history's (order_id, id) index; the message ids filter those rows.
  const rows = await sql<{ order_id: string; message_id: string; type: string; outcome: OrderAnswer['outcome']; from_state: string | null; to_state: string | null; at: Date }[]>`
    select order_id, message_id, type, outcome, from_state, to_state, at from order_history
    where order_id = any(${orderIds}::text[]) and message_id = any(${messageIds}::text[])
    order by id`;
  return rows.map((r) => ({ orderId: r.order_id, messageId: r.message_id, type: r.type, outcome: r.outcome, fromState: r.from_state, toState: r.to_state, at: r.at.toISOString() }));
}
