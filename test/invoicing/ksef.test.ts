import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrdersService } from '../../services/orders/main.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';
import { startMailerService } from '../../services/mailer/main.ts';
import { startInvoicingSandbox, type InvoicingSandbox } from '../../infra/sandbox/invoicing-sandbox.ts';
import { startSmtpSink, type SmtpSink } from '../../infra/sandbox/smtp-sink.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import type { OrderData } from '../../machines/order/index.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { publishOrderEvent, sampleOrder } from '../support/orders.ts';
import { commandsIn, history, orderRow, placeAndPay } from './support.ts';

/**
 * KSeF through the real services: orders + invoicing (with its KSeF poller) + mailer, the
 * Fakturownia sandbox with KSeF on, real Postgres, NATS and SMTP on loopback.
 */
let t: TestContext;
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
    KSEF_MODE: 'on',
    KSEF_SCOPE: 'all_companies',
    KSEF_POLL_BASE_MS: '100',
    KSEF_POLL_MAX_MS: '400',
    KSEF_POLL_LEASE_MS: '3000',
    KSEF_OUTAGE_RESENDS: '3',
    SELLER_NAME: 'Sklep Testowy sp. z o.o.',
    SELLER_TAX_NO: '5260250274',
    SELLER_STREET: 'ul. Prosta 1',
    SELLER_POST_CODE: '00-001',
    SELLER_CITY: 'Warszawa',
  });
  services.push(await startOrdersService(t), await startInvoicingService(t), await startMailerService(t));
});
afterAll(async () => {
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
