import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../gateway/app.ts';
import { consumerBacklog } from '../../infra/nats/topology.ts';
import { startInvoicingSandbox, type InvoicingSandbox } from '../../infra/sandbox/invoicing-sandbox.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { GATEWAY_ENV, SHOP, intakeBody, paidSession, payuNotification, stripeEvent } from '../gateway/gateway-helpers.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { history, orderRow } from './support.ts';

/**
 * What the invoice carries, from the webhook to the invoicing system: the real gateway (signed Stripe
 * and PayU webhooks), order host and invoicing service, the Fakturownia sandbox, Postgres and NATS.
 * orderpilot runs with KSEF_MODE=on and the seller's street deliberately not configured. The sandbox
 * account itself has KSeF off (with it on, it would refuse every create without a seller street, like
 * Fakturownia's "block documents that do not meet KSeF"): consumer documents are outside KSeF here,
 * and the company document must fail in orderpilot's own check, before any create is sent.
 */
let t: TestContext;
let sandbox: InvoicingSandbox;
let app: FastifyInstance;
const services: RunningService[] = [];

beforeAll(async () => {
  sandbox = await startInvoicingSandbox();
  t = await createTestContext({
    ...GATEWAY_ENV,
    FAKTUROWNIA_URL: sandbox.url,
    FAKTUROWNIA_API_TOKEN: sandbox.apiToken,
    FAKTUROWNIA_TIMEOUT_MS: '5000',
    // A retry loop would show at once: a retryable failure comes back after 50 ms.
    INVOICING_RETRY_BASE_MS: '50',
    INVOICING_MAX_ATTEMPTS: '6',
    KSEF_MODE: 'on',
    KSEF_SCOPE: 'all_companies',
    KSEF_POLL_BASE_MS: '100',
    KSEF_POLL_MAX_MS: '400',
    SELLER_NAME: 'Sklep Testowy sp. z o.o.',
    SELLER_TAX_NO: '5260250274',
    SELLER_POST_CODE: '00-001',
    SELLER_CITY: 'Warszawa',
  });
  services.push(await startOrdersService(t), await startInvoicingService(t));
  app = await buildGateway(t, { defaultMetrics: false });
});
afterAll(async () => {
  await app?.close();
  for (const s of services.reverse()) await s.stop();
  await t?.cleanup();
  await sandbox?.close();
});

async function place(over: Record<string, unknown> = {}): Promise<{ orderId: string; externalId: string }> {
  const res = await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: intakeBody(over) });
  expect(res.statusCode).toBe(202);
  const o = res.json<{ orderId: string; externalId: string }>();
  await eventually(async () => (await orderRow(t.sql, o.orderId))?.state === 'pending', 'order pending');
  return o;
}

async function webhook(url: string, e: { payload: string; headers: Record<string, string> }) {
  const res = await app.inject({ method: 'POST', url, payload: e.payload, headers: e.headers });
  expect(res.json()).toMatchObject({ verdict: 'accepted' });
}

const invoiceOf = (orderId: string) => eventually(async () => sandbox.invoices().find((i) => i.oid === orderId), `invoice of ${orderId}`, 30_000);

describe('payment data on the invoice comes from the confirmed payment’s webhook', () => {
  it('Stripe (one payment method type, blik) → paid invoice with payment_type "Stripe (blik)"', async () => {
    const o = await place();
    await webhook('/webhooks/payments/stripe', stripeEvent('checkout.session.completed', { ...paidSession(o.orderId), payment_method_types: ['blik'] }));
    const inv = await invoiceOf(o.orderId);
    expect(inv).toMatchObject({ status: 'paid', paid: '65.00', payment_type: 'Stripe (blik)' });
    expect(inv.paid_date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect((await orderRow(t.sql, o.orderId))?.snapshot.context).toMatchObject({ payment: { provider: 'stripe', method: 'blik', amount: 6500 } });
  });

  it('PayU paid by card (payMethod CARD_TOKEN) → payment_type "card"; by pay-by-link → "payu"', async () => {
    const card = await place();
    await webhook('/webhooks/payments/payu', payuNotification(card.externalId, 'COMPLETED', { payMethod: 'CARD_TOKEN' }));
    expect(await invoiceOf(card.orderId)).toMatchObject({ status: 'paid', payment_type: 'card' });
    const pbl = await place();
    await webhook('/webhooks/payments/payu', payuNotification(pbl.externalId, 'COMPLETED', { payMethod: 'PBL' }));
    expect(await invoiceOf(pbl.orderId)).toMatchObject({ status: 'paid', payment_type: 'payu' });
  });
});

describe('KSeF without the seller data it requires', () => {
  it('a company invoice fails at once with a permanent error naming the field; nothing is issued and nothing retried', async () => {
    const o = await place({ customer: { email: 'firma@example.com', name: 'Anna Nowak', company: 'Firma sp. z o.o.', taxId: '5260250274' } });
    await webhook('/webhooks/payments/stripe', stripeEvent('checkout.session.completed', paidSession(o.orderId)));
    const row = await eventually(async () => {
      const r = await orderRow(t.sql, o.orderId);
      return r?.document_state === 'failed' ? r : undefined;
    }, 'document failed', 30_000);
    expect(row.snapshot.context.documentFailure).toMatchObject({ code: 'INVOICE_SELLER_DATA_MISSING' });
    expect(row.snapshot.context.documentFailure?.message).toContain('seller_street (set SELLER_STREET)');
    expect(sandbox.invoices().filter((i) => i.oid === o.orderId)).toHaveLength(0);
    // One delivery, acked (no nak, no redelivery), one DOCUMENT_FAILED.
    const backlog = await eventually(async () => {
      const b = (await consumerBacklog(t.nc, t.names)).find((c) => c.consumer === t.names.consumers.command('invoicing'));
      return b && b.pending === 0 && b.ackPending === 0 ? b : undefined;
    }, 'invoicing queue drained');
    expect(backlog.redelivered).toBe(0);
    expect((await history(t.sql, o.orderId)).filter((h) => h.type === 'DOCUMENT_FAILED')).toHaveLength(1);
  });
});
