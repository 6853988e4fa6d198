import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrdersService } from '../../services/orders/main.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';
import { startMailerService } from '../../services/mailer/main.ts';
import { startInvoicingSandbox, type InvoicingSandbox } from '../../infra/sandbox/invoicing-sandbox.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { sampleOrder } from '../support/orders.ts';
import { commandsIn, history, orderRow, placeAndPay } from './support.ts';

let t: TestContext;
let sandbox: InvoicingSandbox;
let smtp: SMTPServer;
let rcptAttempts = 0;
const services: RunningService[] = [];

beforeAll(async () => {
  sandbox = await startInvoicingSandbox();
  // A real SMTP server that refuses the recipient permanently (550), like a mailbox that does not exist.
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(_address, _session, callback) {
      rcptAttempts++;
      callback(Object.assign(new Error('5.1.1 No such user here'), { responseCode: 550 }));
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
  const addr = smtp.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  t = await createTestContext({
    FAKTUROWNIA_URL: sandbox.url,
    FAKTUROWNIA_API_TOKEN: sandbox.apiToken,
    SMTP_URL: `smtp://127.0.0.1:${port}?ignoreTLS=true`,
    MAIL_RETRY_BASE_MS: '100',
  });
  services.push(await startOrdersService(t), await startInvoicingService(t), await startMailerService(t));
});
afterAll(async () => {
  for (const s of services.reverse()) await s.stop();
  await t?.cleanup();
  await sandbox?.close();
  await new Promise<void>((resolve) => smtp?.close(() => resolve()));
});

describe('mailer: a permanent SMTP rejection', () => {
  it('is not retried: DOCUMENT_FAILED MAIL_REJECTED with the server’s answer, admin notified, the document stays', async () => {
    const order = sampleOrder({ customer: { email: 'nobody@example.com', name: 'Nobody' } });
    await placeAndPay(t.nc, t.names, order);
    await eventually(async () => (await orderRow(t.sql, order.orderId))?.document_state === 'failed', 'document failed');
    const row = await orderRow(t.sql, order.orderId);
    expect(row?.snapshot.context.documentFailure?.code).toBe('MAIL_REJECTED');
    expect(row?.snapshot.context.documentFailure?.message).toContain('550');
    expect(row?.snapshot.context.document?.number).toMatch(/^FV\//); // issued; only the e-mail failed
    expect(rcptAttempts).toBe(1);
    expect(await t.sql`select status, attempts from mail_deliveries where order_id = ${order.orderId}`).toEqual([{ status: 'failed', attempts: 1 }]);
    expect((await history(t.sql, order.orderId)).map((h) => h.type)).toEqual(['ORDER_PLACED', 'PAYMENT_CONFIRMED', 'DOCUMENT_ISSUED', 'DOCUMENT_FAILED']);
    const notices = await eventually(async () => {
      const n = (await commandsIn(t.nc, t.names, 'notify')).filter((e) => e.orderId === order.orderId);
      return n.length > 0 ? n : undefined;
    }, 'notify command');
    expect(notices[0]?.payload).toMatchObject({ kind: 'document.failed', code: 'MAIL_REJECTED' });
    expect(row?.state).toBe('processing');
  });
});
