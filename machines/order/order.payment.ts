import type { OrderData } from './order.types.ts';

/**
 * Whether a payment pays this order: the same amount in minor units and the same currency. The one
 * rule for it: the machine's `paymentMatchesOrder` guard, and the payment webhooks asking the order
 * for its answer before they forward a payment (so the inbox records the order's verdict).
 */
export function paymentMatchesOrder(order: Pick<OrderData, 'total' | 'currency'>, payment: { amount: number; currency: string }): boolean {
  return payment.amount === order.total && payment.currency.toUpperCase() === order.currency.toUpperCase();
}
