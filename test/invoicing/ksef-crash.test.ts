import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInvoicingSandbox, type InvoicingSandbox } from '../../infra/sandbox/invoicing-sandbox.ts';
import { startSmtpSink, type SmtpSink } from '../../infra/sandbox/smtp-sink.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import type { OrderData } from '../../machines/order/index.ts';
import { startMailerService } from '../../services/mailer/main.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { startServiceChild } from '../support/child-process.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { KSEF_TEST_ENV } from '../support/ksef.ts';
import { sampleOrder } from '../support/orders.ts';
import { history, orderRow, placeAndPay } from './support.ts';

/**
 * The KSeF poller killed with SIGKILL in the middle of its work: the invoicing service (and so its
 * poller) runs in a child process; the order host and the mailer run here, against the Fakturownia
 * sandbox with KSeF on, an SMTP sink, real Postgres and NATS. After a restart the acceptance must
 * not be lost and the customer must get exactly one e-mail.
 */
const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'invoicing-child.ts');
let t: TestContext;
let sandbox: InvoicingSandbox;
let sink: SmtpSink;
const services: RunningService[] = [];
const children: ChildProcess[] = [];

/** Starts the invoicing service in a child process and waits until it consumes. */
async function startChild(extraEnv: Record<string, string> = {}) {
  const started = await startServiceChild(CHILD, { ...process.env, ...t.env, ...extraEnv });
  children.push(started.child);
  return started;
}

beforeAll(async () => {
  sandbox = await startInvoicingSandbox({ ksef: 'on', faults: { ksefProcessingMs: 300 } });
  sink = await startSmtpSink();
  t = await createTestContext({
    FAKTUROWNIA_URL: sandbox.url,
    FAKTUROWNIA_API_TOKEN: sandbox.apiToken,
    FAKTUROWNIA_TIMEOUT_MS: '5000',
    SMTP_URL: sink.url,
    MAIL_FROM: 'Sklep <sklep@example.com>',
    ...KSEF_TEST_ENV,
    // A killed poller's claim on a document comes back after this.
    KSEF_POLL_LEASE_MS: '1500',
    LOG_LEVEL: 'error',
  });
  services.push(await startOrdersService(t), await startMailerService(t));
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of services.reverse()) await s.stop();
  await t?.cleanup();
  await sandbox?.close();
  await sink?.close();
});

const companyOrder = (): OrderData =>
  sampleOrder({ customer: { email: 'firma@example.com', name: 'Anna Nowak', company: 'Firma sp. z o.o.', taxId: '526-025-02-74' } });
const mailsOf = (externalId: string) => sink.mails.filter((m) => m.subject.includes(externalId));
const ksefRow = async (orderId: string) =>
  (await t.sql<Array<{ ksef_state: string | null; ksef_reported: string | null; ksef_polls: number; ksef_number: string | null }>>`
    select ksef_state, ksef_reported, ksef_polls, ksef_number from documents where order_id = ${orderId}`)[0];

/** After the restart: accepted once, the KSeF number on the order, one invoice, one e-mail with the number, XML and UPO kept. */
async function expectAcceptedOnceAndMailedOnce(order: OrderData): Promise<void> {
  await eventually(async () => (await orderRow(t.sql, order.orderId))?.document_state === 'emailed', 'document e-mailed after the restart', 60_000);
  const invoices = sandbox.invoices().filter((i) => i.oid === order.orderId);
  expect(invoices).toHaveLength(1);
  const ksef = ((await orderRow(t.sql, order.orderId))?.snapshot.context as { ksef?: { status: string; number: string | null } }).ksef;
  expect(ksef).toMatchObject({ status: 'accepted', number: invoices[0]?.gov_id });
  const applied = (await history(t.sql, order.orderId)).filter((h) => h.outcome === 'applied').map((h) => h.type);
  expect(applied.filter((type) => type === 'KSEF_ACCEPTED')).toHaveLength(1);
  expect(applied.slice(-2)).toEqual(['KSEF_ACCEPTED', 'DOCUMENT_EMAILED']);
  await eventually(async () => (await t.sql`select 1 from ksef_files where order_id = ${order.orderId}`).length === 2, 'KSeF XML and UPO kept');
  // Nothing else is on its way: the mail queue is drained, and there is still exactly one e-mail.
  await eventually(async () => (await t.sql`select 1 from mail_deliveries where order_id = ${order.orderId} and status = 'sent'`).length === 1, 'mail recorded as sent');
  const mails = mailsOf(order.externalId);
  expect(mails).toHaveLength(1);
  expect(mails[0]?.text).toContain(`Numer KSeF faktury: ${ksef?.number ?? 'missing'}`);
}

describe('KSeF poller killed with SIGKILL mid-poll', () => {
  it('killed after saving KSeF’s acceptance, before reporting it → after a restart it is reported once, one e-mail', async () => {
    const first = await startChild({ TEST_KILL_AFTER_KSEF_VERDICT: '1' });
    const order = companyOrder();
    await placeAndPay(t.nc, t.names, order);
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The verdict is saved in documents, but the order was never told: no e-mail yet.
    expect(await ksefRow(order.orderId)).toMatchObject({ ksef_state: 'accepted', ksef_reported: null });
    expect((await orderRow(t.sql, order.orderId))?.document_state).toBe('ksefSent');
    expect(mailsOf(order.externalId)).toHaveLength(0);

    const second = await startChild();
    await expectAcceptedOnceAndMailedOnce(order);
    expect(await ksefRow(order.orderId)).toMatchObject({ ksef_reported: 'accepted' });
    second.child.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
  });

  it('killed while KSeF is still processing (after its first polls) → the next poller takes the document over after the lease; no acceptance lost, one e-mail', async () => {
    // Long enough that KSeF is surely still processing when the poller dies, even on a busy machine.
    sandbox.configure({ ksefProcessingMs: 6000 });
    const first = await startChild();
    const order = companyOrder();
    await placeAndPay(t.nc, t.names, order);
    await eventually(async () => {
      const r = await ksefRow(order.orderId);
      return r?.ksef_state === 'processing' && r.ksef_polls >= 1;
    }, 'the poller has polled the document at least once', 30_000);
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect((await orderRow(t.sql, order.orderId))?.document_state).toBe('ksefSent');
    sandbox.configure({ ksefProcessingMs: 300 });

    const second = await startChild();
    await expectAcceptedOnceAndMailedOnce(order);
    second.child.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
  });
});
