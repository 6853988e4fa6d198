import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createServer } from 'node:http';
import { listenHttp, type Listening } from '../../infra/sandbox/http-listen.ts';
import { startWooCommerceSandbox, type WooCommerceSandbox } from '../../infra/sandbox/woocommerce-sandbox.ts';
import { ORDERPILOT_SIGNATURE_HEADER, verifyOrderpilotSignature } from '../../services/contracts/index.ts';
import { startNotificationsService } from '../../services/notifications/main.ts';
import { startShopsService } from '../../services/shops/index.ts';
import { eventually } from '../support/context.ts';
import { startRepairsWorld, type RepairsWorld } from '../repairs/repairs-world.ts';
import { expectInOrder } from '../support/in-order.ts';

/**
 * WooCommerce end to end: orders come from a WooCommerce sandbox as signed webhooks through the real
 * gateway, the order host, invoicing, logistics (warehouse sandbox), NATS and Postgres; every change
 * goes back through the shops service to the sandbox's REST v3 API, whose notes and status show it.
 * A second shop ("dead") never answers: its updates are given up and an admin is told. A third
 * ("acme", the generic connector) places orders on POST /orders and receives signed events.
 */
const KEY = 'ck_0123456789abcdef0123456789abcdef01234567';
const SECRET = 'cs_0123456789abcdef0123456789abcdef01234567';
const HOOK_SECRET = 'woo-webhook-secret-0123456789';

let w: RepairsWorld;
let woo: WooCommerceSandbox;
let dead: WooCommerceSandbox;
let away: WooCommerceSandbox;
const extra: RunningService[] = [];
const ACME_SIGNING = 'acme-signing-secret-0123456789';
/** What acme's endpoint received: each request's event and whether its signature verified. The first one is answered 503. */
const acmeEvents: Array<{ id: string; type: string; orderId: string; status: string | null; change: Record<string, unknown>; signed: boolean; answered: number }> = [];
let acme: Listening;

beforeAll(async () => {
  woo = await startWooCommerceSandbox({ consumerKey: KEY, consumerSecret: SECRET, webhookSecret: HOOK_SECRET });
  dead = await startWooCommerceSandbox({ consumerKey: KEY, consumerSecret: SECRET, webhookSecret: HOOK_SECRET });
  dead.faults.down = true;
  away = await startWooCommerceSandbox({ consumerKey: KEY, consumerSecret: SECRET, webhookSecret: HOOK_SECRET });
  acme = await listenHttp(
    createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const e = JSON.parse(raw.toString('utf8')) as { id: string; type: string; data: { orderId: string; status: string | null; change: Record<string, unknown> } };
        const signed = verifyOrderpilotSignature(ACME_SIGNING, raw, req.headers[ORDERPILOT_SIGNATURE_HEADER] as string | undefined, Math.floor(Date.now() / 1000));
        const answered = acmeEvents.length === 0 ? 503 : 200;
        acmeEvents.push({ id: e.id, type: e.type, orderId: e.data.orderId, status: e.data.status, change: e.data.change, signed, answered });
        res.writeHead(answered).end();
      });
    }),
  );
  const shop = (name: string, url: string) => ({
    [`SHOP_${name}_URL`]: url,
    [`SHOP_${name}_KEY`]: KEY,
    [`SHOP_${name}_SECRET`]: SECRET,
    [`SHOP_${name}_WEBHOOK_SECRET`]: HOOK_SECRET,
    [`SHOP_${name}_PAYMENT`]: 'shop',
  });
  w = await startRepairsWorld({
    env: {
      SHOPS: 'woo:woocommerce,dead:woocommerce,away:woocommerce,acme:webhook',
      // One partition: every shop's updates share it, so a shop that is away could hold back the others.
      ORDER_PARTITIONS: '1',
      SHOP_ACME_URL: `${acme.url}/orderpilot-events`,
      SHOP_ACME_WEBHOOK_SECRET: ACME_SIGNING,
      ...shop('WOO', woo.url),
      ...shop('DEAD', dead.url),
      ...shop('AWAY', away.url),
      SHOP_DEAD_MAX_ATTEMPTS: '8',
      SHOPS_RETRY_BASE_MS: '150',
      SHOPS_RETRY_CAP_MS: '1500',
      SHOPS_TIMEOUT_MS: '3000',
    },
  });
  extra.push(await startShopsService(w.t), await startNotificationsService(w.t));
  woo.setWebhookUrl(`${w.gw.url}/webhooks/shops/woo`);
  dead.setWebhookUrl(`${w.gw.url}/webhooks/shops/dead`);
  away.setWebhookUrl(`${w.gw.url}/webhooks/shops/away`);
});
afterAll(async () => {
  for (const s of extra.reverse()) await s.stop();
  await w?.stop();
  await woo?.close();
  await dead?.close();
  await away?.close();
  await acme?.close();
});

const orderIdOf = (shop: string, externalId: number) =>
  eventually(async () => {
    const [row] = await w.t.sql<{ order_id: string }[]>`select order_id from order_intake where shop = ${shop} and external_id = ${String(externalId)}`;
    return row?.order_id;
  }, `order intake of ${shop} ${externalId}`);

/** The notes an orderpilot update or a status change wrote, oldest first (the shop's own first note excluded). */
const texts = (s: WooCommerceSandbox, id: number) => s.notes(id).map((n) => `${n.customer_note ? 'customer' : 'private'}: ${n.note}`);

/** A console page as an admin signed in with a token sees it, and the session cookie. */
async function consoleSession(path: string): Promise<{ cookie: string; html: string }> {
  const login = await fetch(`${w.gw.url}/admin/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=alice-token-0123456789' });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  return { cookie, html: await (await fetch(`${w.gw.url}${path}`, { headers: { cookie } })).text() };
}
const consolePage = async (path: string) => (await consoleSession(path)).html;

describe('WooCommerce shop connector end to end', () => {
  it('an order arrives by webhook, is paid, held, released, shipped and delivered; the shop shows each status and note in order', async () => {
    const wc = await woo.createOrder();
    const orderId = await orderIdOf('woo', wc.id);
    await w.waitFor(orderId, 'pending', (d) => d.state === 'pending');
    const placed = await w.detail(orderId);
    expect(placed.context.order).toMatchObject({ externalId: String(wc.id), shop: 'woo', total: 6500, shippingPrice: 1500, customer: { taxId: '5260250274' } });

    w.warehouse.setPlan(orderId, { reject: 'OUT_OF_STOCK', rejectTimes: 1 });
    await woo.markPaid(wc.id);
    await w.waitFor(orderId, 'held OUT_OF_STOCK', (d) => d.state === 'held');
    await eventually(async () => woo.order(wc.id)?.status === 'on-hold', 'shop shows on-hold');
    const release = await w.admin('POST', `/admin/api/orders/${orderId}/events`, { type: 'RELEASE', note: 'restocked' });
    expect(release.status).toBe(202);
    const closed = await w.waitFor(orderId, 'closed', (d) => d.state === 'closed', 60_000);
    const tracking = closed.context.trackingNumber as string;
    const carrier = closed.context.carrier as string | null;
    const document = await w.waitFor(orderId, 'document issued', (d) => d.context.document !== null);
    const number = document.context.document.number as string;

    const delivered = 'private: Delivered to the customer.';
    await eventually(async () => texts(woo, wc.id).includes(delivered) && texts(woo, wc.id).some((t) => t.includes(number)), 'the shop has every note', 60_000);
    const notes = texts(woo, wc.id);
    expectInOrder(notes, [
      'private: Order status changed from Pending payment to Processing.',
      'private: Order status changed from Processing to On hold.',
      /^private: On hold: .*\(OUT_OF_STOCK\)$/,
      'private: Order status changed from On hold to Processing.',
      'private: Hold released; the order goes on.',
      'private: Order status changed from Processing to Completed.',
      `customer: Your order has been shipped with ${carrier ?? 'the carrier'}. Tracking number: ${tracking}`,
      delivered,
    ]);
    expect(notes.filter((n) => n.startsWith('private: On hold: ')).length).toBe(1);
    expect(notes.find((n) => n.startsWith('private: On hold: '))).toContain('OUT_OF_STOCK');
    // The invoice note carries the invoicing system's public PDF link, which opens without the API token.
    const invoiceNote = notes.find((n) => n.startsWith(`private: Invoice ${number} issued. PDF: `)) ?? '';
    const pdfUrl = invoiceNote.slice(invoiceNote.indexOf('PDF: ') + 5);
    expect(pdfUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/invoice\/[A-Za-z0-9_-]+\.pdf$/);
    expect(document.context.document.pdfUrl).toBe(pdfUrl);
    const pdf = await fetch(pdfUrl);
    expect(pdf.status).toBe(200);
    expect(Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(woo.order(wc.id)?.status).toBe('completed');
    // Every request and answer is in the shop log, in the order sent.
    const log = await w.t.sql<{ kind: string; ok: boolean; http_status: number | null }[]>`select kind, ok, http_status from shop_log where order_id = ${orderId} order by id`;
    expect(log.filter((l) => l.ok && (l.kind === 'status' || l.kind === 'note')).length).toBeGreaterThanOrEqual(7);
    // The order page shows the shop's side: what reached the shop (and, with ?timeline=all, each call's raw request and answer).
    const page = await consolePage(`/admin/orders/${orderId}`);
    expect(page).toContain('data-source="shop"');
    expect(page).toContain('→ woo: Status → on-hold');
    expect(page).toContain(`→ woo: Customer note: Your order has been shipped with ${carrier ?? 'the carrier'}. Tracking number: ${tracking}`);
    const all = await consolePage(`/admin/orders/${orderId}?timeline=all`);
    expect(all).toContain(`PUT ${woo.url}/wp-json/wc/v3/orders/${wc.id}`);
    // The order was paid once, by the shop's own paid signal (its later order.updated webhooks change nothing).
    const history = closed.history as Array<{ type: string; outcome: string }>;
    expect(history.filter((h) => h.type === 'PAYMENT_CONFIRMED')).toHaveLength(1);
    expect(history.filter((h) => h.type === 'ORDER_PLACED')).toHaveLength(1);
  });

  it('a shop that is down for a while receives every update afterwards, in order', async () => {
    const wc = await woo.createOrder();
    const orderId = await orderIdOf('woo', wc.id);
    await w.waitFor(orderId, 'pending', (d) => d.state === 'pending');
    const failedBefore = woo.requests.filter((r) => r.status === 503).length;
    woo.faults.down = true;
    await woo.markPaid(wc.id);
    await eventually(async () => woo.requests.filter((r) => r.status === 503).length >= failedBefore + 3, 'three refused pushes while the shop is down');
    const closed = await w.waitFor(orderId, 'closed while the shop is down', (d) => d.state === 'closed', 60_000);
    woo.faults.down = false;
    const tracking = closed.context.trackingNumber as string;
    await eventually(async () => texts(woo, wc.id).includes('private: Delivered to the customer.'), 'the shop caught up', 60_000);
    const notes = texts(woo, wc.id);
    expectInOrder(notes, [
      'private: Order status changed from Pending payment to Processing.',
      'private: Order status changed from Processing to Completed.',
      new RegExp(`^customer: .*Tracking number: ${tracking}$`),
      'private: Delivered to the customer.',
    ]);
    expect(notes.some((n) => n.startsWith('customer: ') && n.endsWith(`Tracking number: ${tracking}`))).toBe(true);
    expect(notes.filter((n) => n === 'private: Delivered to the customer.')).toHaveLength(1);
    expect(woo.order(wc.id)?.status).toBe('completed');
  });

  it('a shop that is away holds back only its own orders: another shop on the same partition is updated meanwhile, and it gets every update afterwards, in order', async () => {
    const waiting = (orderId: string) => w.t.sql<{ attempts: number }[]>`select attempts from shop_waiting where order_id = ${orderId} order by id`;
    away.faults.down = true;
    const late = await away.createOrder();
    const lateId = await orderIdOf('away', late.id);
    await away.markPaid(late.id);
    // The paid update failed and waits in Postgres (not on the partition); the order goes on without its shop.
    await eventually(async () => ((await waiting(lateId))[0]?.attempts ?? 0) >= 1, 'the away shop update waits after a failed try');
    await w.waitFor(lateId, 'closed while its shop is away', (d) => d.state === 'closed', 60_000);

    const wc = await woo.createOrder();
    const orderId = await orderIdOf('woo', wc.id);
    await woo.markPaid(wc.id);
    await eventually(async () => woo.order(wc.id)?.status === 'processing', 'the other shop is updated while the away shop is down', 60_000);
    // Meanwhile every update of the away shop's order waits behind its first, none given up.
    const still = await waiting(lateId);
    expect(still.length).toBeGreaterThanOrEqual(2);
    expect(still.slice(1).every((r) => r.attempts === 0)).toBe(true);
    expect((await w.t.sql`select 1 from shop_log where order_id = ${lateId} and kind = 'gave-up'`).length).toBe(0);
    const machines = await consolePage('/admin/machines');
    expect(machines).toMatch(/<tr data-shop="away">(?:(?!<\/tr>).)*<td>\d+ waiting/s);

    away.faults.down = false;
    await eventually(async () => texts(away, late.id).includes('private: Delivered to the customer.') && (await waiting(lateId)).length === 0, 'the away shop caught up', 60_000);
    expectInOrder(texts(away, late.id), [
      'private: Order status changed from Pending payment to Processing.',
      'private: Order status changed from Processing to Completed.',
      /^customer: .*Tracking number: /,
      'private: Delivered to the customer.',
    ]);
    expect(texts(away, late.id).filter((n) => n === 'private: Delivered to the customer.')).toHaveLength(1);
  });

  it('an order cancelled at the shop (order.updated, status cancelled) is cancelled here too, once', async () => {
    const wc = await woo.createOrder();
    const orderId = await orderIdOf('woo', wc.id);
    await w.waitFor(orderId, 'pending', (d) => d.state === 'pending');
    await woo.cancel(wc.id);
    await woo.resend(wc.id); // the shop sends it again: still one cancel
    const cancelled = await w.waitFor(orderId, 'cancelled', (d) => d.state === 'cancelled', 60_000);
    const cancel = (cancelled.history as Array<{ type: string; outcome: string; actor: string | null }>).filter((h) => h.type === 'CANCEL');
    expect(cancel).toEqual([expect.objectContaining({ outcome: 'applied', actor: 'woo' })]);
  });

  it('a bad signature is stored and refused: no order', async () => {
    woo.faults.wrongSignatureNext = 1;
    const wc = await woo.createOrder();
    const sent = woo.sent.filter((s) => s.orderId === wc.id);
    expect(sent.map((s) => s.status)).toEqual([400]);
    const rows = await w.t.sql<{ signature: string; verdict: string }[]>`select signature, verdict from webhook_inbox where provider = 'shop:woo' and verdict = 'invalid' and convert_from(body, 'UTF8') like ${`{"id":${wc.id},%`}`;
    expect(rows.length).toBe(1);
    const intake = await w.t.sql`select 1 from order_intake where shop = 'woo' and external_id = ${String(wc.id)}`;
    expect(intake.length).toBe(0);
    // A shop not in SHOPS is not a door (nothing stored); WooCommerce's unsigned ping when a webhook is saved is answered 200.
    const unknown = await fetch(`${w.gw.url}/webhooks/shops/nope`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(unknown.status).toBe(404);
    const ping = await fetch(`${w.gw.url}/webhooks/shops/woo`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'webhook_id=7' });
    expect(ping.status).toBe(200);
    expect(await ping.json()).toMatchObject({ ping: true });
  });

  it('a duplicate delivery changes nothing: one stored webhook, one order, one payment', async () => {
    woo.faults.duplicateDeliveries = true;
    try {
      const wc = await woo.createOrder();
      const orderId = await orderIdOf('woo', wc.id);
      await woo.markPaid(wc.id);
      expect(woo.sent.filter((s) => s.orderId === wc.id && s.topic === 'order.created').map((s) => s.status)).toEqual([200, 200]);
      const d = await w.waitFor(orderId, 'paid', (x) => x.state !== 'pending');
      const placed = await w.t.sql`select 1 from webhook_inbox where provider = 'shop:woo' and dedupe_key like ${`shop:woo:order:${wc.id}:%`}`;
      expect(placed.length).toBe(2); // created, paid: each stored once although delivered twice
      const history = d.history as Array<{ type: string; outcome: string }>;
      expect(history.filter((h) => h.type === 'ORDER_PLACED')).toHaveLength(1);
      expect(history.filter((h) => h.type === 'PAYMENT_CONFIRMED')).toHaveLength(1);
      const orders = await w.t.sql`select 1 from orders where external_id = ${String(wc.id)} and shop = 'woo'`;
      expect(orders.length).toBe(1);
    } finally {
      woo.faults.duplicateDeliveries = false;
    }
  });

  it('generic signed webhooks: an order placed on POST /orders sends signed events in order (a 503 is retried with the same event id)', async () => {
    const o = await w.place();
    await w.pay(o.orderId);
    const closed = await w.waitFor(o.orderId, 'closed', (d) => d.state === 'closed', 60_000);
    const delivered = () => acmeEvents.filter((e) => e.orderId === o.orderId && e.answered === 200);
    await eventually(async () => delivered().some((e) => e.status === 'closed') && delivered().some((e) => e.type === 'document.issued'), 'acme received every event', 60_000);
    const mine = acmeEvents.filter((e) => e.orderId === o.orderId);
    expect(mine.every((e) => e.signed)).toBe(true);
    expect(mine[0]).toMatchObject({ answered: 503, type: 'order.status_changed', status: 'processing' });
    expect(mine[1]?.id).toBe(mine[0]?.id);
    const flow = delivered().filter((e) => e.type !== 'document.issued').map((e) => `${e.type}:${e.status}`);
    expect(flow).toEqual(['order.status_changed:processing', 'shipment.handed_over:inShipment', 'order.status_changed:closed']);
    expect(delivered().find((e) => e.type === 'shipment.handed_over')?.change).toMatchObject({ trackingNumber: closed.context.trackingNumber });
    expect(delivered().find((e) => e.type === 'document.issued')?.change).toMatchObject({ number: closed.context.document.number });
    expect(new Set(delivered().map((e) => e.id)).size).toBe(delivered().length);
  });

  it('a shop that never answers: its update is given up after the retries, an admin is told, the order goes on', async () => {
    const wc = await dead.createOrder();
    const orderId = await orderIdOf('dead', wc.id);
    await dead.markPaid(wc.id);
    await w.waitFor(orderId, 'closed', (d) => d.state === 'closed', 60_000);
    const gaveUp = await eventually(async () => {
      const rows = await w.t.sql<{ summary: string }[]>`select summary from shop_log where order_id = ${orderId} and kind = 'gave-up'`;
      return rows.length > 0 ? rows : undefined;
    }, 'gave up', 60_000);
    expect(gaveUp[0]?.summary).toMatch(/after 8 attempt/);
    await eventually(async () => {
      const rows = await w.t.sql`select 1 from notifications where order_id = ${orderId} and kind = 'shop.update-failed'`;
      return rows.length > 0;
    }, 'admin notified', 60_000);

    // The machines page shows the shop failing (and the working one ok).
    const machines = await consolePage('/admin/machines');
    expect(machines).toMatch(/<tr data-shop="dead">(?:(?!<\/tr>).)*<span class="badge failing">failing<\/span>/s);
    expect(machines).toMatch(/<tr data-shop="woo">(?:(?!<\/tr>).)*<span class="badge ok">ok<\/span>/s);

    // The shop is fixed: an admin replays what was given up. The shop ends with the newest status and
    // every note once; an older update adds its notes only (never its older status).
    dead.faults.down = false;
    const tracking = (await w.detail(orderId)).context.trackingNumber as string;
    // From the order page's replay form, as a signed-in admin (the console calls the admin API's replay).
    const { cookie, html: orderPage } = await consoleSession(`/admin/orders/${orderId}`);
    expect(orderPage).toContain('Replay to the shop');
    const csrf = /class="shop-replay"><input type="hidden" name="_csrf" value="([^"]+)"/.exec(orderPage)?.[1] ?? '';
    const replay = await fetch(`${w.gw.url}/admin/orders/${orderId}/shop-replay`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${encodeURIComponent(csrf)}` });
    expect(replay.status).toBe(303);
    expect(decodeURIComponent(replay.headers.get('location') ?? '')).toMatch(/\?ok=[1-9]\d* shop update\(s\) sent again\./);
    await eventually(async () => texts(dead, wc.id).includes('private: Delivered to the customer.') && texts(dead, wc.id).some((t) => t.endsWith(`Tracking number: ${tracking}`)), 'the dead shop caught up after the replay', 60_000);
    await eventually(async () => dead.order(wc.id)?.status === 'completed', 'completed at the shop');
    const notes = texts(dead, wc.id);
    expect(notes.filter((n) => n === 'private: Delivered to the customer.')).toHaveLength(1);
    expect(notes.some((n) => n.includes('to On hold'))).toBe(false);
    // The replays run after whatever of the order was still being retried when the shop came back.
    await eventually(async () => {
      const log = await w.admin('GET', `/admin/api/orders/${orderId}/shop`);
      return (log.body.items as Array<{ kind: string }>).some((i) => i.kind === 'replayed');
    }, 'the replay in the shop log', 60_000);
    expect(texts(dead, wc.id).filter((n) => n === 'private: Delivered to the customer.')).toHaveLength(1);
    expect(dead.order(wc.id)?.status).toBe('completed');
  });
});
