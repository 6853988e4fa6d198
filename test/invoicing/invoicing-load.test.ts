import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrdersService } from '../../services/orders/main.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';
import { startMailerService } from '../../services/mailer/main.ts';
import { startInvoicingSandbox, type InvoicingSandbox } from '../../infra/sandbox/invoicing-sandbox.ts';
import { startSmtpSink, type SmtpSink } from '../../infra/sandbox/smtp-sink.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { sampleOrder } from '../support/orders.ts';
import { placeAndPay } from './support.ts';

const ORDERS = 200;
let t: TestContext;
let sandbox: InvoicingSandbox;
let sink: SmtpSink;
const services: RunningService[] = [];

beforeAll(async () => {
  // A generous retry budget (12 attempts from 100 ms, doubling) and moderate concurrency, so a busy
  // CI machine's slow answers (client timeouts on top of the injected faults) never exhaust it.
  // 20% of requests fail: 8% 503, 2% never answered, 10% of creates issue the document but lose the answer.
  sandbox = await startInvoicingSandbox({ faults: { errorRate: 0.08, timeoutRate: 0.02, dropResponseRate: 0.1 } });
  sink = await startSmtpSink();
  t = await createTestContext({
    FAKTUROWNIA_URL: sandbox.url,
    FAKTUROWNIA_API_TOKEN: sandbox.apiToken,
    FAKTUROWNIA_TIMEOUT_MS: '2000',
    MAX_DELIVER: '12',
    INVOICING_MAX_ATTEMPTS: '12',
    INVOICING_CONCURRENCY: '16',
    INVOICING_RETRY_BASE_MS: '100',
    SMTP_URL: sink.url,
    MAIL_MAX_ATTEMPTS: '12',
    MAIL_RETRY_BASE_MS: '100',
    MAIL_CONCURRENCY: '16',
    ORDER_PARTITIONS: '16',
    LOG_LEVEL: 'error',
  });
  services.push(await startOrdersService(t), await startInvoicingService(t), await startInvoicingService(t), await startMailerService(t));
});
afterAll(async () => {
  for (const s of services.reverse()) await s.stop();
  await t?.cleanup();
  await sandbox?.close();
  await sink?.close();
});

describe('200 orders at once through the sandbox with 20% injected faults', () => {
  it('gives exactly one document and one e-mail per order', async () => {
    const orders = Array.from({ length: ORDERS }, (_, i) => sampleOrder({ externalId: `LOAD-${Date.now()}-${i}` }));
    await Promise.all(orders.map((o) => placeAndPay(t.nc, t.names, o)));
    const ids = orders.map((o) => o.orderId);
    await eventually(async () => {
      const [r] = await t.sql<{ n: number }[]>`select count(*)::int as n from orders where id = any(${ids}) and document_state in ('emailed', 'failed')`;
      return r?.n === ORDERS;
    }, `${ORDERS} documents e-mailed or failed`, 140_000, 250);
    // None failed (a failure here names its code, e.g. RETRIES_EXHAUSTED on a starved machine).
    const failed = await t.sql`select id, snapshot->'context'->'documentFailure' as failure from orders where id = any(${ids}) and document_state = 'failed'`;
    expect(failed).toEqual([]);
    const injected = sandbox.injected;
    expect(injected.errors + injected.timeouts + injected.dropped).toBeGreaterThan(ORDERS * 0.1);
    const perOrder = new Map<string, number>();
    for (const inv of sandbox.invoices()) perOrder.set(inv.oid ?? '', (perOrder.get(inv.oid ?? '') ?? 0) + 1);
    expect(ids.filter((id) => perOrder.get(id) !== 1)).toEqual([]);
    const [docs] = await t.sql<{ n: number; distinct_orders: number }[]>`select count(*)::int as n, count(distinct order_id)::int as distinct_orders from documents where status = 'issued'`;
    expect(docs).toEqual({ n: ORDERS, distinct_orders: ORDERS });
    const mails = new Map<string, number>();
    for (const m of sink.mails) mails.set(m.subject, (mails.get(m.subject) ?? 0) + 1);
    expect(sink.mails).toHaveLength(ORDERS);
    expect([...mails.values()].every((n) => n === 1)).toBe(true);
    expect(await t.sql`select 1 from dead_letters`).toHaveLength(0);
  }, 150_000);
});
