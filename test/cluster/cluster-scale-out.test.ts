import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { startGatewayService, type RunningGateway } from '../../gateway/main.ts';
import { createLogger } from '../../infra/logger.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { startInvoicingSandbox, type InvoicingSandbox } from '../../infra/sandbox/invoicing-sandbox.ts';
import { startSmtpSink, type SmtpSink } from '../../infra/sandbox/smtp-sink.ts';
import { startWarehouseSandbox, type WarehouseSandbox } from '../../infra/sandbox/warehouse-sandbox.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';
import { startLogisticsService } from '../../services/logistics/main.ts';
import { startMailerService } from '../../services/mailer/main.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { eventually } from '../support/context.ts';
import { startChild, type Child } from '../support/processes.ts';
import { createWorld, type World } from '../support/world.ts';
import { ALICE, GATEWAY_ENV, SHOP, intakeBody, paidSession, stripeEvent } from '../gateway/gateway-helpers.ts';
import { startNatsCluster } from './nats-cluster.ts';

/**
 * Scale-out on a real NATS cluster (issue 17, part 2): three nats-server nodes with JetStream, every
 * stream with 3 replicas (NATS_REPLICAS=3), two order hosts (one in this process, one a child
 * process) connected through different server lists, with the gateway, invoicing, mailer and
 * logistics services and their sandboxes; orders flow while one NATS node is killed with SIGKILL.
 * Nothing may be lost or done twice: every order is closed once, with one document, one e-mail and
 * one shipment.
 */
const ORDERS = 40;
const WAREHOUSE_SECRET = 'whs-cluster-0123456789abcdef';
const WAREHOUSE_KEY = 'wh-cluster-key-0123456789';

let cluster: Awaited<ReturnType<typeof startNatsCluster>>;
let t: World;
let gw: RunningGateway;
let invoicing: InvoicingSandbox;
let warehouse: WarehouseSandbox;
let sink: SmtpSink;
let secondHost: Child;
const services: RunningService[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  invoicing = await startInvoicingSandbox({});
  warehouse = await startWarehouseSandbox({ apiKey: WAREHOUSE_KEY, webhookSecret: WAREHOUSE_SECRET, stepMs: 30, logger: createLogger({ level: 'warn', name: 'warehouse-sandbox' }) });
  sink = await startSmtpSink();
  t = await createWorld({
    baseDatabaseUrl: inject('databaseUrl'),
    natsUrl: cluster.urlFrom(0),
    kind: 'cl',
    poolMax: 10,
    env: {
      ...GATEWAY_ENV,
      NATS_REPLICAS: '3',
      ORDER_PARTITIONS: '4',
      ACK_WAIT_MS: '5000',
      OUTBOX_POLL_MS: '200',
      LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'warn',
      FAKTUROWNIA_URL: invoicing.url,
      FAKTUROWNIA_API_TOKEN: invoicing.apiToken,
      INVOICING_RETRY_BASE_MS: '100',
      SMTP_URL: sink.url,
      MAIL_FROM: 'Sklep <sklep@example.com>',
      MAIL_RETRY_BASE_MS: '200',
      WAREHOUSE_URL: warehouse.url,
      WAREHOUSE_API_KEY: WAREHOUSE_KEY,
      WAREHOUSE_WEBHOOK_SECRET: WAREHOUSE_SECRET,
      LOGISTICS_RETRY_BASE_MS: '50',
      RETRY_BASE_MS: '100',
      RETRY_CAP_MS: '2000',
    },
  });
  // The second host: another process, the cluster's servers listed from node 2.
  secondHost = await startChild('test/support/orders-child.ts', ['host'], { ...t.env, NATS_URL: cluster.urlFrom(1) });
  services.push(await startOrdersService(t), await startInvoicingService(t), await startMailerService(t), await startLogisticsService(t));
  gw = await startGatewayService(t, { defaultMetrics: false });
  warehouse.setWebhookUrl(`${gw.url}/webhooks/warehouse`);
});

afterAll(async () => {
  await gw?.stop();
  for (const s of services.reverse()) await s.stop();
  await secondHost?.kill('SIGTERM');
  await t?.cleanup();
  await warehouse?.close();
  await invoicing?.close();
  await sink?.close();
  await cluster?.stop();
});

/** A shop and a provider retry until answered 2xx (the doors are idempotent); a NATS election may refuse a publish for a moment. */
async function until2xx(what: string, send: () => Promise<Response>): Promise<unknown> {
  return eventually(async () => {
    const r = await send();
    const text = await r.text();
    return r.status >= 200 && r.status < 300 ? (text === '' ? {} : JSON.parse(text)) : undefined;
  }, what, 60_000, 200);
}

async function placeAndPay(): Promise<{ orderId: string; externalId: string }> {
  const body = intakeBody();
  const placed = (await until2xx('intake', () => fetch(`${gw.url}/orders`, { method: 'POST', headers: { ...SHOP, 'content-type': 'application/json' }, body: JSON.stringify(body) }))) as { orderId: string; externalId: string };
  const e = stripeEvent('checkout.session.completed', paidSession(placed.orderId));
  await until2xx('stripe webhook', () => fetch(`${gw.url}/webhooks/payments/stripe`, { method: 'POST', headers: e.headers, body: e.payload }));
  return placed;
}

describe('scale-out on a 3-node NATS cluster', () => {
  it('streams have 3 replicas; a node killed mid-run loses nothing and does nothing twice', async () => {
    const jsm = await jetstreamManager(t.nc);
    const info = await jsm.streams.info(t.names.streams.orderEvents);
    expect(info.config.num_replicas).toBe(3);
    expect(info.cluster?.replicas?.length).toBe(2);

    const t0 = Date.now();
    const placed: Array<{ orderId: string; externalId: string }> = [];
    const batch = async (n: number) => {
      for (let i = 0; i < n; i += 5) placed.push(...(await Promise.all(Array.from({ length: Math.min(5, n - i) }, () => placeAndPay()))));
    };
    await batch(ORDERS / 2);
    // Mid-run: the node the in-process services listed first dies without a goodbye.
    await cluster.kill(0);
    await batch(ORDERS / 2);

    const admin = async (orderId: string) => {
      const r = await fetch(`${gw.url}/admin/api/orders/${orderId}`, { headers: ALICE });
      return r.status === 200 ? ((await r.json()) as { state: string; documentState: string; history: Array<{ type: string; outcome: string; from: string | null; to: string }> }) : null;
    };
    await eventually(async () => {
      for (const o of placed) {
        const d = await admin(o.orderId);
        if (!(d?.state === 'closed' && d.documentState === 'emailed')) return false;
      }
      return true;
    }, `all ${ORDERS} orders closed with their document e-mailed`, 180_000, 500);
    const seconds = (Date.now() - t0) / 1000;

    for (const o of placed) {
      const d = await admin(o.orderId);
      const closings = (d?.history ?? []).filter((h) => h.outcome === 'applied' && h.to === 'closed' && h.from !== 'closed');
      expect(closings, `order ${o.orderId} closed once`).toHaveLength(1);
      expect(invoicing.invoices().filter((i) => i.oid === o.orderId), `order ${o.orderId}: one document`).toHaveLength(1);
      expect(warehouse.created.get(o.orderId), `order ${o.orderId}: one shipment`).toBe(1);
      expect(sink.mails.filter((m) => m.subject.includes(o.externalId)), `order ${o.orderId}: one e-mail`).toHaveLength(1);
    }
    console.log(`cluster run: ${ORDERS} orders on 3 NATS nodes (replicas 3), node n1 SIGKILLed after ${ORDERS / 2}; all closed once in ${seconds.toFixed(1)} s`);
  });
});
