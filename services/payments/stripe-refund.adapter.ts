import Stripe from 'stripe';
import { OrderpilotError } from '../contracts/index.ts';
import type { RefundProvider } from './refund.port.ts';

export interface StripeRefundOptions {
  secretKey: string;
  /** A stand-in for api.stripe.com (the sandbox): the SDK's host, port and protocol options. */
  apiUrl?: string | undefined;
  timeoutMs: number;
}

/**
 * Stripe refunds through the official SDK: `refunds.create({ payment_intent | charge, amount },
 * { idempotencyKey: refundId })`. Stripe answers a repeated key with the first answer, so a retry
 * (or a restart after a crash mid-call) never refunds twice. The SDK's own retries are off: the
 * consumer's retry policy is the one place that retries.
 */
export function createStripeRefundAdapter(o: StripeRefundOptions): RefundProvider {
  const target = o.apiUrl === undefined ? {} : (() => {
    const u = new URL(o.apiUrl);
    const protocol = u.protocol === 'http:' ? ('http' as const) : ('https' as const);
    return { host: u.hostname, port: u.port === '' ? (protocol === 'http' ? 80 : 443) : Number(u.port), protocol };
  })();
  const stripe = new Stripe(o.secretKey, { maxNetworkRetries: 0, timeout: o.timeoutMs, telemetry: false, ...target });
  return {
    name: 'stripe',
    async refund(req) {
      const target = req.paymentId.startsWith('ch_') ? { charge: req.paymentId } : { payment_intent: req.paymentId };
      try {
        const r = await stripe.refunds.create(
          { ...target, amount: req.amount, metadata: { order_id: req.orderId, refund_id: req.refundId, reason: req.reason.slice(0, 450) } },
          { idempotencyKey: req.refundId },
        );
        if (r.status === 'failed' || r.status === 'canceled') {
          throw new OrderpilotError('REFUND_REJECTED', `Stripe refund ${r.id} is ${r.status}${r.failure_reason ? ` (${r.failure_reason})` : ''}`);
        }
        return { providerRefundId: r.id, status: r.status ?? 'pending' };
      } catch (err) {
        throw stripeError(err);
      }
    },
  };
}

/** Stripe's error classes → our codes, once (by type and status, never by message text). */
function stripeError(err: unknown): OrderpilotError {
  if (err instanceof OrderpilotError) return err;
  if (err instanceof Stripe.errors.StripeError) {
    const what = `Stripe: ${err.code ? `${err.code}: ` : ''}${err.message}`;
    switch (err.type) {
      case 'StripeConnectionError':
        return new OrderpilotError('PROVIDER_UNAVAILABLE', what, { cause: err });
      case 'StripeRateLimitError':
        return new OrderpilotError('PROVIDER_RATE_LIMITED', what, { cause: err });
      case 'StripeAPIError':
        return new OrderpilotError('PROVIDER_UNAVAILABLE', what, { cause: err });
      default:
        if ((err.statusCode ?? 0) >= 500 || err.statusCode === 408) return new OrderpilotError('PROVIDER_UNAVAILABLE', what, { cause: err });
        return new OrderpilotError('REFUND_REJECTED', what, { cause: err, details: { type: err.type, code: err.code ?? null, statusCode: err.statusCode ?? null } });
    }
  }
  return new OrderpilotError('PROVIDER_UNAVAILABLE', `Stripe: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
