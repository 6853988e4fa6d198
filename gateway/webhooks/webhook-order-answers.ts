import type { Sql } from '../../infra/db/postgres.ts';
import { orderAnswers, type OrderAnswer } from '../../services/orders/index.ts';
import type { StoredWebhook } from './webhook-inbox.types.ts';

/** A stored webhook with what its order answered to the events it led to (empty until the order has applied them). */
export type WebhookWithAnswers = StoredWebhook & { orderAnswers: Array<Omit<OrderAnswer, 'orderId'>> };

/**
 * The webhook inbox's evidence for a forwarded event is the order's own answer, read from its owner
 * (`services/orders` `orderAnswers`, one query for all rows): e.g. a payment the machine did not take
 * shows PAYMENT_CONFIRMED applied pending → pending (and the machine has notified an admin).
 */
export async function withOrderAnswers(sql: Sql, webhooks: readonly StoredWebhook[]): Promise<WebhookWithAnswers[]> {
  const refs = webhooks.flatMap((w) => (w.orderId === null ? [] : w.messageIds.map((messageId) => ({ orderId: w.orderId as string, messageId }))));
  const answers = await orderAnswers(sql, refs);
  return webhooks.map((w) => ({
    ...w,
    orderAnswers: answers.filter((a) => a.orderId === w.orderId && w.messageIds.includes(a.messageId)).map(({ orderId: _orderId, ...a }) => a),
  }));
}
