import type { Sql } from '../../infra/db/postgres.ts';
import { COMMANDS, type Names, type NotifyCommand, type OrderEventPayload } from '../../services/contracts/index.ts';
import { findOrderByReference, type OrderReference } from '../../services/orders/index.ts';
import type { KnownOrders } from './known-orders.ts';
import type { ProviderEvent } from './payment.types.ts';
import type { WebhookDecision, WebhookMessage } from './webhook-inbox.types.ts';

export type KnownOrder = OrderReference;

/**
 * A payment webhook's decision, as plain data: the row's columns plus what it leads to — the order
 * event to forward (the order's machine alone judges a payment: amount, currency, state), or, for an
 * unknown order, the admin notice.
 */
export interface PaymentDecision extends WebhookDecision {
  forward?: { orderId: string; actor: string } & (
    | { type: 'PAYMENT_CONFIRMED'; payload: OrderEventPayload<'PAYMENT_CONFIRMED'> }
    | { type: 'PAYMENT_FAILED'; payload: OrderEventPayload<'PAYMENT_FAILED'> }
  );
  unknownOrder?: { severity: NotifyCommand['severity']; externalRef: string | null };
}

/**
 * Turns a verified provider event into a decision: resolves the reference to exactly one order (our
 * id, `<shop>:<externalId>`, or an externalId only one shop uses; the gateway's intake table first, then the orders service's read model for
 * orders placed another way) and forwards the event to it. It never judges the payment itself: a
 * payment that does not pay the order reaches the machine, which stays pending and tells an admin;
 * the webhook's evidence is that answer, read from the order (`order-answers.ts`).
 */
export function createPaymentMatcher(deps: { sql: Sql; names: Names; knownOrders: KnownOrders }) {
  const { sql, names, knownOrders } = deps;

  /**
   * The one order `ref` names (see `findOrderByReference`: our id, `<shop>:<externalId>`, or a bare
   * externalId only one shop uses); `{ ambiguous }` when several shops use that externalId.
   */
  async function findOrder(ref: string): Promise<KnownOrder | { ambiguous: number } | null> {
    const hit = knownOrders.get(ref);
    if (hit) return hit;
    const colon = ref.indexOf(':');
    const shop = colon > 0 ? ref.slice(0, colon) : null;
    const qualified = colon > 0 ? ref.slice(colon + 1) : null;
    const intake = await sql<{ order_id: string; external_id: string; how: number }[]>`
      select order_id, external_id,
        case when order_id = ${ref} then 0 when shop = ${shop} and external_id = ${qualified} then 1 else 2 end as how
      from order_intake
      where order_id = ${ref} or (shop = ${shop} and external_id = ${qualified}) or external_id = ${ref}
      order by how, order_id limit 2`;
    const [first, second] = intake;
    if (first && first.how === 2 && second !== undefined) return { ambiguous: intake.length };
    const found = first
      ? { orderId: first.order_id, externalId: first.external_id }
      : await findOrderByReference(sql, ref);
    if (found === null || 'ambiguous' in found) return found;
    knownOrders.remember(ref, found);
    return found;
  }

  async function decide(provider: string, label: string, dedupeKey: string, e: ProviderEvent): Promise<PaymentDecision> {
    const n = e.notice;
    const base = { dedupeKey, signature: 'valid' as const, eventType: e.eventType, externalRef: n.ref };
    if (n.kind === 'ignored') return { ...base, verdict: 'recorded', detail: n.reason };
    const order = n.ref === null ? null : await findOrder(n.ref);
    const what = `${label} event ${e.eventId} (${e.eventType})`;
    if (order === null || 'ambiguous' in order) {
      const detail =
        n.ref === null
          ? `${what} names no order`
          : order === null
            ? `${what} refers to unknown order "${n.ref}"`
            : `${what} refers to "${n.ref}", an externalId several shops use; the payment must name our order id or "<shop>:${n.ref}"`;
      return { ...base, verdict: 'unmatched', detail, unknownOrder: { severity: n.kind === 'confirmed' ? 'critical' : 'warning', externalRef: n.ref } };
    }
    if (n.kind === 'failed') {
      return {
        ...base,
        verdict: 'accepted',
        orderId: order.orderId,
        detail: `payment failed: ${n.reason}`,
        forward: { type: 'PAYMENT_FAILED', orderId: order.orderId, actor: provider, payload: { provider, reason: n.reason.slice(0, 1000) } },
      };
    }
    const payload: OrderEventPayload<'PAYMENT_CONFIRMED'> = {
      provider,
      paymentId: n.paymentId.slice(0, 200),
      amount: n.amount,
      currency: n.currency,
      ...(n.method ? { method: n.method } : {}),
    };
    return {
      ...base,
      verdict: 'accepted',
      orderId: order.orderId,
      detail: `payment ${n.paymentId} of ${n.amount} ${n.currency} forwarded to the order`,
      forward: { type: 'PAYMENT_CONFIRMED', orderId: order.orderId, actor: provider, payload },
    };
  }

  /** The event a decision forwards to its order (none, or one): it does not name the stored row. */
  function forwarded(d: PaymentDecision): WebhookMessage[] {
    const f = d.forward;
    return f ? [{ subject: names.subjects.orderEvent(f.orderId), type: f.type, orderId: f.orderId, payload: f.payload, actor: f.actor }] : [];
  }

  /** The messages of a decision, for the stored webhook `webhookId`. */
  function messages(d: PaymentDecision, webhookId: string): WebhookMessage[] {
    if (d.forward) return forwarded(d);
    if (d.unknownOrder) {
      const notice: NotifyCommand = {
        kind: 'payment',
        severity: d.unknownOrder.severity,
        code: 'UNKNOWN_ORDER',
        message: `${d.detail ?? 'payment for an unknown order'}; stored as webhook ${webhookId}, replay it once the order exists.`,
        orderId: null,
        externalId: d.unknownOrder.externalRef,
      };
      return [{ id: `${d.dedupeKey}:notify`, subject: names.subjects.command('notify'), type: COMMANDS.notify.name, orderId: null, payload: notice }];
    }
    return [];
  }

  return { decide, messages, forwarded, findOrder };
}

export type PaymentMatcher = ReturnType<typeof createPaymentMatcher>;
