/** One refund as the payments service asks a provider for it. */
export interface RefundRequest {
  /** Our id: Stripe's idempotency key, PayU's extRefundId. The same id never refunds twice. */
  refundId: string;
  orderId: string;
  /** The provider's payment: a Stripe payment intent (or charge), a PayU order id. */
  paymentId: string;
  /** Minor units. */
  amount: number;
  currency: string;
  reason: string;
}

export interface RefundResult {
  providerRefundId: string;
  /** The provider's status word (Stripe `succeeded`/`pending`, PayU `PENDING`/`FINALIZED`). */
  status: string;
}

/**
 * A payment provider's refunds. Adapters are idempotent by `refundId` and throw OrderpilotError:
 * retryable (PROVIDER_TIMEOUT, PROVIDER_UNAVAILABLE, PROVIDER_RATE_LIMITED) or permanent
 * (REFUND_REJECTED with the provider's code and message, PAYMENTS_NOT_CONFIGURED).
 */
export interface RefundProvider {
  readonly name: string;
  refund(req: RefundRequest): Promise<RefundResult>;
}
