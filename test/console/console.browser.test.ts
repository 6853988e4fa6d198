import os from 'node:os';
import path from 'node:path';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startGatewayService, type RunningGateway } from '../../gateway/main.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { startNotificationsService } from '../../services/notifications/main.ts';
import { recordPendingRetry } from '../../infra/db/pending-retries.ts';
import { createFakturowniaAdapter } from '../../services/invoicing/fakturownia.adapter.ts';
import { startInvoicingSandbox, type InvoicingSandbox } from '../../infra/sandbox/invoicing-sandbox.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { heldOrder, orderState, publishOrderEvent, sampleOrder } from '../support/orders.ts';

const TOKEN = 'alice-console-token-0123456789';
const ARTIFACTS = path.resolve('test-artifacts');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let t: TestContext;
let orders: RunningService;
let notifications: RunningService;
let gw: RunningGateway;
let browser: BrowserContext;
let profile: string;
let page: Page;
let invoicingSandbox: InvoicingSandbox;

beforeAll(async () => {
  invoicingSandbox = await startInvoicingSandbox();
  t = await createTestContext({ ADMIN_TOKENS: `alice:${TOKEN}`, PORT: '0', NOTIFY_DIGEST_WINDOW_MS: '200', FAKTUROWNIA_URL: invoicingSandbox.url, FAKTUROWNIA_API_TOKEN: invoicingSandbox.apiToken });
  orders = await startOrdersService(t);
  notifications = await startNotificationsService(t, { pollMs: 200 });
  gw = await startGatewayService(t, { defaultMetrics: false });
  await mkdir(ARTIFACTS, { recursive: true });
  profile = await mkdtemp(path.join(os.tmpdir(), 'orderpilot-chromium-'));
  browser = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 1000 } });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(20_000);
});
afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  await notifications?.stop();
  await orders?.stop();
  await t?.cleanup();
  await invoicingSandbox?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `console-${name}.png`), fullPage: true });
const activeStates = () => page.locator('.statechart .st.active').evaluateAll((els) => els.map((e) => e.getAttribute('data-state-id')));

describe('admin console in headless Chromium (real gateway, order host, Postgres, NATS)', () => {
  it('refuses a wrong token and signs in with an admin token kept in an HttpOnly cookie', async () => {
    await page.goto(`${gw.url}/admin`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await page.fill('input[name=token]', 'not-the-token-at-all-0000');
    await page.click('button[type=submit]');
    await expect.poll(() => page.locator('.flash.error').textContent()).toContain('not an admin token');
    await page.fill('input[name=token]', TOKEN);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:has-text("Needs attention")');
    const cookies = await browser.cookies(`${gw.url}/admin`);
    expect(cookies.find((c) => c.name === 'orderpilot_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // Scripts cannot read the session.
    expect(await page.evaluate(() => document.cookie)).not.toContain('orderpilot_session');
  });

  it('needs attention is a work queue: the held order once, why in words, who and how much, what may be done now', async () => {
    const order = await heldOrder(t, { code: 'OUT_OF_STOCK', message: 'SKU-1 not in stock' });
    await eventually(async () => (await t.sql`select 1 from notifications where order_id = ${order.orderId}`).length === 1, 'notification stored');
    await page.goto(`${gw.url}/admin`);
    const row = page.locator(`table.held tr[data-order="${order.orderId}"]`);
    await expect.poll(() => row.textContent()).toContain('Not enough stock at the warehouse');
    const text = (await row.textContent()) ?? '';
    expect(text).toContain('SKU-1 not in stock');
    expect(text).toContain(order.externalId);
    expect(text).toContain('Jan Kowalski');
    expect(text).toMatch(/PLN\s65\.00/);
    expect(text).toContain('2 × Kubek');
    // The code is said once (on hover), not repeated in the row's text.
    expect(text.split('OUT_OF_STOCK').length - 1).toBe(0);
    // One problem, one row: the order appears once on the page (its notification lives in the feed).
    expect(await page.locator(`[data-order="${order.orderId}"]`).count()).toBe(1);
    expect(await page.locator('table.notifications').count()).toBe(0);
    // What may be done now, each a link to its form on the order page.
    const actions = await row.locator('a[data-action-link]').evaluateAll((els) => els.map((e) => e.getAttribute('data-action-link')));
    expect(actions).toEqual(expect.arrayContaining(['RELEASE', 'CANCEL', 'MARK_SHIPPED']));
    expect(await page.locator('[data-count-state="held"] b').textContent()).not.toBe('0');
    await shot('needs-attention');
    await row.locator('a[data-action-link="RELEASE"]').click();
    await page.waitForURL(/#action-RELEASE$/);
    expect(await page.locator('form#action-RELEASE').count()).toBe(1);
  });

  it('order page: statechart highlights the state, only allowed actions, release with a note updates live', async () => {
    const order = await heldOrder(t, { code: 'ADDRESS_INVALID', message: 'street missing' });
    await page.goto(`${gw.url}/admin/orders/${order.orderId}`);
    expect(await activeStates()).toEqual(expect.arrayContaining(['order.processing', 'order.processing.fulfilment.held', 'order.processing.document.requested']));
    expect(await activeStates()).not.toContain('order.pending');
    // Exactly what the machine allows now (the admin API says which): release, cancel, mark shipped among them.
    const offered = await page.locator('form[data-action]').evaluateAll((els) => els.map((e) => e.getAttribute('data-action')));
    const api = await fetch(`${gw.url}/admin/api/orders/${order.orderId}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const allowed = ((await api.json()) as { allowedEvents: string[] }).allowedEvents;
    expect(new Set(offered)).toEqual(new Set(allowed));
    expect(allowed).toEqual(expect.arrayContaining(['CANCEL', 'MARK_SHIPPED', 'RELEASE']));
    // The document has not failed: nothing to retry (issuing one is offered while none exists).
    expect(await page.locator('form[data-action="RETRY_DOCUMENT"]').count()).toBe(0);
    await shot('order-held');

    await page.evaluate(() => Object.assign(window, { beforeRelease: true }));
    await page.fill('form[data-action="RELEASE"] input[name=note]', 'address fixed with the customer');
    await page.click('form[data-action="RELEASE"] button[type=submit]');
    await page.waitForSelector('.flash:has-text("RELEASE sent")');
    await page.waitForSelector('.statechart .st.active[data-state-id="order.processing.fulfilment.submitting"]');
    expect(await page.locator('form[data-action="RELEASE"]').count()).toBe(0);
    expect(await page.locator('.timeline').textContent()).toContain('address fixed with the customer');

    // The warehouse moves on while the admin watches: the page follows without a reload.
    await page.evaluate(() => Object.assign(window, { noReload: true }));
    await publishOrderEvent(t.nc, t.names, order.orderId, 'HANDED_TO_CARRIER', { trackingNumber: 'TRK-4242', carrier: 'DPD' }, { actor: 'warehouse' });
    await page.waitForSelector('.statechart .st.active[data-state-id="order.processing.fulfilment.inShipment"]');
    expect(await page.locator('dd.tracking').textContent()).toContain('TRK-4242');
    expect(await page.evaluate(() => (window as unknown as { noReload?: boolean }).noReload)).toBe(true);
    await shot('order-live');
  });

  it('order page: items, both addresses, payment, and the retries under way', async () => {
    const order = await heldOrder(t);
    await recordPendingRetry(t.sql, { consumer: t.names.consumers.command('logistics'), messageId: `submit-${order.orderId}`, orderId: order.orderId, subject: t.names.subjects.command('submitShipment'), type: 'submit-shipment', attempt: 3, maxAttempts: 8, lastError: 'PROVIDER_UNAVAILABLE: warehouse answered 503', delayMs: 60_000 });
    await page.goto(`${gw.url}/admin/orders/${order.orderId}`);
    expect(await page.locator('table.items').innerText()).toContain('Kubek');
    expect(await page.locator('table.items').innerText()).toContain('Shipping');
    expect(await page.locator('.address.shipping').innerText()).toContain(order.shippingAddress.city);
    expect(await page.locator('.address.billing').innerText()).toContain(order.billingAddress.postalCode);
    expect(await page.locator('dd.payment').innerText()).toContain(`pi_${order.orderId}`);
    const retry = page.locator('table.retries tr[data-retry="submit-shipment"]');
    expect(await retry.innerText()).toContain('3 of 8');
    expect(await retry.innerText()).toContain('warehouse answered 503');
    // The machine's internal action names stay out of the way until asked for.
    expect(await page.locator('.statechart .fx').first().isVisible()).toBe(false);
    await page.check('input.show-fx');
    expect(await page.locator('.statechart .fx').first().isVisible()).toBe(true);
    await shot('order-facts');
  });

  it('timeline toggles between what matters and everything (ignored events, raw payloads)', async () => {
    const order = await heldOrder(t);
    // DELIVERED means nothing to a held order: the machine ignores it, history records it.
    await publishOrderEvent(t.nc, t.names, order.orderId, 'DELIVERED', {}, { actor: 'warehouse' });
    await eventually(async () => (await t.sql`select 1 from order_history where order_id = ${order.orderId} and outcome = 'ignored'`).length === 1, 'ignored event recorded');
    await page.goto(`${gw.url}/admin/orders/${order.orderId}`);
    expect(await page.locator('.timeline').textContent()).not.toContain('ignored');
    await page.click('.toggle a:has-text("Everything")');
    await page.waitForSelector('.timeline[data-view="all"]');
    expect(await page.locator('.timeline').textContent()).toContain('DELIVERED (ignored');
    expect(await page.locator('.timeline .raw').count()).toBeGreaterThan(0);
  });

  it('bulk-releases 3 held orders with one note after a confirmation that lists them', async () => {
    const three = [await heldOrder(t), await heldOrder(t), await heldOrder(t)];
    await page.goto(`${gw.url}/admin`);
    for (const o of three) await page.check(`table.held tr[data-order="${o.orderId}"] input[name=ids]`);
    await page.fill('form[data-key="bulk"] input[name=note]', 'stock arrived');
    await page.click('form[data-key="bulk"] button[data-bulk="release"]');
    await page.waitForSelector('h1:has-text("Release 3 orders?")');
    const listed = await page.locator('table.confirm tr[data-order]').evaluateAll((els) => els.map((e) => e.getAttribute('data-order')));
    expect(listed.sort()).toEqual(three.map((o) => o.orderId).sort());
    await shot('bulk-confirm');
    await page.click('form[data-key="bulk-confirm"] button[type=submit]');
    await page.waitForSelector('h1:has-text("Released 3 of 3")');
    for (const o of three) await eventually(async () => (await orderState(t.sql, o.orderId)) === 'processing', `${o.externalId} released`);
    const notes = await t.sql<{ actor: string; note: string }[]>`select actor, note from order_history where type = 'RELEASE' and order_id = any(${three.map((o) => o.orderId)})`;
    expect(notes).toHaveLength(3);
    expect(notes.every((n) => n.actor === 'alice' && n.note === 'stock arrived')).toBe(true);
  });

  it('typing a note while live updates arrive keeps the text and the focus; the page catches up afterwards', async () => {
    const mine = await heldOrder(t);
    await page.goto(`${gw.url}/admin`);
    await page.waitForFunction(() => document.getElementById('live-dot')?.classList.contains('on'));
    const note = page.locator('form[data-key="bulk"] input[name=note]');
    await note.click();
    await page.keyboard.type('Checked with the ');
    // Changes elsewhere arrive while the person types: two more orders get held.
    const others = [await heldOrder(t), await heldOrder(t)];
    await page.waitForSelector('#live-pending:not([hidden])');
    await page.keyboard.type('customer');
    expect(await note.inputValue()).toBe('Checked with the customer');
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)).toBe('note');
    // The held orders that arrived are not on the page yet: nothing was replaced under the typing.
    for (const o of others) expect(await page.locator(`table.held tr[data-order="${o.orderId}"]`).count()).toBe(0);
    await shot('live-pending');
    // Done typing and the note cleared: focus leaves, the page catches up by itself.
    await note.fill('');
    await page.locator('h1').first().click();
    for (const o of [mine, ...others]) await page.waitForSelector(`table.held tr[data-order="${o.orderId}"]`);
    expect(await page.locator('#live-pending').isHidden()).toBe(true);
  });

  it('bulk-cancels 2 held orders with one note after a confirmation that lists them', async () => {
    const two = [await heldOrder(t), await heldOrder(t)];
    await page.goto(`${gw.url}/admin`);
    for (const o of two) await page.check(`table.held tr[data-order="${o.orderId}"] input[name=ids]`);
    await page.fill('form[data-key="bulk"] input[name=note]', 'supplier gone');
    await page.click('form[data-key="bulk"] button[data-bulk="cancel"]');
    await page.waitForSelector('h1:has-text("Cancel 2 orders?")');
    expect(await page.locator('main').textContent()).toContain('refunded');
    await page.click('form[data-key="bulk-confirm"] button[type=submit]');
    await page.waitForSelector('h1:has-text("Cancelled 2 of 2")');
    // Paid orders: the warehouse is asked to cancel first (no logistics service runs here, so they wait in cancelling).
    for (const o of two) await eventually(async () => (await orderState(t.sql, o.orderId)) === 'cancelling', `${o.externalId} cancelling`);
    const notes = await t.sql<{ actor: string; note: string }[]>`select actor, note from order_history where type = 'CANCEL' and order_id = any(${two.map((o) => o.orderId)})`;
    expect(notes).toEqual([
      { actor: 'alice', note: 'supplier gone' },
      { actor: 'alice', note: 'supplier gone' },
    ]);
  });

  it('repair forms: labelled fields with the current values; a refused field shows its error beside it; the corrected form goes through', async () => {
    const order = await heldOrder(t, { code: 'ADDRESS_INVALID', message: 'no such postal code' });
    await page.goto(`${gw.url}/admin/orders/${order.orderId}`);
    const form = page.locator('form[data-action="UPDATE_SHIPPING_ADDRESS"]');
    expect(await form.locator('input[name="shippingAddress.postalCode"]').inputValue()).toBe('00-001');
    expect(await form.locator('input[name="shippingAddress.city"]').inputValue()).toBe('Warszawa');
    expect(await form.locator('label', { hasText: 'Postal code' }).count()).toBe(1);
    // The buyer form is filled too, and the refund form says how much is left.
    expect(await page.locator('form[data-action="UPDATE_BUYER"] input[name="customer.name"]').inputValue()).toBe('Jan Kowalski');
    expect(await page.locator('form[data-action="REFUND"] label', { hasText: 'at most 65.00' }).count()).toBe(1);

    await form.locator('input[name="shippingAddress.country"]').fill('P1');
    await form.locator('input[name="shippingAddress.postalCode"]').fill('00-950');
    await form.locator('input[name=note]').fill('customer called');
    await form.locator('button[type=submit]').click();
    const err = page.locator('form[data-action="UPDATE_SHIPPING_ADDRESS"] .field-error[data-field="shippingAddress.country"]');
    await err.waitFor();
    expect(await err.textContent()).toMatch(/pattern|match/i);
    // What the admin typed is kept.
    expect(await page.locator('form[data-action="UPDATE_SHIPPING_ADDRESS"] input[name="shippingAddress.postalCode"]').inputValue()).toBe('00-950');
    await shot('repair-form-error');

    const buyer = page.locator('form[data-action="UPDATE_BUYER"]');
    await buyer.locator('input[name="customer.company"]').fill('Firma sp. z o.o.');
    await buyer.locator('input[name="customer.taxId"]').fill('1234567890');
    await buyer.locator('input[name=note]').fill('company after all');
    await buyer.locator('button[type=submit]').click();
    const nip = page.locator('form[data-action="UPDATE_BUYER"] .field-error[data-field="customer.taxId"]');
    await nip.waitFor();
    expect(await nip.textContent()).toContain('not a valid Polish NIP');

    // Only the refused form keeps what was typed; the others show the order's values again.
    const again = page.locator('form[data-action="UPDATE_SHIPPING_ADDRESS"]');
    expect(await again.locator('input[name="shippingAddress.postalCode"]').inputValue()).toBe('00-001');
    await again.locator('input[name="shippingAddress.postalCode"]').fill('00-950');
    await again.locator('input[name="shippingAddress.country"]').fill('PL');
    await again.locator('input[name=note]').fill('customer called');
    await again.locator('button[type=submit]').click();
    await page.waitForSelector('.flash:has-text("UPDATE_SHIPPING_ADDRESS sent")');
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'processing', 'resubmitted with the new address');
    const [row] = await t.sql<{ snapshot: { context: { order: { shippingAddress: { postalCode: string } } } } }[]>`select snapshot from orders where id = ${order.orderId}`;
    expect(row?.snapshot.context.order.shippingAddress.postalCode).toBe('00-950');
  });

  it('replays a dead letter from its page, with a confirmation and a note that is recorded', async () => {
    // A payment for an order the host does not know yet: dead-lettered (UNKNOWN_ORDER).
    const order = sampleOrder();
    await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_CONFIRMED', { provider: 'stripe', paymentId: `pi_${order.orderId}`, amount: order.total, currency: 'PLN' });
    const [dead] = await eventually(async () => {
      const rows = await t.sql<Array<{ id: string }>>`select id::text as id from dead_letters where order_id = ${order.orderId}`;
      return rows.length > 0 ? rows : undefined;
    }, 'dead letter');
    // The cause is fixed: the order now exists.
    await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'pending', 'order placed');
    await page.goto(`${gw.url}/admin/dead-letters`);
    const row = page.locator(`table.dead-letters tr[data-dead-letter="${dead!.id}"]`);
    await row.locator('summary').click();
    expect(await row.locator('pre.raw').innerText()).toContain('PAYMENT_CONFIRMED');
    await row.locator('input[name=note]').fill('order arrived late; replaying its payment');
    await shot('dead-letters');
    const confirmed: string[] = [];
    page.once('dialog', (d) => {
      confirmed.push(d.message());
      void d.accept();
    });
    await row.locator('button[type=submit]').click();
    await page.waitForSelector(`.flash:has-text("Dead letter ${dead!.id} replayed.")`);
    expect(confirmed[0]).toContain(`Replay dead letter ${dead!.id}?`);
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'processing', 'payment applied after the replay');
    const [rec] = await t.sql<Array<{ replayed_by: string; replay_note: string }>>`select replayed_by, replay_note from dead_letters where id = ${dead!.id}`;
    expect(rec).toEqual({ replayed_by: 'alice', replay_note: 'order arrived late; replaying its payment' });
  });

  it('webhook inbox: a rejected webhook shows its raw request and replays only by force with a note', async () => {
    // No WAREHOUSE_WEBHOOK_SECRET in this world: the gateway stores the request as rejected.
    const eventId = `ev-${Date.now()}`;
    const sent = await fetch(`${gw.url}/webhooks/warehouse`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ eventId, shipmentId: 'sh-1', reference: 'ord_unknown', status: 'DELIVERED', occurredAt: new Date().toISOString() }),
    });
    expect(sent.status).toBe(400);
    const { error } = (await sent.json()) as { error: { details: { webhookId: string } } };
    const id = error.details.webhookId;
    await page.goto(`${gw.url}/admin/webhooks?verdict=invalid`);
    const row = page.locator(`table.webhooks tr[data-webhook="${id}"]`);
    await row.locator('summary').click();
    expect(await row.locator('pre.raw').innerText()).toContain(eventId);
    // Forcing needs the box ticked and a note (the browser refuses the form before that).
    expect(await row.locator('input[name=force]').getAttribute('required')).not.toBeNull();
    await row.locator('input[name=note]').fill('secret rotated on our side; the warehouse is genuine');
    await row.locator('input[name=force]').check();
    page.once('dialog', (d) => void d.accept());
    await row.locator('button[type=submit]').click();
    await page.waitForSelector('#live .flash');
    await shot('webhooks');
    expect(await page.locator('#live .flash').first().innerText()).toBe(`Webhook ${id} replayed: accepted.`);
    const [rec] = await t.sql<Array<{ replayed_by: string; replay_forced: boolean; replay_note: string }>>`select replayed_by, replay_forced, replay_note from webhook_inbox where id = ${id}`;
    expect(rec).toEqual({ replayed_by: 'alice', replay_forced: true, replay_note: 'secret rotated on our side; the warehouse is genuine' });
  });

  it('acknowledges notifications from the console and shows the machines with live counts', async () => {
    await page.goto(`${gw.url}/admin/notifications`);
    const before = await page.locator('table.notifications tr[data-notification]').count();
    expect(before).toBeGreaterThan(0);
    await page.check('table.notifications tr[data-notification] input[name=ids] >> nth=0');
    await page.click('button[value=selected]');
    await page.waitForSelector('.flash:has-text("1 notification(s) acknowledged")');
    expect(await page.locator('table.notifications tr[data-notification]').count()).toBe(before - 1);
    await shot('notifications');

    await page.goto(`${gw.url}/admin/machines`);
    const held = await page.locator('.st[data-state-id="order.processing.fulfilment.held"] > .st-head .count').textContent();
    const [row] = await t.sql<{ n: number }[]>`select count(*)::int as n from orders where state = 'held'`;
    expect(Number(held)).toBe(row?.n);
    await shot('machines');
  });

  it('shows the document number and date with a PDF link served from the invoicing system', async () => {
    const order = await heldOrder(t);
    // The invoicing service's work, done by hand: issue at the (sandbox) invoicing system, report it.
    const doc = await createFakturowniaAdapter({ baseUrl: invoicingSandbox.url, apiToken: invoicingSandbox.apiToken, timeoutMs: 5000 }).issue(order);
    await publishOrderEvent(t.nc, t.names, order.orderId, 'DOCUMENT_ISSUED', doc, { actor: 'invoicing' });
    await page.goto(`${gw.url}/admin/orders/${order.orderId}`);
    await page.waitForSelector(`dd.document:has-text("${doc.number}")`);
    expect(await page.locator('dd.document').textContent()).toContain(doc.issueDate);
    const href = await page.locator('dd.document a:has-text("PDF")').getAttribute('href');
    const pdf = await page.request.get(`${gw.url}${href ?? ''}`);
    expect(pdf.status()).toBe(200);
    expect(pdf.headers()['content-type']).toBe('application/pdf');
    expect((await pdf.body()).subarray(0, 5).toString()).toBe('%PDF-');
  });

  it('orders list: finds an order by its document number and by its tracking number; CSV exports the filtered rows', async () => {
    const withDoc = await heldOrder(t);
    const doc = await createFakturowniaAdapter({ baseUrl: invoicingSandbox.url, apiToken: invoicingSandbox.apiToken, timeoutMs: 5000 }).issue(withDoc);
    await publishOrderEvent(t.nc, t.names, withDoc.orderId, 'DOCUMENT_ISSUED', doc, { actor: 'invoicing' });
    const shipped = await heldOrder(t);
    const tracking = `TRK-${Date.now()}`;
    await publishOrderEvent(t.nc, t.names, shipped.orderId, 'MARK_SHIPPED', { trackingNumber: tracking, carrier: 'InPost', note: 'sent by hand' }, { actor: 'alice' });
    await eventually(async () => (await orderState(t.sql, shipped.orderId)) === 'inShipment', 'shipped by hand');
    await eventually(async () => (await t.sql`select 1 from orders where id = ${withDoc.orderId} and document_state <> 'requested'`).length === 1, 'document on the order');

    await page.goto(`${gw.url}/admin/orders`);
    await page.fill('input[name=q]', doc.number);
    await page.click('form[data-key="filter"] button[type=submit]');
    await page.waitForURL(/q=/);
    expect(await page.locator('table.orders tr[data-order]').evaluateAll((els) => els.map((e) => e.getAttribute('data-order')))).toEqual([withDoc.orderId]);
    // Times are shown in the browser's zone (the <time> element keeps the instant).
    expect(await page.locator('table.orders time').first().getAttribute('datetime')).toMatch(/Z$/);

    await page.fill('input[name=q]', tracking);
    await page.click('form[data-key="filter"] button[type=submit]');
    await page.waitForSelector(`table.orders tr[data-order="${shipped.orderId}"]`);
    expect(await page.locator('table.orders tr[data-order]').count()).toBe(1);
    // Nothing typed since the page loaded: live changes are not held back.
    expect(await page.locator('#live-pending').isHidden()).toBe(true);
    await shot('orders-search');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[data-csv]')]);
    const csv = (await readFile((await download.path())!)).toString('utf8');
    const lines = csv.trim().split(/\r\n/);
    expect(lines[0]).toBe('order_id,external_id,state,hold_code,document_state,document_number,tracking_number,customer_name,customer_email,total,currency,created_at,updated_at');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`"${shipped.orderId}"`);
    expect(lines[1]).toContain(`"${tracking}"`);
  });

  it('the offline inspector follows one order: its statechart and each transition appear live as they are committed', async () => {
    const order = sampleOrder();
    await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'pending', 'order placed');
    await page.goto(`${gw.url}/admin/inspector?order=${order.orderId}`);
    await page.waitForFunction(() => document.getElementById('live-dot')?.classList.contains('on'));
    expect(await activeStates()).toContain('order.pending');
    await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_CONFIRMED', { provider: 'stripe', paymentId: `pi_${order.orderId}`, amount: order.total, currency: 'PLN' });
    const row = page.locator('table.transitions tr[data-event="PAYMENT_CONFIRMED"]');
    // Generous: a hint the host sent before it heard this console listening is caught by the page's 30 s refresh.
    await row.waitFor({ timeout: 90_000 });
    const shownAt = Date.now();
    const [committed] = await t.sql<Array<{ at: Date }>>`select at from order_history where order_id = ${order.orderId} and type = 'PAYMENT_CONFIRMED'`;
    // Reported, not asserted (wall-clock figures are measured, never test conditions): commit → on screen.
    console.log(`inspector: PAYMENT_CONFIRMED on screen ${shownAt - committed!.at.getTime()} ms after its commit`);
    expect(await activeStates()).toEqual(expect.arrayContaining(['order.processing.fulfilment.submitting', 'order.processing.document.requested']));
    await row.locator('summary').click();
    expect(await row.locator('pre.raw').innerText()).toContain(`pi_${order.orderId}`);
    // The next transition refreshes the page: the payload opened stays open.
    await publishOrderEvent(t.nc, t.names, order.orderId, 'SHIPMENT_REJECTED', { code: 'OUT_OF_STOCK', message: 'SKU-1 not in stock' }, { actor: 'warehouse' });
    await page.locator('table.transitions tr[data-event="SHIPMENT_REJECTED"]').waitFor({ timeout: 90_000 });
    expect(await row.locator('details').evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);
    expect(await row.locator('pre.raw').innerText()).toContain(`pi_${order.orderId}`);
    expect(await page.locator('table.transitions tr[data-event="SHIPMENT_REJECTED"] details').evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
    await shot('inspector');
    await page.goto(`${gw.url}/admin/inspector`);
    expect(await page.locator(`table.transitions a[href="/admin/inspector?order=${order.orderId}"]`).count()).toBeGreaterThan(0);
  });

  it('refuses a console action without the CSRF token', async () => {
    const res = await page.request.post(`${gw.url}/admin/notifications/ack`, { form: { ids: '1', back: '/admin' }, maxRedirects: 0 });
    expect(res.status()).toBe(403);
  });
});
