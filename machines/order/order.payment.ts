import type { OrderData } from './order.types.ts';

/**
 * Whether a payment pays this order: the same amount in minor units and the same currency. The one
 * place this is decided is the machine's `paymentMatchesOrder` guard; the payment webhooks only find
 * the order and forward the payment (not exported from `machines/order`, so nobody re-decides it).
 */
export function paymentMatchesOrder(order: Pick<OrderData, 'total' | 'currency'>, payment: { amount: number; currency: string }): boolean {
  return payment.amount === order.total && payment.currency.toUpperCase() === order.currency.toUpperCase();
}
