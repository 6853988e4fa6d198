import { runConsumer } from '../../infra/nats/consumer-runner.ts';
import { publishOrderEvent } from '../../infra/nats/publish.ts';
import { retryPolicyFromConfig } from '../../infra/retry-policy.ts';
import type { RunningService, ServiceDeps } from '../../infra/runtime/service.ts';
import { OrderpilotError } from '../contracts/index.ts';
import { createPayuRefundAdapter } from './payu-refund.adapter.ts';
import { createRefundPaymentHandler, type RefundPaymentHooks } from './refund-payment.handler.ts';
import type { RefundProvider } from './refund.port.ts';
import { createRefundStore } from './refund.store.ts';
import { createStripeRefundAdapter } from './stripe-refund.adapter.ts';

export interface PaymentsServiceOptions {
  /** Other refund adapters by provider name; default: Stripe and PayU from config (those configured). */
  providers?: ReadonlyMap<string, RefundProvider>;
  hooks?: RefundPaymentHooks;
}

/** The refund adapters the configuration has credentials for (none is fatal: such refunds fail, naming the variable). */
export function refundProvidersFromConfig(config: ServiceDeps['config']): Map<string, RefundProvider> {
  const p = config.payments;
  const providers = new Map<string, RefundProvider>();
  if (p.stripeSecretKey) providers.set('stripe', createStripeRefundAdapter({ secretKey: p.stripeSecretKey, apiUrl: p.stripeApiUrl, timeoutMs: p.timeoutMs }));
  if (p.payuClientId && p.payuClientSecret) providers.set('payu', createPayuRefundAdapter({ baseUrl: p.payuUrl, clientId: p.payuClientId, clientSecret: p.payuClientSecret, timeoutMs: p.timeoutMs }));
  return providers;
}

/**
 * The payments service: consumes `refund-payment` commands from its own queue (one durable consumer
 * shared by every instance) and reports REFUND_COMPLETED / REFUND_FAILED to the order actor. Owns
 * the `refunds` table. Never writes order state.
 */
export async function startPaymentsService(deps: ServiceDeps, opts: PaymentsServiceOptions = {}): Promise<RunningService> {
  const { config, names, nc } = deps;
  const logger = deps.logger.child({ service: 'payments' });
  const providers = opts.providers ?? refundProvidersFromConfig(config);
  if (providers.size === 0) logger.warn('no refund credentials (STRIPE_SECRET_KEY, PAYU_CLIENT_ID / PAYU_CLIENT_SECRET): every refund fails PAYMENTS_NOT_CONFIGURED and notifies an admin');
  const refund = createRefundPaymentHandler({
    providers,
    store: createRefundStore(deps.sql),
    publish: (m) => publishOrderEvent(nc, names, m),
    logger,
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
  });
  const refundSubject = names.subjects.command('refundPayment');
  const consumer = await runConsumer({
    nc,
    sql: deps.sql,
    logger,
    stream: names.streams.command('payments'),
    consumer: names.consumers.command('payments'),
    handler: async (env, ctx) => {
      if (ctx.subject === refundSubject) return refund(env, ctx);
      throw new OrderpilotError('MALFORMED_MESSAGE', `payments has no handler for subject ${ctx.subject}`);
    },
    maxDeliver: config.payments.maxAttempts,
    concurrency: config.payments.concurrency,
    retry: retryPolicyFromConfig(config, 'payments'),
    ackWaitMs: config.ackWaitMs,
    gate: deps.bulkGate,
  });
  logger.info({ providers: [...providers.keys()], maxAttempts: config.payments.maxAttempts }, 'payments service started');
  return {
    name: 'payments',
    async stop() {
      await consumer.stop();
      logger.info('payments service stopped');
    },
  };
}
