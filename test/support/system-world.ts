import { startGatewayService } from '../../gateway/main.ts';
import { createLogger } from '../../infra/logger.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { startInvoicingSandbox, type InvoicingSandboxOptions } from '../../infra/sandbox/invoicing-sandbox.ts';
import { startPayuSandbox } from '../../infra/sandbox/payu-sandbox.ts';
import { startSmtpSink } from '../../infra/sandbox/smtp-sink.ts';
import { startStripeSandbox } from '../../infra/sandbox/stripe-sandbox.ts';
import { startWarehouseSandbox, type WarehouseSandboxOptions } from '../../infra/sandbox/warehouse-sandbox.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';
import { startLogisticsService } from '../../services/logistics/main.ts';
import { startMailerService } from '../../services/mailer/main.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { startPaymentsService } from '../../services/payments/index.ts';
import { ALICE, GATEWAY_ENV } from '../gateway/gateway-helpers.ts';
import { createTestContext } from './context.ts';

export const WAREHOUSE_SECRET = 'whs-system-0123456789abcdef';
export const WAREHOUSE_KEY = 'wh-system-key-0123456789';

/** An answer of the gateway as the tests read it (JSON, loosely typed). */
export type Json = ReturnType<typeof JSON.parse>;

export interface SystemWorldOptions {
  /** Merged over the world's environment (timeouts, KSeF, shops…). */
  env?: Record<string, string>;
  invoicing?: InvoicingSandboxOptions;
  warehouse?: Partial<WarehouseSandboxOptions>;
  /** Mailboxes the SMTP sink refuses (550 at RCPT TO), like a customer's typo. */
  rejectRecipients?: RegExp;
  skip?: ReadonlyArray<'invoicing' | 'payments'>;
}

/**
 * The whole system on loopback, for real: the gateway (intake, payment and warehouse webhooks, admin
 * API), the order host, invoicing, mailer, logistics and payments services, with the Fakturownia,
 * warehouse, Stripe and PayU sandboxes and an SMTP sink, on a fresh database and NATS prefix. The
 * repairs and the model-based suites build on it.
 */
export async function startSystemWorld(o: SystemWorldOptions = {}) {
  const level = process.env['TEST_LOG_LEVEL'] ?? 'warn';
  const invoicing = await startInvoicingSandbox(o.invoicing ?? {});
  const warehouse = await startWarehouseSandbox({ apiKey: WAREHOUSE_KEY, webhookSecret: WAREHOUSE_SECRET, stepMs: 30, logger: createLogger({ level, name: 'warehouse-sandbox' }), ...o.warehouse });
  const sink = await startSmtpSink(o.rejectRecipients ? { rejectRecipients: o.rejectRecipients } : {});
  const stripe = await startStripeSandbox();
  const payu = await startPayuSandbox();
  const t = await createTestContext({
    ...GATEWAY_ENV,
    FAKTUROWNIA_URL: invoicing.url,
    FAKTUROWNIA_API_TOKEN: invoicing.apiToken,
    FAKTUROWNIA_TIMEOUT_MS: '5000',
    INVOICING_RETRY_BASE_MS: '100',
    SMTP_URL: sink.url,
    MAIL_FROM: 'Sklep <sklep@example.com>',
    MAIL_RETRY_BASE_MS: '200',
    WAREHOUSE_URL: warehouse.url,
    WAREHOUSE_API_KEY: WAREHOUSE_KEY,
    WAREHOUSE_WEBHOOK_SECRET: WAREHOUSE_SECRET,
    WAREHOUSE_TIMEOUT_MS: '2000',
    LOGISTICS_RETRY_BASE_MS: '50',
    STRIPE_SECRET_KEY: stripe.secretKey,
    STRIPE_API_URL: stripe.url,
    PAYU_URL: payu.url,
    PAYU_CLIENT_ID: payu.clientId,
    PAYU_CLIENT_SECRET: payu.clientSecret,
    PAYMENTS_RETRY_BASE_MS: '100',
    PAYMENTS_MAX_ATTEMPTS: '4',
    PAYMENTS_TIMEOUT_MS: '3000',
    ...o.env,
  });
  const services: RunningService[] = [];
  const skip = new Set(o.skip ?? []);
  services.push(await startOrdersService(t));
  if (!skip.has('invoicing')) services.push(await startInvoicingService(t));
  services.push(await startMailerService(t), await startLogisticsService(t));
  if (!skip.has('payments')) services.push(await startPaymentsService(t));
  const gw = await startGatewayService(t, { defaultMetrics: false });
  warehouse.setWebhookUrl(`${gw.url}/webhooks/warehouse`);

  async function http(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as Json };
  }
  const admin = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => http(method, path, body, { ...ALICE, ...headers });

  return {
    t,
    gw,
    invoicing,
    warehouse,
    sink,
    stripe,
    payu,
    services,
    http,
    admin,
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

export type SystemWorld = Awaited<ReturnType<typeof startSystemWorld>>;
