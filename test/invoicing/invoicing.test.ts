import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrdersService } from '../../services/orders/main.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';
import { startMailerService } from '../../services/mailer/main.ts';
import { createFakturowniaAdapter } from '../../services/invoicing/fakturownia.adapter.ts';
import { publishCommand } from '../../infra/nats/publish.ts';
import { startInvoicingSandbox, type InvoicingSandbox } from '../../infra/sandbox/invoicing-sandbox.ts';
import { startSmtpSink, type SmtpSink } from '../../infra/sandbox/smtp-sink.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { OrderpilotError, type IssueDocumentCommand } from '../../services/contracts/index.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { sampleOrder } from '../support/orders.ts';
import { commandsIn, history, orderRow, placeAndPay, sleep } from './support.ts';

const MAX_ATTEMPTS = 4;
let t: TestContext;
let sandbox: InvoicingSandbox;
let sink: SmtpSink;
const services: RunningService[] = [];

beforeAll(async () => {
  sandbox = await startInvoicingSandbox();
  sink = await startSmtpSink();
  t = await createTestContext({
    FAKTUROWNIA_URL: sandbox.url,
    FAKTUROWNIA_API_TOKEN: sandbox.apiToken,
    FAKTUROWNIA_TIMEOUT_MS: '2000',
    INVOICING_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    INVOICING_RETRY_BASE_MS: '100',
    SMTP_URL: sink.url,
    MAIL_FROM: 'Sklep <sklep@example.com>',
    MAIL_RETRY_BASE_MS: '200',
  });
  services.push(await startOrdersService(t), await startInvoicingService(t), await startMailerService(t));
});
afterAll(async () => {
  for (const s of services.reverse()) await s.stop();
  await t?.cleanup();
  await sandbox?.close();
  await sink?.close();
});

const invoicesOf = (orderId: string) => sandbox.invoices().filter((i) => i.oid === orderId);
const mailsOf = (externalId: string) => sink.mails.filter((m) => m.subject.includes(externalId));
const documentsRows = (orderId: string) => t.sql`select * from documents where order_id = ${orderId}`;
const emailed = (orderId: string) => eventually(async () => (await orderRow(t.sql, orderId))?.document_state === 'emailed', `order ${orderId} document emailed`);

describe('invoicing + mailer (real Postgres, NATS, sandbox over HTTP, SMTP on loopback)', () => {
  it('happy path: one document saved on the order, one e-mail with a valid PDF to the customer', async () => {
    const order = sampleOrder({ externalId: `HAPPY-${Date.now()}` });
    const before = { ...sandbox.requests };
    await placeAndPay(t.nc, t.names, order);
    await emailed(order.orderId);
    // One create and no look-up by order: oid_unique would refuse it if the order id had a document there.
    expect(sandbox.requests.create - before.create).toBe(1);
    expect(sandbox.requests.list - before.list).toBe(0);
    const row = await orderRow(t.sql, order.orderId);
    const doc = row?.snapshot.context.document;
    expect(doc?.number).toMatch(/^FV\/\d+\/\d{2}\/\d{4}$/);
    expect(invoicesOf(order.orderId)).toHaveLength(1);
    expect(invoicesOf(order.orderId)[0]).toMatchObject({ id: Number(doc?.providerId), number: doc?.number, price_gross: '65.00', buyer_email: 'jan@example.com' });
    expect(await documentsRows(order.orderId)).toHaveLength(1);
    const mails = mailsOf(order.externalId);
    expect(mails).toHaveLength(1);
    const mail = mails[0];
    expect(mail?.to).toEqual(['jan@example.com']);
    expect(mail?.subject).toBe(`Faktura ${doc?.number} do zamówienia ${order.externalId}`);
    expect(mail?.attachments).toHaveLength(1);
    expect(mail?.attachments[0]?.contentType).toBe('application/pdf');
    expect(mail?.attachments[0]?.content.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const types = (await history(t.sql, order.orderId)).map((h) => `${h.type}:${h.outcome}`);
    expect(types).toEqual(['ORDER_PLACED:created', 'PAYMENT_CONFIRMED:applied', 'DOCUMENT_ISSUED:applied', 'DOCUMENT_EMAILED:applied']);
  });

  it('an English order gets an English e-mail', async () => {
    const order = sampleOrder({ externalId: `EN-${Date.now()}`, language: 'en' });
    await placeAndPay(t.nc, t.names, order);
    await emailed(order.orderId);
    expect(mailsOf(order.externalId).map((m) => m.subject)).toEqual([expect.stringMatching(/^Invoice FV\/\d+\/\d{2}\/\d{4} for order EN-/)]);
  });

  it('the response is lost after the document was created → after the retry still exactly one document', async () => {
    sandbox.configure({ dropResponseRate: 1 });
    const dropped = sandbox.injected.dropped;
    const order = sampleOrder();
    try {
      await placeAndPay(t.nc, t.names, order);
      await eventually(async () => (await orderRow(t.sql, order.orderId))?.document_state === 'issued' || (await orderRow(t.sql, order.orderId))?.document_state === 'emailed', 'document issued');
    } finally {
      sandbox.configure({ dropResponseRate: 0 });
    }
    expect(sandbox.injected.dropped).toBe(dropped + 1);
    await emailed(order.orderId);
    expect(invoicesOf(order.orderId)).toHaveLength(1);
    expect((await orderRow(t.sql, order.orderId))?.snapshot.context.document?.providerId).toBe(String(invoicesOf(order.orderId)[0]?.id));
    expect(await documentsRows(order.orderId)).toHaveLength(1);
    expect(mailsOf(order.externalId)).toHaveLength(1);
  });

  it('the same issue command 5 times, handled by 2 instances at once → one document, one e-mail', async () => {
    const second = await startInvoicingService(t);
    sandbox.configure({ latencyMs: 30 });
    try {
      const order = sampleOrder();
      await placeAndPay(t.nc, t.names, order);
      // Four more copies of the command the order actor publishes (each its own message).
      const copies = Array.from({ length: 4 }, () =>
        publishCommand<IssueDocumentCommand>(t.nc, t.names, 'issueDocument', { type: 'issue-document', orderId: order.orderId, payload: { order, reason: 'payment', document: null } }),
      );
      await Promise.all(copies);
      await emailed(order.orderId);
      await sleep(1000); // let every copy finish
      expect(invoicesOf(order.orderId)).toHaveLength(1);
      expect(await documentsRows(order.orderId)).toHaveLength(1);
      expect(mailsOf(order.externalId)).toHaveLength(1);
      const issued = (await history(t.sql, order.orderId)).filter((h) => h.type === 'DOCUMENT_ISSUED');
      expect(issued.filter((h) => h.outcome === 'applied')).toHaveLength(1);
      expect(new Set(issued.map((h) => h.payload['providerId']))).toEqual(new Set([String(invoicesOf(order.orderId)[0]?.id)]));
    } finally {
      sandbox.configure({ latencyMs: 0 });
      await second.stop();
    }
  });

  it('a bad NIP → no retry, DOCUMENT_FAILED, admin notified, and the order still goes on to shipping', async () => {
    const before = { ...sandbox.requests };
    const order = sampleOrder({ customer: { email: 'firma@example.com', name: 'Anna Nowak', company: 'Firma sp. z o.o.', taxId: '1234567890' } });
    await placeAndPay(t.nc, t.names, order);
    await eventually(async () => (await orderRow(t.sql, order.orderId))?.document_state === 'failed', 'document failed');
    const row = await orderRow(t.sql, order.orderId);
    expect(row?.snapshot.context.documentFailure).toMatchObject({ code: 'INVOICE_BUYER_TAX_ID_INVALID' });
    expect(row?.snapshot.context.documentFailure?.message).toContain('1234567890');
    // The pre-check caught it, then asked by order id (a document issued there by hand would be the
    // answer): nothing was created, and nothing was retried.
    expect(sandbox.requests.create).toBe(before.create);
    expect(sandbox.requests.list).toBe(before.list + 1);
    expect((await history(t.sql, order.orderId)).filter((h) => h.type === 'DOCUMENT_FAILED')).toHaveLength(1);
    expect(await t.sql`select error_code from documents where order_id = ${order.orderId}`).toEqual([{ error_code: 'INVOICE_BUYER_TAX_ID_INVALID' }]);
    expect(await t.sql`select 1 from dead_letters where order_id = ${order.orderId}`).toHaveLength(0);
    // Admin notified: the notify command reached the notify queue.
    const notices = await eventually(async () => {
      const n = (await commandsIn(t.nc, t.names, 'notify')).filter((e) => e.orderId === order.orderId);
      return n.length > 0 ? n : undefined;
    }, 'notify command');
    expect(notices[0]?.payload).toMatchObject({ kind: 'document.failed', severity: 'critical', code: 'INVOICE_BUYER_TAX_ID_INVALID', orderId: order.orderId });
    // Fulfilment is not blocked: still submitting, and the logistics command is out.
    expect(row?.state).toBe('processing');
    expect(row?.snapshot.value).toMatchObject({ processing: { fulfilment: 'submitting', document: 'failed' } });
    const shipments = (await commandsIn(t.nc, t.names, 'logistics')).filter((e) => e.orderId === order.orderId);
    expect(shipments.map((e) => e.type)).toEqual(['submit-shipment']);
  });

  it('5xx then success → one document', async () => {
    sandbox.configure({ failNext: 2 });
    const errors = sandbox.injected.errors;
    const order = sampleOrder();
    await placeAndPay(t.nc, t.names, order);
    await emailed(order.orderId);
    expect(sandbox.injected.errors).toBe(errors + 2);
    expect(invoicesOf(order.orderId)).toHaveLength(1);
    expect((await history(t.sql, order.orderId)).filter((h) => h.type === 'DOCUMENT_FAILED')).toHaveLength(0);
  });

  it(`5xx forever → RETRIES_EXHAUSTED after exactly ${MAX_ATTEMPTS} attempts, not sooner, not later`, async () => {
    sandbox.configure({ errorRate: 1 });
    const before = sandbox.requests.list + sandbox.requests.create;
    const order = sampleOrder();
    try {
      await placeAndPay(t.nc, t.names, order);
      await eventually(async () => (await orderRow(t.sql, order.orderId))?.document_state === 'failed', 'document failed');
      // Every attempt asks the invoicing system once (the create fails).
      expect(sandbox.requests.list + sandbox.requests.create - before).toBe(MAX_ATTEMPTS);
      await sleep(2500); // longer than the last backoff: nothing more comes
      expect(sandbox.requests.list + sandbox.requests.create - before).toBe(MAX_ATTEMPTS);
    } finally {
      sandbox.configure({ errorRate: 0 });
    }
    const failure = (await orderRow(t.sql, order.orderId))?.snapshot.context.documentFailure;
    expect(failure?.code).toBe('RETRIES_EXHAUSTED');
    expect(failure?.message).toContain(`after ${MAX_ATTEMPTS} attempts`);
    expect(invoicesOf(order.orderId)).toHaveLength(0);
    expect(await t.sql`select 1 from dead_letters where order_id = ${order.orderId}`).toHaveLength(0);
  });

  it('an admin ISSUE_DOCUMENT after a failure takes the same idempotent path', async () => {
    sandbox.configure({ errorRate: 1 });
    const order = sampleOrder();
    try {
      await placeAndPay(t.nc, t.names, order);
      await eventually(async () => (await orderRow(t.sql, order.orderId))?.document_state === 'failed', 'document failed');
    } finally {
      sandbox.configure({ errorRate: 0 });
    }
    const { publishOrderEvent } = await import('../support/orders.ts');
    await publishOrderEvent(t.nc, t.names, order.orderId, 'ISSUE_DOCUMENT', { note: 'provider is back' }, { actor: 'alice' });
    await emailed(order.orderId);
    expect(invoicesOf(order.orderId)).toHaveLength(1);
    expect(mailsOf(order.externalId)).toHaveLength(1);
  });

  it('SMTP down then up → the mail goes out once', async () => {
    sink.setDown(true);
    const order = sampleOrder();
    try {
      await placeAndPay(t.nc, t.names, order);
      await eventually(async () => {
        const [r] = await t.sql<{ last_error: string | null; attempts: number }[]>`select last_error, attempts from mail_deliveries where order_id = ${order.orderId}`;
        return r && r.last_error !== null && r.attempts >= 2;
      }, 'two failed send attempts');
    } finally {
      sink.setDown(false);
    }
    await emailed(order.orderId);
    await sleep(500);
    expect(mailsOf(order.externalId)).toHaveLength(1);
    expect(await t.sql`select status from mail_deliveries where order_id = ${order.orderId}`).toEqual([{ status: 'sent' }]);
  });
});

describe('Fakturownia adapter against the sandbox', () => {
  it('maps the provider’s answers to error codes: 422 bad NIP is permanent, 5xx and 429 are retryable', async () => {
    const adapter = createFakturowniaAdapter({ baseUrl: sandbox.url, apiToken: sandbox.apiToken, timeoutMs: 500 });
    const err = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as OrderpilotError);
    // A bad NIP that skipped our pre-check is refused by the provider too.
    const bad = await err(adapter.issue(sampleOrder({ customer: { email: 'x@example.com', name: 'X', company: 'X', taxId: '5260250275' } })));
    expect([bad?.code, bad?.retryable]).toEqual(['INVOICE_BUYER_TAX_ID_INVALID', false]);
    expect(bad?.message).toContain('NIP jest nieprawidłowy');
    const order = sampleOrder();
    const doc = await adapter.issue(order);
    const dup = await err(adapter.issue(order));
    expect(dup?.code).toBe('INVOICE_ALREADY_EXISTS');
    // The provider's list is a search: a longer oid containing ours is not ours.
    await adapter.issue({ ...order, orderId: `${order.orderId}-2` });
    expect(await adapter.findByOrder(order.orderId)).toEqual(doc);
    expect((await adapter.downloadPdf(doc.providerId)).subarray(0, 5).toString()).toBe('%PDF-');
    sandbox.configure({ failNext: 1 });
    const unavailable = await err(adapter.findByOrder(order.orderId));
    expect([unavailable?.code, unavailable?.retryable]).toEqual(['PROVIDER_UNAVAILABLE', true]);
    sandbox.configure({ rateLimitRate: 1 });
    const limited = await err(adapter.findByOrder(order.orderId));
    sandbox.configure({ rateLimitRate: 0, timeoutRate: 1 });
    const timeout = await err(adapter.findByOrder(order.orderId));
    sandbox.configure({ timeoutRate: 0 });
    expect([limited?.code, limited?.retryable, limited?.retryAfterMs]).toEqual(['PROVIDER_RATE_LIMITED', true, 1000]);
    expect([timeout?.code, timeout?.retryable]).toEqual(['PROVIDER_TIMEOUT', true]);
    const wrongToken = createFakturowniaAdapter({ baseUrl: sandbox.url, apiToken: 'wrong', timeoutMs: 500 });
    expect((await err(wrongToken.findByOrder(order.orderId)))?.code).toBe('INVOICE_REJECTED');
    const down = createFakturowniaAdapter({ baseUrl: 'http://127.0.0.1:1', apiToken: 'x', timeoutMs: 500 });
    expect((await err(down.findByOrder(order.orderId)))?.code).toBe('PROVIDER_UNAVAILABLE');
  });
});
