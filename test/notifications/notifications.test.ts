import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrdersService } from '../../services/orders/main.ts';
import { startNotificationsService } from '../../services/notifications/main.ts';
import { publishCommand, publishEnvelope } from '../../infra/nats/publish.ts';
import { startSmtpSink, type SmtpSink, type SunkMail } from '../../infra/sandbox/smtp-sink.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { makeEnvelope, type NotifyCommand } from '../../services/contracts/index.ts';
import { acknowledgeNotifications, listNotifications } from '../../services/notifications/index.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { orderState, publishOrderEvent, sampleOrder } from '../support/orders.ts';

/** A real HTTP server on loopback standing in for Slack's incoming webhook. */
interface Hook {
  url: string;
  bodies: Array<{ text: string; notifications: Array<{ orderId: string | null; code: string }> }>;
  close(): Promise<void>;
}
async function startHook(): Promise<Hook> {
  const bodies: Hook['bodies'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Hook['bodies'][number]);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, bodies, close: () => new Promise((r) => server.close(() => r())) };
}

const WINDOW_MS = 2500;
let t: TestContext;
let sink: SmtpSink;
let hook: Hook;
let orders: RunningService;
let notifications: RunningService;

beforeAll(async () => {
  sink = await startSmtpSink();
  hook = await startHook();
  t = await createTestContext({
    ADMIN_EMAIL: 'admin@shop.example',
    SMTP_URL: sink.url,
    ADMIN_WEBHOOK_URL: hook.url,
    NOTIFY_DIGEST_WINDOW_MS: String(WINDOW_MS),
    NOTIFY_DIGEST_MAX_WAIT_MS: '30000',
  });
  orders = await startOrdersService(t);
  notifications = await startNotificationsService(t, { pollMs: 200 });
});
afterAll(async () => {
  await notifications?.stop();
  await orders?.stop();
  await t?.cleanup();
  await sink?.close();
  await hook?.close();
});

/** Places, pays and holds an order through the real order host (warehouse rejected it). */
async function holdOrder(code = 'OUT_OF_STOCK') {
  const order = sampleOrder();
  await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
  await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_CONFIRMED', { provider: 'stripe', paymentId: `pi_${order.orderId}`, amount: order.total, currency: 'PLN' });
  await publishOrderEvent(t.nc, t.names, order.orderId, 'SHIPMENT_REJECTED', { code, message: 'SKU-1 not in stock' });
  return order;
}

const mailsAbout = (text: string): SunkMail[] => sink.mails.filter((m) => m.text.includes(text) || m.subject.includes(text));
const settle = () => new Promise((r) => setTimeout(r, WINDOW_MS + 1500));

async function notificationOf(orderId: string) {
  return eventually(async () => (await listNotifications(t.sql, { status: 'all', orderId }))[0], `notification of ${orderId}`);
}

describe('notifications service (real Postgres, NATS, SMTP and HTTP on loopback)', () => {
  it('a held order sends exactly one e-mail and one webhook post; a repeat while unacknowledged is only counted', async () => {
    const order = await holdOrder();
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'held', 'held');
    const mail = await eventually(async () => mailsAbout(order.externalId)[0], 'admin e-mail');
    expect(mail.to).toEqual(['admin@shop.example']);
    expect(mail.subject).toContain('warning');
    expect(mail.text).toContain('OUT_OF_STOCK');
    expect(mail.text).toContain(`/admin/orders/${order.orderId}`);
    const post = await eventually(async () => hook.bodies.find((b) => b.text.includes(order.externalId)), 'webhook post');
    expect(post.notifications).toEqual([expect.objectContaining({ orderId: order.orderId, code: 'OUT_OF_STOCK' })]);

    // The same problem on the same order again (e.g. the warehouse repeats itself): counted, not re-sent.
    await publishCommand<NotifyCommand>(t.nc, t.names, 'notify', {
      type: 'notify',
      orderId: order.orderId,
      payload: { kind: 'order.held', severity: 'warning', code: 'OUT_OF_STOCK', message: 'held again', orderId: order.orderId, externalId: order.externalId },
    });
    await eventually(async () => (await notificationOf(order.orderId)).occurrences === 2, 'occurrence counted');
    await settle();
    expect(mailsAbout(order.externalId)).toHaveLength(1);
    expect(hook.bodies.filter((b) => b.text.includes(order.externalId))).toHaveLength(1);
    const [n] = await listNotifications(t.sql, { orderId: order.orderId });
    expect(n).toMatchObject({ kind: 'order.held', severity: 'warning', code: 'OUT_OF_STOCK', externalId: order.externalId, delivery: { email: 'sent', webhook: 'sent' } });
  });

  it('50 holds in a burst become one digest e-mail', async () => {
    const burst = await Promise.all(Array.from({ length: 50 }, () => holdOrder('ADDRESS_INVALID')));
    await eventually(async () => {
      const [r] = await t.sql<{ n: number }[]>`select count(*)::int as n from notifications where order_id = any(${burst.map((o) => o.orderId)})`;
      return r?.n === 50;
    }, '50 notifications stored');
    const digest = await eventually(async () => sink.mails.find((m) => m.text.includes('ADDRESS_INVALID')), 'digest mail');
    await settle();
    const mails = sink.mails.filter((m) => m.text.includes('ADDRESS_INVALID'));
    expect(mails).toHaveLength(1);
    expect(digest.subject).toMatch(/50 notifications/);
    for (const o of burst) expect(digest.text).toContain(o.externalId);
    expect(hook.bodies.filter((b) => b.text.includes('ADDRESS_INVALID'))).toHaveLength(1);
  });

  it('an acknowledged notification is not sent, not repeated by a redelivery, and a later new problem notifies again', async () => {
    const order = sampleOrder();
    const notice = (id: string) =>
      makeEnvelope<NotifyCommand>({
        id,
        type: 'notify',
        orderId: order.orderId,
        payload: { kind: 'payment.unmatched', severity: 'critical', code: 'PAYMENT_MISMATCH', message: `Payment for ${order.externalId} does not match`, orderId: order.orderId, externalId: order.externalId },
      });
    await publishEnvelope(t.nc, t.names.subjects.command('notify'), notice(`n1:${order.orderId}`));
    const n = await notificationOf(order.orderId);
    // The admin acknowledges within the digest window: nothing goes out for it.
    expect(await acknowledgeNotifications(t.sql, [n.id], 'alice')).toEqual([n.id]);
    expect(await acknowledgeNotifications(t.sql, [n.id], 'bob')).toEqual([]);
    // The same message again (a redelivery or republish after the duplicate window): the inbox drops it.
    await publishEnvelope(t.nc, t.names.subjects.command('notify'), { ...notice(`n1:${order.orderId}`) });
    await settle();
    expect(mailsAbout(order.externalId)).toHaveLength(0);
    const all = await listNotifications(t.sql, { status: 'all', orderId: order.orderId });
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ acknowledgedBy: 'alice', occurrences: 1, delivery: { email: 'skipped', webhook: 'skipped' } });

    // After acknowledgement the same problem happening anew is a new notification, and is sent.
    await publishEnvelope(t.nc, t.names.subjects.command('notify'), notice(`n2:${order.orderId}`));
    await eventually(async () => mailsAbout(order.externalId)[0], 'mail for the new occurrence');
    expect(await listNotifications(t.sql, { status: 'open', orderId: order.orderId })).toHaveLength(1);
  });

  it('a dead-lettered message becomes a critical notification', async () => {
    // A notify command the service cannot accept (invalid payload): permanent failure → dead letter → notification.
    const bad = makeEnvelope({ type: 'notify', orderId: null, payload: { kind: 'x' } });
    await publishEnvelope(t.nc, t.names.subjects.command('notify'), bad);
    const mail = await eventually(async () => mailsAbout(bad.id)[0], 'dead-letter mail');
    expect(mail.text).toContain('VALIDATION_FAILED');
    const [n] = (await listNotifications(t.sql, { status: 'open' })).filter((x) => x.kind === 'dead-letter' && x.message.includes(bad.id));
    expect(n).toMatchObject({ severity: 'critical', code: 'VALIDATION_FAILED' });
  });
});
