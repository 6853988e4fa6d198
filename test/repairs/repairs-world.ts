import { startGatewayService, type RunningGateway } from '../../gateway/main.ts';
import { createLogger } from '../../infra/logger.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { startInvoicingSandbox, type InvoicingSandbox, type InvoicingSandboxOptions } from '../../infra/sandbox/invoicing-sandbox.ts';
import { startSmtpSink, type SmtpSink } from '../../infra/sandbox/smtp-sink.ts';
import { startWarehouseSandbox, type WarehouseSandbox, type WarehouseSandboxOptions } from '../../infra/sandbox/warehouse-sandbox.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';
import { startLogisticsService } from '../../services/logistics/main.ts';
import { startMailerService } from '../../services/mailer/main.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { startPaymentsService } from '../../services/payments/index.ts';
import { startStripeSandbox } from '../../infra/sandbox/stripe-sandbox.ts';
import { startPayuSandbox } from '../../infra/sandbox/payu-sandbox.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { ALICE, GATEWAY_ENV, SHOP, intakeBody, paidSession, payuNotification, stripeEvent } from '../gateway/gateway-helpers.ts';

export const WAREHOUSE_SECRET = 'whs-repairs-0123456789abcdef';
export const WAREHOUSE_KEY = 'wh-repairs-key-0123456789';

/**
 * Everything an admin repair touches, for real on loopback: the gateway (intake, payment webhooks,
 * admin API, warehouse webhooks), the order host, invoicing, mailer and logistics services, the
 * Fakturownia and warehouse sandboxes and an SMTP sink, on a fresh database and NATS prefix.
 */
/** An order as `GET /admin/api/orders/:id` answers it (JSON, read loosely by the tests). */
type OrderJson = ReturnType<typeof JSON.parse>;

export type RepairsWorld = Awaited<ReturnType<typeof startRepairsWorld>>;

export async function startRepairsWorld(o: { env?: Record<string, string>; invoicing?: InvoicingSandboxOptions; warehouse?: Partial<WarehouseSandboxOptions>; skip?: ReadonlyArray<'invoicing' | 'payments'> } = {}) {
  const level = process.env['TEST_LOG_LEVEL'] ?? 'warn';
  const invoicing = await startInvoicingSandbox(o.invoicing ?? {});
  const warehouse = await startWarehouseSandbox({ apiKey: WAREHOUSE_KEY, webhookSecret: WAREHOUSE_SECRET, stepMs: 30, logger: createLogger({ level, name: 'warehouse-sandbox' }), ...o.warehouse });
  // Mailboxes at nowhere.example do not exist (550), like a customer's typo.
  const sink = await startSmtpSink({ rejectRecipients: /@nowhere\.example$/ });
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
    MAIL_MAX_ATTEMPTS: '3',
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
    return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as OrderJson };
  }
  const admin = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => http(method, path, body, { ...ALICE, ...headers });
  const detail = async (orderId: string) => {
    const r = await admin('GET', `/admin/api/orders/${orderId}`);
    return r.status === 200 ? r.body : null;
  };
  const waitFor = (orderId: string, what: string, check: (d: OrderJson) => boolean, timeoutMs = 30_000): Promise<OrderJson> =>
    eventually(async () => {
      const d = await detail(orderId);
      return d && check(d) ? d : undefined;
    }, `order ${orderId}: ${what}`, timeoutMs);

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
    detail,
    waitFor,
    /** POST /orders through the shop's key; waits until the order is pending. */
    async place(over: Record<string, unknown> = {}): Promise<{ orderId: string; externalId: string }> {
      const r = await http('POST', '/orders', intakeBody(over), SHOP);
      if (r.status !== 202) throw new Error(`intake answered ${r.status}: ${JSON.stringify(r.body)}`);
      await waitFor(r.body.orderId, 'pending', (d) => d.state === 'pending');
      return r.body;
    },
    /** A Stripe checkout.session.completed webhook for the order's total (the Stripe sandbox knows the payment). */
    async pay(orderId: string, amount = 6500): Promise<void> {
      const session = paidSession(orderId, amount);
      stripe.addPayment(session.payment_intent, amount, 'pln');
      const e = stripeEvent('checkout.session.completed', session);
      const r = await http('POST', '/webhooks/payments/stripe', e.payload, e.headers);
      if (r.status !== 200) throw new Error(`stripe webhook answered ${r.status}: ${JSON.stringify(r.body)}`);
    },
    /** A PayU COMPLETED notification for the order (the PayU sandbox knows the PayU order); returns its PayU order id. */
    async payWithPayu(externalId: string, amount = 6500): Promise<string> {
      const payuOrderId = `PAYU${Math.random().toString(36).slice(2, 12).toUpperCase()}`;
      payu.addOrder(payuOrderId, amount, 'PLN');
      const n = payuNotification(externalId, 'COMPLETED', { payuOrderId, amount: String(amount) });
      const r = await http('POST', '/webhooks/payments/payu', n.payload, n.headers);
      if (r.status !== 200) throw new Error(`payu webhook answered ${r.status}: ${JSON.stringify(r.body)}`);
      return payuOrderId;
    },
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
