import type { Sql } from '../../infra/db/postgres.ts';
import { paymentMatchesOrder } from '../../machines/order/index.ts';
import { COMMANDS, type Names, type NotifyCommand, type OrderEventPayload } from '../../services/contracts/index.ts';
import { findOrderByReference, type OrderReference } from '../../services/orders/index.ts';
import type { ProviderEvent } from './payment.types.ts';
import type { WebhookDecision, WebhookMessage } from './webhook-inbox.ts';

export type KnownOrder = OrderReference;

const CACHE_MAX = 10_000;

/**
 * Turns a verified provider event into the inbox decision: finds the order (our id or the shop's
 * externalId; the gateway's intake table first, then the orders table for orders placed another
 * way), asks the order's own payment rule (machines/order `paymentMatchesOrder`, the machine's guard)
 * whether it pays the order, and names the messages to publish.
 */
export function createPaymentMatcher(deps: { sql: Sql; names: Names }) {
  const { sql, names } = deps;
  // Order id, externalId, total and currency never change once placed, so found orders may be cached.
  const cache = new Map<string, KnownOrder>();

  async function findOrder(ref: string): Promise<KnownOrder | null> {
    const hit = cache.get(ref);
    if (hit) return hit;
    // The gateway's own intake table first (every order placed through POST /orders), then the orders
    // service's read model for orders placed another way.
    const [intake] = await sql<{ order_id: string; external_id: string; total: string; currency: string }[]>`
      select order_id, external_id, total::text as total, currency from order_intake where order_id = ${ref} or external_id = ${ref}
      order by order_id = ${ref} desc limit 1`;
    const found: KnownOrder | null = intake
      ? { orderId: intake.order_id, externalId: intake.external_id, total: Number(intake.total), currency: intake.currency }
      : await findOrderByReference(sql, ref);
    if (found === null) return null;
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
    cache.set(ref, found);
    return found;
  }

  function notify(dedupeKey: string, n: NotifyCommand): WebhookMessage {
    return { id: `${dedupeKey}:notify`, subject: names.subjects.command('notify'), type: COMMANDS.notify.name, orderId: n.orderId, payload: n };
  }

  async function decide(provider: string, label: string, dedupeKey: string, e: ProviderEvent): Promise<WebhookDecision> {
    const n = e.notice;
    const base = { dedupeKey, signature: 'valid' as const, eventType: e.eventType, externalRef: n.ref };
    if (n.kind === 'ignored') return { ...base, verdict: 'recorded', detail: n.reason };
    const order = n.ref === null ? null : await findOrder(n.ref);
    const what = `${label} event ${e.eventId} (${e.eventType})`;
    if (order === null) {
      const detail = n.ref === null ? `${what} names no order` : `${what} refers to unknown order "${n.ref}"`;
      return {
        ...base,
        verdict: 'unmatched',
        detail,
        messages: (webhookId) => [
          notify(dedupeKey, {
            kind: 'payment',
            severity: n.kind === 'confirmed' ? 'critical' : 'warning',
            code: 'UNKNOWN_ORDER',
            message: `${detail}; stored as webhook ${webhookId}, replay it once the order exists.`,
            orderId: null,
            externalId: n.ref,
          }),
        ],
      };
    }
    if (n.kind === 'failed') {
      const payload: OrderEventPayload<'PAYMENT_FAILED'> = { provider, reason: n.reason.slice(0, 1000) };
      return {
        ...base,
        verdict: 'accepted',
        orderId: order.orderId,
        detail: `payment failed: ${n.reason}`,
        messages: () => [{ subject: names.subjects.orderEvent(order.orderId), type: 'PAYMENT_FAILED', orderId: order.orderId, payload, actor: provider }],
      };
    }
    // The order's own rule answers (machines/order): the inbox records that answer as the verdict.
    if (!paymentMatchesOrder(order, n)) {
      const detail = `${what} paid ${n.amount} ${n.currency} but order ${order.externalId} is ${order.total} ${order.currency}`;
      return {
        ...base,
        verdict: 'mismatch',
        orderId: order.orderId,
        detail,
        messages: (webhookId) => [
          notify(dedupeKey, {
            kind: 'payment',
            severity: 'critical',
            code: 'PAYMENT_MISMATCH',
            message: `${detail}; not treated as a payment (webhook ${webhookId}).`,
            orderId: order.orderId,
            externalId: order.externalId,
          }),
        ],
      };
    }
    const payload: OrderEventPayload<'PAYMENT_CONFIRMED'> = { provider, paymentId: n.paymentId.slice(0, 200), amount: n.amount, currency: n.currency };
    return {
      ...base,
      verdict: 'accepted',
      orderId: order.orderId,
      detail: `payment ${n.paymentId} confirmed`,
      messages: () => [{ subject: names.subjects.orderEvent(order.orderId), type: 'PAYMENT_CONFIRMED', orderId: order.orderId, payload, actor: provider }],
    };
  }

  return { decide, findOrder };
}

export type PaymentMatcher = ReturnType<typeof createPaymentMatcher>;
