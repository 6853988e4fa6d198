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
  // Each order's history through the (order_id, id) index, one fenced probe per order (`offset 0`),
  // whatever the table's size; the message ids filter those rows. As one `order_id = any(...)`
  // condition, a plan kept from a young table could read the whole history instead.
  const rows = await sql<{ order_id: string; message_id: string; type: string; outcome: OrderAnswer['outcome']; from_state: string | null; to_state: string | null; at: Date }[]>`
    select h.order_id, h.message_id, h.type, h.outcome, h.from_state, h.to_state, h.at
    from unnest(${orderIds}::text[]) as u(id)
    cross join lateral (select id, order_id, message_id, type, outcome, from_state, to_state, at from order_history where order_id = u.id offset 0) as h
    where h.message_id = any(${messageIds}::text[])
    order by h.id`;
  return rows.map((r) => ({ orderId: r.order_id, messageId: r.message_id, type: r.type, outcome: r.outcome, fromState: r.from_state, toState: r.to_state, at: r.at.toISOString() }));
}
