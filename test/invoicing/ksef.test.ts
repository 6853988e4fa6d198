import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../gateway/app.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';
import { startMailerService } from '../../services/mailer/main.ts';
import { startInvoicingSandbox, type InvoicingSandbox } from '../../infra/sandbox/invoicing-sandbox.ts';
import { startSmtpSink, type SmtpSink } from '../../infra/sandbox/smtp-sink.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import type { OrderData } from '../../machines/order/index.ts';
import { KSEF_TEST_ENV } from '../support/ksef.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { publishOrderEvent, sampleOrder } from '../support/orders.ts';
import { commandsIn, history, orderRow, placeAndPay } from './support.ts';

/**
 * KSeF through the real services: orders + invoicing (with its KSeF poller) + mailer, the
 * Fakturownia sandbox with KSeF on, real Postgres, NATS and SMTP on loopback; the gateway (admin
 * console, /metrics) answers in-process.
 */
const ADMIN_TOKEN = 'ksef-admin-token-0123456789';
let t: TestContext;
let app: FastifyInstance;
let sandbox: InvoicingSandbox;
let sink: SmtpSink;
const services: RunningService[] = [];

beforeAll(async () => {
  sandbox = await startInvoicingSandbox({ ksef: 'on', faults: { ksefProcessingMs: 300 } });
  sink = await startSmtpSink();
  t = await createTestContext({
    FAKTUROWNIA_URL: sandbox.url,
    FAKTUROWNIA_API_TOKEN: sandbox.apiToken,
    FAKTUROWNIA_TIMEOUT_MS: '5000',
    SMTP_URL: sink.url,
    MAIL_FROM: 'Sklep <sklep@example.com>',
    MAIL_RETRY_BASE_MS: '200',
    ...KSEF_TEST_ENV,
    KSEF_OUTAGE_RESENDS: '3',
    ADMIN_TOKENS: `alice:${ADMIN_TOKEN}`,
    // The console lists a document still waiting for KSeF after this.
    KSEF_ATTENTION_MS: '1000',
  });
  services.push(await startOrdersService(t), await startInvoicingService(t), await startMailerService(t));
  app = await buildGateway(t, { defaultMetrics: false });
});
afterAll(async () => {
  await app?.close();
  for (const s of services.reverse()) await s.stop();
  await t?.cleanup();
  await sandbox?.close();
  await sink?.close();
});

const companyOrder = (): OrderData =>
  sampleOrder({ customer: { email: 'firma@example.com', name: 'Anna Nowak', company: 'Firma sp. z o.o.', taxId: '526-025-02-74' } });
const invoicesOf = (orderId: string) => sandbox.invoices().filter((i) => i.oid === orderId);
const mailsOf = (externalId: string) => sink.mails.filter((m) => m.subject.includes(externalId));
const documentState = async (orderId: string) => (await orderRow(t.sql, orderId))?.document_state;
const ksefOf = async (orderId: string) => ((await orderRow(t.sql, orderId))?.snapshot.context as { ksef?: { status: string; number: string | null; verificationLink: string | null; code: string | null; errors: string[] } | null }).ksef ?? null;
const until = (orderId: string, state: string) => eventually(async () => (await documentState(orderId)) === state, `order ${orderId} document ${state}`, 60_000);

describe('KSeF (KSEF_MODE=on, scope all_companies)', () => {
  it('a paid company order: invoice paid (date, method), processing → ok → KSeF number on the order, then one e-mail with it; XML and UPO kept', async () => {
    const order = companyOrder();
    await placeAndPay(t.nc, t.names, order);
    await until(order.orderId, 'emailed');
    const [inv] = invoicesOf(order.orderId);
    expect(invoicesOf(order.orderId)).toHaveLength(1);
    expect(inv).toMatchObject({ status: 'paid', paid: '65.00', payment_type: 'card', buyer_company: true, seller_tax_no: '5260250274', gov_status: 'ok' });
    expect(inv?.paid_date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const ksef = await ksefOf(order.orderId);
    expect(ksef).toMatchObject({ status: 'accepted', number: inv?.gov_id, verificationLink: inv?.gov_verification_link });
    expect(ksef?.number).toMatch(/^5260250274-\d{8}-[0-9A-F]{12}-[0-9A-F]{2}$/);
    // The e-mail came only after the KSeF number, and carries it and the verification link.
    const types = (await history(t.sql, order.orderId)).filter((h) => h.outcome === 'applied').map((h) => h.type);
    expect(types.slice(-3)).toEqual(['DOCUMENT_ISSUED', 'KSEF_ACCEPTED', 'DOCUMENT_EMAILED']);
    const mails = mailsOf(order.externalId);
    expect(mails).toHaveLength(1);
    expect(mails[0]?.text).toContain(`Numer KSeF faktury: ${ksef?.number ?? 'missing'}`);
    expect(mails[0]?.text).toContain(ksef?.verificationLink ?? 'missing');
    const files = await eventually(async () => {
      const rows = await t.sql<Array<{ kind: string; content: Buffer }>>`select kind, content from ksef_files where order_id = ${order.orderId} order by kind`;
      return rows.length === 2 ? rows : undefined;
    }, 'KSeF XML and UPO kept');
    expect(files.map((f) => f.kind)).toEqual(['gov', 'gov_upo']);
    expect(files[1]?.content.toString()).toContain(ksef?.number ?? 'missing');
  });

  it('a consumer order with KSeF limited to companies is e-mailed at once, without KSeF', async () => {
    const order = sampleOrder();
    await placeAndPay(t.nc, t.names, order);
    await until(order.orderId, 'emailed');
    expect(invoicesOf(order.orderId)[0]?.gov_status).toBeNull();
    expect(await ksefOf(order.orderId)).toBeNull();
    expect(mailsOf(order.externalId)[0]?.text).not.toContain('KSeF');
  });

  it('a rejection → critical notification with KSeF’s message, no e-mail; admin RESEND_TO_KSEF → accepted → e-mail', async () => {
    sandbox.configure({ ksefRejectNext: 1 });
    const order = companyOrder();
    await placeAndPay(t.nc, t.names, order);
    await until(order.orderId, 'ksefRejected');
    const ksef = await ksefOf(order.orderId);
    expect(ksef).toMatchObject({ status: 'rejected', code: 'KSEF_REJECTED' });
    expect(ksef?.errors[0]).toMatch(/^Błąd weryfikacji semantyki dokumentu faktury/);
    const notice = await eventually(async () => (await commandsIn(t.nc, t.names, 'notify')).find((e) => e.orderId === order.orderId), 'notify command');
    expect(notice.payload).toMatchObject({ kind: 'document.ksef-rejected', severity: 'critical', code: 'KSEF_REJECTED' });
    expect((notice.payload as { message: string }).message).toContain('Błąd weryfikacji semantyki');
    expect(mailsOf(order.externalId)).toHaveLength(0);
    await publishOrderEvent(t.nc, t.names, order.orderId, 'RESEND_TO_KSEF', { note: 'buyer NIP corrected' }, { actor: 'alice' });
    await until(order.orderId, 'emailed');
    expect(invoicesOf(order.orderId)).toHaveLength(1);
    expect((await ksefOf(order.orderId))?.status).toBe('accepted');
    expect(mailsOf(order.externalId)).toHaveLength(1);
  });

  it('a KSeF outage (server_error twice) → sent again with backoff until accepted, one document, one e-mail', async () => {
    sandbox.configure({ ksefServerErrorNext: 2 });
    const before = sandbox.ksefSends();
    const order = companyOrder();
    await placeAndPay(t.nc, t.names, order);
    await until(order.orderId, 'emailed');
    expect(sandbox.ksefSends() - before).toBe(3);
    expect(invoicesOf(order.orderId)).toHaveLength(1);
    expect((await history(t.sql, order.orderId)).filter((h) => h.type === 'KSEF_REJECTED')).toHaveLength(0);
    expect(mailsOf(order.externalId)).toHaveLength(1);
  });

  it('duplicate_error → reconciled by looking the KSeF number up, not by issuing again', async () => {
    sandbox.configure({ ksefDuplicateNext: 1 });
    const order = companyOrder();
    await placeAndPay(t.nc, t.names, order);
    await until(order.orderId, 'emailed');
    const [inv] = invoicesOf(order.orderId);
    expect(invoicesOf(order.orderId)).toHaveLength(1);
    expect(inv?.gov_status).toBe('duplicate_error');
    const named = /pod numerem (\S+)$/.exec(inv?.gov_error_messages?.[0] ?? '')?.[1];
    expect((await ksefOf(order.orderId))?.number).toBe(named);
  });

  it('offline → waits (warning), accepted later → e-mail', async () => {
    sandbox.configure({ ksefOfflineNext: 1 });
    const order = companyOrder();
    await placeAndPay(t.nc, t.names, order);
    await until(order.orderId, 'emailed');
    const applied = (await history(t.sql, order.orderId)).filter((h) => h.outcome === 'applied').map((h) => h.type);
    expect(applied).toEqual(expect.arrayContaining(['KSEF_OFFLINE', 'KSEF_ACCEPTED']));
    expect(applied.indexOf('KSEF_OFFLINE')).toBeLessThan(applied.indexOf('DOCUMENT_EMAILED'));
  });
});

describe('KSeF in the admin console and /metrics', () => {
  let cookie = '';
  const page = async (url: string) => {
    if (cookie === '') {
      const res = await app.inject({ method: 'POST', url: '/admin/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${ADMIN_TOKEN}` });
      expect(res.statusCode).toBe(303);
      const raw = res.headers['set-cookie'];
      cookie = (Array.isArray(raw) ? (raw[0] ?? '') : (raw ?? '')).split(';')[0] ?? '';
    }
    return app.inject({ method: 'GET', url, headers: { cookie } });
  };
  const metric = async (name: string) => {
    const line = (await app.inject({ url: '/metrics' })).body.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
  };

  it('the order page shows the KSeF number, status and verification link, and serves the kept XML and UPO', async () => {
    const order = companyOrder();
    await placeAndPay(t.nc, t.names, order);
    await until(order.orderId, 'emailed');
    const ksef = await ksefOf(order.orderId);
    await eventually(async () => (await t.sql`select 1 from ksef_files where order_id = ${order.orderId}`).length === 2, 'XML and UPO kept');
    const html = (await page(`/admin/orders/${order.orderId}`)).body;
    expect(html).toContain(`<span class="mono ksef-number">${ksef?.number ?? 'missing'}</span>`);
    expect(html).toContain('<span class="badge accepted">accepted</span>');
    expect(html).toContain(`class="ksef-verify" href="${ksef?.verificationLink ?? 'missing'}"`);
    for (const [file, kind] of [['invoice.xml', 'gov'], ['upo.xml', 'gov_upo']] as const) {
      expect(html).toContain(`data-kind="${kind}" href="/admin/orders/${order.orderId}/ksef/${file}"`);
      const res = await page(`/admin/orders/${order.orderId}/ksef/${file}`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/xml/);
      expect(res.headers['content-disposition']).toMatch(/^attachment; filename="FV_\d+_\d+_\d+-(KSeF|UPO)\.xml"$/);
      const [kept] = await t.sql<Array<{ content: Buffer }>>`select content from ksef_files where order_id = ${order.orderId} and kind = ${kind}`;
      expect(res.rawPayload.equals(kept?.content ?? Buffer.alloc(0))).toBe(true);
    }
    expect(res404(await page(`/admin/orders/${order.orderId}/ksef/other.xml`))).toBe(true);
  });

  it('needs attention lists a rejected document, and a document waiting longer than KSEF_ATTENTION_MS; /metrics counts those waiting', async () => {
    sandbox.configure({ ksefRejectNext: 1 });
    const rejected = companyOrder();
    await placeAndPay(t.nc, t.names, rejected);
    await until(rejected.orderId, 'ksefRejected');
    // KSeF keeps the next document processing for ten minutes (restored right after it was sent): far
    // beyond any wait below, so a busy machine cannot let it be accepted before the page is read.
    sandbox.configure({ ksefProcessingMs: 600_000 });
    const slow = companyOrder();
    await placeAndPay(t.nc, t.names, slow);
    await until(slow.orderId, 'ksefSent');
    sandbox.configure({ ksefProcessingMs: 300 });
    expect(await eventually(async () => ((await metric('orderpilot_ksef_documents_waiting')) ?? 0) >= 1, 'waiting gauge')).toBe(true);

    // One work-queue row per KSeF problem (`data-problem="ksef"`): why in words, the code on hover.
    const rowStart = (orderId: string) => `<tr data-order="${orderId}" data-problem="ksef">`;
    const html = await eventually(async () => {
      const body = (await page('/admin')).body;
      return body.includes(rowStart(slow.orderId)) ? body : undefined;
    }, 'the slow document listed after KSEF_ATTENTION_MS');
    const row = (orderId: string) => html.slice(html.indexOf(rowStart(orderId)), html.indexOf('</tr>', html.indexOf(rowStart(orderId))));
    expect(html).toContain('<table class="ksef-docs');
    expect(row(rejected.orderId)).toContain('title="KSEF_REJECTED">KSeF rejected the document');
    expect(row(rejected.orderId)).toContain('Błąd weryfikacji semantyki');
    expect(row(slow.orderId)).toContain('No KSeF number yet (processing)');
    // The accepted ones are not there.
    expect(html.match(/data-problem="ksef"/g)?.length).toBe(2);
  });
});

const res404 = (r: { statusCode: number }) => r.statusCode === 404;
