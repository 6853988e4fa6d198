import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger.ts';
import { startInvoicingSandbox, type InvoicingSandbox, type InvoicingSandboxFaults } from '../sandbox/invoicing-sandbox.ts';
import { startSmtpSink, type SmtpSink } from '../sandbox/smtp-sink.ts';
import { startWarehouseSandbox, type FaultKind, type WarehouseSandbox } from '../sandbox/warehouse-sandbox.ts';
import { startStripeSandbox, type StripeSandbox } from '../sandbox/stripe-sandbox.ts';
import { startPayuSandbox, type PayuSandbox } from '../sandbox/payu-sandbox.ts';
import { startWooCommerceSandbox, type WooCommerceSandbox, type WooNote, type WooOrder } from '../sandbox/woocommerce-sandbox.ts';
import { startMagentoSandbox, type MagentoOrder, type MagentoSandbox } from '../sandbox/magento-sandbox.ts';
import type { WarehouseStatus } from '../../services/contracts/index.ts';
import type { SandboxStateStore } from './sandbox-state.store.ts';

/** The sandbox providers on loopback, and the environment that points orderpilot at them. */
export interface Sandboxes {
  invoicing: InvoicingSandbox;
  warehouse: WarehouseSandbox;
  smtp: SmtpSink;
  /** Refunds (the payments service): Stripe and PayU stand-ins. */
  stripe: StripeSandbox;
  payu: PayuSandbox;
  /** Connected shops (with `shops: true`): a WooCommerce shop (orders by signed webhook) and a Magento 2 shop (polled). */
  woo: WooCommerceSandbox | null;
  magento: MagentoSandbox | null;
  /** FAKTUROWNIA_*, WAREHOUSE_*, SMTP_URL, STRIPE_SECRET_KEY / STRIPE_API_URL, PAYU_*: merge into orderpilot's environment / config. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export interface SandboxesOptions {
  logger: Logger;
  /** Keep sandbox state across restarts (the demo); without it the state lives in memory. */
  store?: SandboxStateStore;
  /** Secrets shared with orderpilot (generated when absent; the demo keeps them stable across restarts). */
  invoicingToken?: string;
  warehouseApiKey?: string;
  warehouseWebhookSecret?: string;
  /** Where the warehouse sends status webhooks (settable later: `warehouse.setWebhookUrl`). */
  webhookUrl?: string;
  /** Time between two warehouse statuses of a shipment. */
  stepMs?: number;
  invoicingFaults?: Partial<InvoicingSandboxFaults>;
  warehouseFaults?: Partial<Record<FaultKind, number>>;
  seed?: number;
  /** Fixed ports (the demo keeps them stable); default ephemeral. */
  ports?: { invoicing?: number; warehouse?: number; smtp?: number };
  /** Attempts the warehouse makes to deliver one webhook (default 8, backoff up to 5 s). */
  webhookAttempts?: number;
  /** The statuses the warehouse reports (default: all six of a normal walk). */
  warehouseReports?: readonly WarehouseStatus[];
  /** Mails the SMTP sink keeps in memory (oldest dropped first). */
  maxMails?: number;
  /** How much of each mail the SMTP sink parses (`headers` for benches); default `full`. */
  smtpParse?: 'full' | 'headers';
  /** Also a WooCommerce and a Magento 2 shop, connected as `woo` and `magento` (SHOPS, SHOP_*), paid by the shop's own signal. */
  shops?: boolean;
}

export async function startSandboxes(o: SandboxesOptions): Promise<Sandboxes> {
  const token = o.invoicingToken ?? `sandbox_${randomBytes(12).toString('hex')}`;
  const apiKey = o.warehouseApiKey ?? `wh_${randomBytes(12).toString('hex')}`;
  const secret = o.warehouseWebhookSecret ?? `whsec_wh_${randomBytes(16).toString('hex')}`;
  const store = o.store;
  const invoicing = await startInvoicingSandbox({
    apiToken: token,
    ...(o.ports?.invoicing !== undefined ? { port: o.ports.invoicing } : {}),
    ...(o.invoicingFaults ? { faults: o.invoicingFaults } : {}),
    ...(store ? { initialInvoices: await store.invoices(), persist: (inv) => store.saveInvoice(inv) } : {}),
  });
  const warehouse = await startWarehouseSandbox({
    apiKey,
    webhookSecret: secret,
    webhookUrl: o.webhookUrl,
    stepMs: o.stepMs ?? 1000,
    ...(o.webhookAttempts !== undefined ? { webhookAttempts: o.webhookAttempts } : {}),
    ...(o.warehouseReports !== undefined ? { reports: o.warehouseReports } : {}),
    seed: o.seed ?? (Date.now() & 0xffff),
    logger: o.logger,
    ...(o.ports?.warehouse !== undefined ? { port: o.ports.warehouse } : {}),
    ...(o.warehouseFaults ? { faults: o.warehouseFaults } : {}),
    ...(store ? { initialShipments: await store.shipments(), persist: (s, plan) => store.saveShipment(s, plan) } : {}),
  });
  // Stripe knows the payments the demo shop's checkouts make (`addPayment`), kept across restarts like the rest.
  const stripe = await startStripeSandbox(
    store ? { initialPayments: await store.stripePayments(), persist: (intent, payment) => store.saveStripePayment(intent, payment) } : {},
  );
  const payu = await startPayuSandbox();
  const shops = o.shops === true ? await startShopSandboxes(store) : null;
  const smtp = await startSmtpSink({ ...(o.ports?.smtp !== undefined ? { port: o.ports.smtp } : {}), maxMails: o.maxMails ?? 1000, parse: o.smtpParse ?? 'full' });
  return {
    invoicing,
    warehouse,
    smtp,
    stripe,
    payu,
    woo: shops?.woo ?? null,
    magento: shops?.magento ?? null,
    env: {
      ...shops?.env,
      STRIPE_SECRET_KEY: stripe.secretKey,
      STRIPE_API_URL: stripe.url,
      PAYU_URL: payu.url,
      PAYU_CLIENT_ID: payu.clientId,
      PAYU_CLIENT_SECRET: payu.clientSecret,
      FAKTUROWNIA_URL: invoicing.url,
      FAKTUROWNIA_API_TOKEN: token,
      WAREHOUSE_URL: warehouse.url,
      WAREHOUSE_API_KEY: apiKey,
      WAREHOUSE_WEBHOOK_SECRET: secret,
      SMTP_URL: smtp.url,
    },
    async close() {
      await warehouse.close();
      await invoicing.close();
      await smtp.close();
      await stripe.close();
      await payu.close();
      await shops?.woo.close();
      await shops?.magento.close();
    },
  };
}

/** The demo's connected shops, their state kept like the providers' (a restarted shop still knows its orders). */
async function startShopSandboxes(store: SandboxStateStore | undefined) {
  const hex = (n: number) => randomBytes(n).toString('hex');
  const woo = { key: `ck_${hex(20)}`, secret: `cs_${hex(20)}`, webhookSecret: `woo_${hex(16)}` };
  const magentoToken = hex(16);
  const wooKept = store ? await store.shopOrders<WooOrder>('woo') : [];
  const magentoKept = store ? await store.shopOrders<MagentoOrder>('magento') : [];
  const wooShop = await startWooCommerceSandbox({
    consumerKey: woo.key,
    consumerSecret: woo.secret,
    webhookSecret: woo.webhookSecret,
    initialOrders: wooKept.map((k) => ({ order: k.order, notes: k.notes as WooNote[] })),
    ...(store ? { persist: (order: WooOrder, notes: WooNote[]) => store.saveShopOrder('woo', order.id, order, notes) } : {}),
    keep: 500,
  });
  const magento = await startMagentoSandbox({
    token: magentoToken,
    initialOrders: magentoKept.map((k) => k.order),
    ...(store ? { persist: (order: MagentoOrder) => store.saveShopOrder('magento', order.entity_id, order) } : {}),
    keep: 500,
  });
  return {
    woo: wooShop,
    magento,
    env: {
      SHOPS: 'woo:woocommerce,magento:magento',
      SHOP_WOO_URL: wooShop.url,
      SHOP_WOO_KEY: woo.key,
      SHOP_WOO_SECRET: woo.secret,
      SHOP_WOO_WEBHOOK_SECRET: woo.webhookSecret,
      SHOP_WOO_PAYMENT: 'shop',
      SHOP_MAGENTO_URL: magento.url,
      SHOP_MAGENTO_KEY: magentoToken,
      SHOP_MAGENTO_PAYMENT: 'shop',
      SHOPS_POLL_MS: '2000',
    },
  };
}
