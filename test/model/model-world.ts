import { startGatewayService } from '../../gateway/main.ts';
import { createLogger } from '../../infra/logger.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { startInvoicingSandbox } from '../../infra/sandbox/invoicing-sandbox.ts';
import { startPayuSandbox } from '../../infra/sandbox/payu-sandbox.ts';
import { startSmtpSink } from '../../infra/sandbox/smtp-sink.ts';
import { startStripeSandbox } from '../../infra/sandbox/stripe-sandbox.ts';
import { startWarehouseSandbox } from '../../infra/sandbox/warehouse-sandbox.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';
import { startLogisticsService } from '../../services/logistics/main.ts';
import { startMailerService } from '../../services/mailer/main.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { startPaymentsService } from '../../services/payments/index.ts';
import { createTestContext, eventually } from '../support/context.ts';
import { ALICE, GATEWAY_ENV } from '../gateway/gateway-helpers.ts';

export const MODEL_WAREHOUSE_SECRET = 'whs-model-0123456789abcdef';
const WAREHOUSE_KEY = 'wh-model-key-0123456789';
/** Customers whose mailbox refuses mail (550 at RCPT TO) have addresses starting so. */
export const BOUNCING_MAILBOX = 'bounce-';

/**
 * The whole system on loopback for the model-based suite: gateway, order host, invoicing, mailer,
 * logistics and payments services, with the Fakturownia, warehouse, Stripe and PayU sandboxes and an
 * SMTP sink, on a fresh database and NATS prefix. Sandbox doors hold requests (creates, submits,
 * cancels) until a step answers them, so the clients wait long (120 s) instead of timing out.
 */
export async function startModelWorld(o: { paymentTimeoutMs?: number; ksefGiveUpMs?: number } = {}) {
  const level = process.env['TEST_LOG_LEVEL'] ?? 'warn';
  const invoicing = await startInvoicingSandbox({ ksef: 'on' });
  const warehouse = await startWarehouseSandbox({ apiKey: WAREHOUSE_KEY, webhookSecret: MODEL_WAREHOUSE_SECRET, stepMs: 30, logger: createLogger({ level, name: 'warehouse-sandbox' }) });
  const sink = await startSmtpSink({ rejectRecipients: new RegExp(`^${BOUNCING_MAILBOX}`) });
  const stripe = await startStripeSandbox();
  const payu = await startPayuSandbox();
  const t = await createTestContext({
    ...GATEWAY_ENV,
    FAKTUROWNIA_URL: invoicing.url,
    FAKTUROWNIA_API_TOKEN: invoicing.apiToken,
    FAKTUROWNIA_TIMEOUT_MS: '120000',
    // Companies' documents go through KSeF; the sandbox holds each verdict until a step gives it.
    KSEF_MODE: 'on',
    KSEF_SCOPE: 'all_companies',
    KSEF_POLL_BASE_MS: '100',
    KSEF_POLL_MAX_MS: '400',
    KSEF_POLL_LEASE_MS: '3000',
    SELLER_NAME: 'Sklep Testowy sp. z o.o.',
    SELLER_TAX_NO: '5260250274',
    SELLER_STREET: 'ul. Prosta 1',
    SELLER_POST_CODE: '00-001',
    SELLER_CITY: 'Warszawa',
    // Held requests occupy a consumer slot each while they wait.
    INVOICING_CONCURRENCY: '128',
    LOGISTICS_CONCURRENCY: '128',
    INVOICING_RETRY_BASE_MS: '100',
    SMTP_URL: sink.url,
    MAIL_FROM: 'Sklep <sklep@example.com>',
    MAIL_RETRY_BASE_MS: '200',
    WAREHOUSE_URL: warehouse.url,
    WAREHOUSE_API_KEY: WAREHOUSE_KEY,
    WAREHOUSE_WEBHOOK_SECRET: MODEL_WAREHOUSE_SECRET,
    WAREHOUSE_TIMEOUT_MS: '120000',
    LOGISTICS_RETRY_BASE_MS: '50',
    STRIPE_SECRET_KEY: stripe.secretKey,
    STRIPE_API_URL: stripe.url,
    PAYU_URL: payu.url,
    PAYU_CLIENT_ID: payu.clientId,
    PAYU_CLIENT_SECRET: payu.clientSecret,
    PAYMENTS_RETRY_BASE_MS: '100',
    PAYMENTS_MAX_ATTEMPTS: '4',
    PAYMENTS_TIMEOUT_MS: '3000',
    ...(o.paymentTimeoutMs !== undefined ? { PAYMENT_TIMEOUT_MS: String(o.paymentTimeoutMs) } : {}),
    ...(o.ksefGiveUpMs !== undefined ? { KSEF_GIVE_UP_MS: String(o.ksefGiveUpMs) } : {}),
  });
  const services: RunningService[] = [];
  services.push(await startOrdersService(t), await startInvoicingService(t), await startMailerService(t), await startLogisticsService(t), await startPaymentsService(t));
  const gw = await startGatewayService(t, { defaultMetrics: false });
  warehouse.setWebhookUrl(`${gw.url}/webhooks/warehouse`);

  async function http(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as ReturnType<typeof JSON.parse> };
  }
  const admin = (method: string, path: string, body?: unknown) => http(method, path, body, ALICE);

  return {
    t,
    gw,
    invoicing,
    warehouse,
    sink,
    stripe,
    payu,
    http,
    admin,
    eventually,
    async stop() {
      await gw.stop();
      for (const s of services.reverse()) await s.stop();
      await t.cleanup();
      await warehouse.close();
      await invoicing.close();
      await sink.close();
      await stripe.close();
      await payu.close();
    },
  };
}

export type ModelWorld = Awaited<ReturnType<typeof startModelWorld>>;
