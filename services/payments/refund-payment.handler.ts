import { isRetryable, type EnvelopeHandler } from '../../infra/nats/consumer-runner.ts';
import type { Logger } from '../../infra/logger.ts';
import { COMMAND_PAYLOADS, isOrderpilotError, OrderpilotError, stableMessageId, validate, type PublishOrderEvent, type RefundPaymentCommand } from '../contracts/index.ts';
import type { RefundProvider, RefundResult } from './refund.port.ts';
import type { RefundStore } from './refund.store.ts';

export interface RefundPaymentHooks {
  /** Called right after the provider answered, before anything is saved or reported (tests: SIGKILL here). */
  afterProviderAnswer?: (refundId: string, result: RefundResult) => void | Promise<void>;
}

export interface RefundPaymentDeps {
  /** The configured providers by name (`stripe`, `payu`); a payment of another provider fails PAYMENTS_NOT_CONFIGURED. */
  providers: ReadonlyMap<string, RefundProvider>;
  store: RefundStore;
  publish: PublishOrderEvent;
  logger: Logger;
  hooks?: RefundPaymentHooks;
}

/**
 * Handles `refund-payment`, idempotently (any number of deliveries, instances and crashes give one
 * refund per refund id):
 * 1. record the request in `refunds` (first wins); already refunded or failed → report it again;
 * 2. ask the payment's provider with our refund id as its idempotency key (Stripe) / extRefundId
 *    (PayU, looked up first) — a repeat after a lost answer or a crash gets the same refund back;
 * 3. record it, report REFUND_COMPLETED (message id stable per refund id).
 * A retryable failure throws (the runner naks with backoff) until the last attempt, which reports
 * REFUND_FAILED RETRIES_EXHAUSTED; a permanent one (REFUND_REJECTED, PAYMENTS_NOT_CONFIGURED)
 * reports REFUND_FAILED at once. The order machine notifies an admin of every REFUND_FAILED.
 */
export function createRefundPaymentHandler(deps: RefundPaymentDeps): EnvelopeHandler {
  const report = async (type: 'REFUND_COMPLETED' | 'REFUND_FAILED', orderId: string, refundId: string, payload: Record<string, unknown>, cause: Parameters<PublishOrderEvent>[0]['cause']) => {
    try {
      await deps.publish({ type, orderId, id: stableMessageId(type.toLowerCase(), refundId), payload: { refundId, ...payload }, cause, actor: 'payments' });
    } catch (err) {
      throw new OrderpilotError('NATS_UNAVAILABLE', `could not publish ${type} for ${refundId}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  };
  return async (env, ctx) => {
    const cmd: RefundPaymentCommand = validate(COMMAND_PAYLOADS.refundPayment, env.payload, 'refund-payment command');
    const { refundId, orderId } = cmd;
    const provider = cmd.payment.provider.toLowerCase();
    const log = deps.logger.child({ orderId, refundId, provider, delivery: ctx.deliveryCount });
    const row = await deps.store.begin({ refundId, orderId, provider, paymentId: cmd.payment.paymentId, amount: cmd.amount, currency: cmd.currency, reason: cmd.reason });
    if (row.status === 'refunded' && row.providerRefundId !== null) {
      log.info({ providerRefundId: row.providerRefundId }, 'refund already made; reporting it again');
      await report('REFUND_COMPLETED', orderId, refundId, { providerRefundId: row.providerRefundId }, env);
      return;
    }
    if (row.status === 'failed') {
      await report('REFUND_FAILED', orderId, refundId, { code: row.errorCode ?? 'REFUND_REJECTED', message: row.errorMessage ?? '' }, env);
      return;
    }
    try {
      const adapter = deps.providers.get(provider);
      if (adapter === undefined) throw new OrderpilotError('PAYMENTS_NOT_CONFIGURED', `no refund credentials for ${cmd.payment.provider} (set STRIPE_SECRET_KEY or PAYU_CLIENT_ID / PAYU_CLIENT_SECRET); refund ${refundId} by hand`);
      const result = await adapter.refund({ refundId, orderId, paymentId: cmd.payment.paymentId, amount: cmd.amount, currency: cmd.currency, reason: cmd.reason });
      await deps.hooks?.afterProviderAnswer?.(refundId, result);
      await deps.store.refunded(refundId, result.providerRefundId);
      await report('REFUND_COMPLETED', orderId, refundId, { providerRefundId: result.providerRefundId }, env);
      log.info({ providerRefundId: result.providerRefundId, status: result.status, amount: cmd.amount }, 'refund made');
    } catch (err) {
      const retryable = isRetryable(err);
      const message = err instanceof Error ? err.message : String(err);
      if (retryable && !ctx.lastAttempt) throw err;
      const code = retryable ? 'RETRIES_EXHAUSTED' : isOrderpilotError(err) ? err.code : 'INTERNAL';
      const text = retryable ? `gave up after ${ctx.deliveryCount} attempts; last error: ${message}` : message;
      await deps.store.failed(refundId, code, text);
      await report('REFUND_FAILED', orderId, refundId, { code, message: text.slice(0, 2000) }, env);
      log.warn({ code, err: message }, 'refund failed; reported REFUND_FAILED');
    }
  };
}
