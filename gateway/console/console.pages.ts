import { ORDER_STATUSES, orderMachine, type Address, type AdminEventType } from '../../machines/order/index.ts';
import type { PendingRetry } from '../../infra/db/pending-retries.ts';
import { formatMoney } from '../../services/contracts/index.ts';
import type { WarehouseLogEntry, WarehouseTimelineEntry } from '../../services/logistics/index.ts';
import type { StoredWebhook } from '../webhooks/webhook-inbox.ts';
import type { NotificationView } from '../../services/notifications/index.ts';
import type { OrderDetail, OrderHistoryEntry, OrderListItem } from './admin-api.client.ts';
import type { AttentionFacts, FailedDocument, HeldOrder } from '../../services/orders/index.ts';
import type { KsefAttention, KsefFileInfo } from '../../services/invoicing/index.ts';
import { age, html, raw, when, type Html } from './html.ts';
import { statechartView } from './statechart.view.ts';
import { ADMIN_ACTION_LABELS, adminEventForm, type FormState } from './admin-event.forms.ts';
import { BULK_ACTIONS, type BulkAction } from './bulk-actions.ts';

/** The console's pages, as pure functions of their data (the route fetches, these render). */

export interface PageFrame {
  title: string;
  admin: string;
  csrf: string;
  nav: 'attention' | 'orders' | 'machines' | 'notifications' | 'order' | 'dead-letters' | 'webhooks' | 'inspector';
  /** SSE URL the page listens to for live updates. */
  live: string | null;
  flash?: { kind: 'info' | 'error'; text: string } | null;
  openNotifications?: number;
}

export function layout(f: PageFrame, body: Html): Html {
  const link = (href: string, label: string, key: PageFrame['nav']) => html`<a href="${href}" class="${f.nav === key ? 'here' : ''}">${label}</a>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${f.title} · orderpilot admin</title><link rel="stylesheet" href="/admin/assets/console.css"></head>
<body data-live="${f.live ?? ''}">
<header class="top"><strong>orderpilot</strong>
${link('/admin', 'Needs attention', 'attention')}
${link('/admin/orders', 'Orders', 'orders')}
${link('/admin/notifications', `Notifications${f.openNotifications ? ` (${f.openNotifications})` : ''}`, 'notifications')}
${link('/admin/dead-letters', 'Dead letters', 'dead-letters')}
${link('/admin/webhooks', 'Webhooks', 'webhooks')}
${link('/admin/machines', 'Machines', 'machines')}
${link('/admin/inspector', 'Inspector', 'inspector')}
<span class="who"><span id="live-dot" class="live-dot" title="live updates"></span>${f.admin}
<form method="post" action="/admin/logout" class="inline"><input type="hidden" name="_csrf" value="${f.csrf}"><button class="secondary" type="submit">Sign out</button></form></span>
</header>
<div id="live-pending" class="flash info live-pending" role="status" hidden><span data-count>0 changes</span> since you started — nothing is replaced while you type; <button type="button" class="secondary">refresh now</button> (discards unsent input)</div>
<main id="live">${f.flash ? html`<div class="flash ${f.flash.kind}" role="status">${f.flash.text}</div>` : ''}${body}</main>
<script src="/admin/assets/console.js" defer></script>
</body></html>`;
}

export function loginPage(error: string | null, next: string): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · orderpilot admin</title><link rel="stylesheet" href="/admin/assets/console.css"></head>
<body><form class="login" method="post" action="/admin/login">
<h1>orderpilot admin</h1>
${error ? html`<div class="flash error" role="alert">${error}</div>` : ''}
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${next}">
<button type="submit">Sign in</button>
<p class="muted">Tokens are configured in <code>ADMIN_TOKENS</code> (name:token).</p>
</form></body></html>`;
}

export const badge = (s: string | null | undefined) => (s ? html`<span class="badge ${s}">${s}</span>` : '');
export const orderLink = (id: string, label: string) => html`<a href="/admin/orders/${encodeURIComponent(id)}">${label}</a>`;
export const csrfField = (csrf: string) => html`<input type="hidden" name="_csrf" value="${csrf}">`;
/** Money from minor units, exact for the currency's decimals (the console speaks English). */
export const money = (minor: number, currency: string) => (/^[A-Z]{3}$/.test(currency) ? formatMoney(minor, currency, 'en-GB') : `${minor} ${currency}`);

function warehouseLine(e: WarehouseTimelineEntry | undefined): Html {
  if (!e) return html`<span class="muted">—</span>`;
  return html`<span title="${e.occurredAt}">${e.kind}${e.status ? ` ${e.status}` : ''}${e.summary ? `: ${e.summary}` : ''}</span> <span class="muted">(${age(e.occurredAt)} ago)</span>`;
}

export function notificationsTable(list: readonly NotificationView[], csrf: string, opts: { ack: boolean; back: string }): Html {
  if (list.length === 0) return html`<p class="muted">No notifications.</p>`;
  return html`<form method="post" action="/admin/notifications/ack" data-key="ack">
${csrfField(csrf)}<input type="hidden" name="back" value="${opts.back}">
<table class="notifications"><thead><tr>${opts.ack ? html`<th></th>` : ''}<th>Severity</th><th>Kind / code</th><th>Order</th><th>Message</th><th>Raised</th><th>Delivery</th>${opts.ack ? '' : html`<th>Acknowledged</th>`}</tr></thead><tbody>
${list.map(
  (n) => html`<tr data-notification="${n.id}">
${opts.ack ? html`<td><input type="checkbox" name="ids" value="${n.id}" aria-label="select notification ${n.id}"></td>` : ''}
<td>${badge(n.severity)}</td><td>${n.kind}<br><span class="mono">${n.code}</span></td>
<td>${n.orderId ? orderLink(n.orderId, n.externalId ?? n.orderId) : '—'}</td>
<td>${n.message}${n.occurrences > 1 ? html` <span class="badge">×${n.occurrences}</span>` : ''}</td>
<td title="${n.createdAt}">${age(n.createdAt)} ago</td>
<td>${Object.entries(n.delivery).map(([ch, st]) => html`${ch}: ${badge(st)} `)}${Object.keys(n.delivery).length === 0 ? html`<span class="muted">stored only</span>` : ''}</td>
${opts.ack ? '' : html`<td>${n.acknowledgedBy ? `${n.acknowledgedBy}, ${when(n.acknowledgedAt)}` : '—'}</td>`}
</tr>`,
)}
</tbody></table>
${opts.ack ? html`<p><button type="submit" name="action" value="selected">Acknowledge selected</button> <button class="secondary" type="submit" name="action" value="all">Acknowledge all shown</button>${list.map((n) => html`<input type="hidden" name="shown" value="${n.id}">`)}</p>` : ''}
</form>`;
}

/** A hold or document failure in plain words (the code stays on hover, said once). */
const REASON_WORDS: Record<string, string> = {
  OUT_OF_STOCK: 'Not enough stock at the warehouse',
  ADDRESS_INVALID: 'The warehouse cannot deliver to the shipping address',
  SKU_UNKNOWN: 'An item is unknown to the warehouse',
  REJECTED: 'The warehouse declined the shipment',
  CANCEL_TOO_LATE: 'Cancelled after the parcel left: stop it with the carrier',
  INVOICE_BUYER_TAX_ID_INVALID: "The buyer's tax id (NIP) is not valid",
  INVOICE_BUYER_DATA_MISSING: 'Buyer data the invoice needs is missing',
  INVOICE_SELLER_DATA_MISSING: 'Seller data KSeF needs is missing (SELLER_* settings)',
  INVOICE_KSEF_FIELD_INVALID: 'A field breaks a KSeF rule',
  INVOICE_REJECTED: 'The invoicing system refused the document',
  RETRIES_EXHAUSTED: 'The service did not answer, retries exhausted',
  MAIL_REJECTED: "The customer's mail server refused the e-mail",
  MAIL_UNCERTAIN: 'The e-mail may not have arrived (the connection broke)',
  DOCUMENT_DUPLICATE: 'The invoicing system holds a second document',
};
export const reasonInWords = (code: string | null | undefined, fallback: string): string => (code ? (REASON_WORDS[code] ?? fallback) : fallback);

function addressBlock(a: Address): Html {
  return html`${a.name}<br>${a.line1}${a.line2 ? html`<br>${a.line2}` : ''}<br>${a.postalCode} ${a.city}<br>${a.country}${a.phone ? html`<br>☎ ${a.phone}` : ''}`;
}

/** A work-queue row's who / how much / what. */
function factsCell(id: string, externalId: string, f: AttentionFacts | undefined): Html {
  return html`<td>${orderLink(id, externalId)}${f ? html`<br>${f.customerName} · ${money(f.total, f.currency)}<br><span class="muted">${f.items}</span>` : ''}</td>`;
}

/** The actions the machine allows now, each a link to its labelled form on the order page. */
function actionsCell(id: string, f: AttentionFacts | undefined, only?: readonly AdminEventType[]): Html {
  const allowed = (f?.allowedEvents ?? []).filter((e) => !only || only.includes(e));
  return html`<td class="row-actions">${allowed.map((e) => html`<a class="action" href="/admin/orders/${encodeURIComponent(id)}#action-${e}" data-action-link="${e}">${ADMIN_ACTION_LABELS[e]}</a> `)}</td>`;
}

const shownOf = (shown: number, total: number, more: string) => (total > shown ? html` <span class="muted">(${shown} shown of ${total} — <a href="${more}">all</a>)</span>` : '');

export function attentionPage(d: {
  csrf: string;
  held: ReadonlyArray<HeldOrder & { lastWarehouse: WarehouseTimelineEntry | undefined }>;
  failedDocs: readonly FailedDocument[];
  /** KSeF rejected them, or they have waited for KSeF longer than KSEF_ATTENTION_MS. */
  ksefDocs: readonly KsefAttention[];
  deadLetters: ReadonlyArray<{ id: string; consumer: string; order_id: string | null; error_code: string; error_message: string; created_at: string }>;
  unmatched: ReadonlyArray<{ id: string; provider: string; externalRef: string | null; detail: string | null; receivedAt: string }>;
  totals: { held: number; documentFailed: number; deadLetters: number };
  facts: ReadonlyMap<string, AttentionFacts>;
  openNotifications: number;
  counts: Record<string, number>;
}): Html {
  const problems = d.totals.held + d.totals.documentFailed + d.ksefDocs.length + d.totals.deadLetters + d.unmatched.length;
  return html`<h1>Needs attention <span class="muted">(${problems})</span></h1>
<div class="cards">
${ORDER_STATUSES.map((s) => html`<div class="card" data-count-state="${s}"><a href="/admin/orders?state=${s}"><b>${d.counts[s] ?? 0}</b>${s}</a></div>`)}
<div class="card"><a href="/admin/notifications"><b>${d.openNotifications}</b>open notifications</a></div>
</div>
<p class="muted">One row per problem, oldest first; each says why in words and offers what may be done now. Notifications are a feed of their own (<a href="/admin/notifications">Notifications</a>).</p>
<h2>Held orders (${d.totals.held})${shownOf(d.held.length, d.totals.held, '/admin/orders?state=held&sort=oldest&limit=200')}</h2>
${
  d.held.length === 0
    ? html`<p class="muted">No held orders.</p>`
    : html`<form method="post" action="/admin/bulk/release" data-key="bulk">
${csrfField(d.csrf)}
<table class="held work"><thead><tr><th><input type="checkbox" aria-label="select all held" onclick="document.querySelectorAll('table.held input[name=ids]').forEach(c=>c.checked=this.checked)"></th><th>Order</th><th>Why</th><th>Held for</th><th>Last warehouse message</th><th>Do</th></tr></thead><tbody>
${d.held.map(
  (o) => html`<tr data-order="${o.id}" data-problem="held">
<td><input type="checkbox" name="ids" value="${o.id}" aria-label="select ${o.externalId}"></td>
${factsCell(o.id, o.externalId, d.facts.get(o.id))}
<td><span title="${o.hold?.code ?? 'HELD'}">${reasonInWords(o.hold?.code, o.hold?.code ?? 'Held')}</span>${o.hold?.message ? html`<br><span class="muted">${o.hold.message}</span>` : ''}${o.holdCount > 1 ? html` <span class="badge warning" title="times held">held ×${o.holdCount}</span>` : ''}</td>
<td title="${o.hold?.since ?? o.updatedAt}">${age(o.hold?.since ?? o.updatedAt)}</td>
<td>${warehouseLine(o.lastWarehouse)}</td>
${actionsCell(o.id, d.facts.get(o.id))}</tr>`,
)}
</tbody></table>
<div class="actions"><label>Note for the selected orders (required) <input type="text" name="note" size="50" required maxlength="2000"></label>
<button type="submit" data-bulk="release">Release selected…</button> <button type="submit" class="danger" formaction="/admin/bulk/cancel" data-bulk="cancel">Cancel selected…</button></div>
</form>`
}
<h2>Documents that failed (${d.totals.documentFailed})${shownOf(d.failedDocs.length, d.totals.documentFailed, '/admin/orders?limit=200')}</h2>
${
  d.failedDocs.length === 0
    ? html`<p class="muted">No failed documents.</p>`
    : html`<table class="failed-docs work"><thead><tr><th>Order</th><th>Why</th><th>Order state</th><th>Requests</th><th>Do</th></tr></thead><tbody>
${d.failedDocs.map(
  (o) => html`<tr data-order="${o.id}" data-problem="document"><td>${orderLink(o.id, o.externalId)}${d.facts.get(o.id) ? html`<br>${d.facts.get(o.id)!.customerName} · ${money(d.facts.get(o.id)!.total, d.facts.get(o.id)!.currency)}` : ''}</td>
<td><span title="${o.failure?.code ?? ''}">${reasonInWords(o.failure?.code, o.failure?.code ?? 'Failed')}</span>${o.failure?.message ? html`<br><span class="muted">${o.failure.message}</span>` : ''}</td>
<td>${badge(o.state)}</td><td>${o.documentRequests}</td>${actionsCell(o.id, d.facts.get(o.id), ['RETRY_DOCUMENT', 'ISSUE_DOCUMENT', 'UPDATE_BUYER', 'ATTACH_DOCUMENT', 'RESEND_DOCUMENT_EMAIL'])}</tr>`,
)}
</tbody></table>`
}
<h2>KSeF: rejected or waiting too long (${d.ksefDocs.length})</h2>
${
  d.ksefDocs.length === 0
    ? html`<p class="muted">No document needs attention in KSeF.</p>`
    : html`<table class="ksef-docs work"><thead><tr><th>Document</th><th>Why</th><th>Sent</th><th>Polls</th><th>Do</th></tr></thead><tbody>
${d.ksefDocs.map(
  (k) => html`<tr data-order="${k.orderId}" data-problem="ksef"><td>${orderLink(k.orderId, k.number)}</td><td>${
    k.state === 'rejected' ? html`<span title="${k.code ?? 'KSEF_REJECTED'}">KSeF rejected the document</span><br><span class="muted">${k.errors.slice(0, 3).join('; ')}</span>` : html`No KSeF number yet (${k.state})${k.errors.length ? html`<br><span class="muted">${k.errors.slice(0, 2).join('; ')}</span>` : ''}`
  }</td><td title="${k.sentAt}">${age(k.sentAt)}</td><td>${k.polls}</td>${actionsCell(k.orderId, d.facts.get(k.orderId), ['RESEND_TO_KSEF', 'UPDATE_BUYER'])}</tr>`,
)}
</tbody></table>`
}
<h2>Messages a service gave up on (${d.totals.deadLetters})${shownOf(d.deadLetters.length, d.totals.deadLetters, '/admin/dead-letters')}</h2>
${
  d.deadLetters.length === 0
    ? html`<p class="muted">No dead letters.</p>`
    : html`<table class="dead-letters work"><thead><tr><th>When</th><th>Why</th><th>Order</th><th>Do</th></tr></thead><tbody>
${d.deadLetters.map(
  (r) => html`<tr data-dead-letter="${r.id}" data-problem="dead-letter"><td title="${r.created_at}">${age(r.created_at)} ago</td><td><span title="${r.error_code}">${r.error_message}</span></td><td>${r.order_id ? orderLink(r.order_id, r.order_id) : '—'}</td><td><a class="action" href="/admin/dead-letters?status=open">Fix, then replay</a></td></tr>`,
)}
</tbody></table>`
}
<h2>Webhooks for no known order (${d.unmatched.length}${d.unmatched.length >= 50 ? '+' : ''})${d.unmatched.length >= 50 ? html` <a href="/admin/webhooks?verdict=unmatched">all</a>` : ''}</h2>
${
  d.unmatched.length === 0
    ? html`<p class="muted">Every webhook found its order.</p>`
    : html`<table class="unmatched work"><thead><tr><th>When</th><th>From</th><th>Why</th><th>Do</th></tr></thead><tbody>
${d.unmatched.map(
  (w) => html`<tr data-webhook="${w.id}" data-problem="unmatched"><td title="${w.receivedAt}">${age(w.receivedAt)} ago</td><td>${w.provider}</td><td>${w.detail ?? `no order "${w.externalRef ?? ''}"`}</td><td><a class="action" href="/admin/webhooks?verdict=unmatched">Replay once the order exists</a></td></tr>`,
)}
</tbody></table>`
}`;
}

export function bulkConfirmPage(csrf: string, orders: ReadonlyArray<{ id: string; externalId: string; state: string; reason: string }>, note: string, action: BulkAction = 'release'): Html {
  const a = BULK_ACTIONS[action];
  return html`<h1>${a.verb} ${orders.length} orders?</h1>
<p>Each order below gets a ${a.type} with the note <q>${note}</q> and ${a.what}.</p>
<table class="confirm"><thead><tr><th>Order</th><th>State</th><th>Reason</th></tr></thead><tbody>
${orders.map((o) => html`<tr data-order="${o.id}"><td>${o.externalId}</td><td>${badge(o.state)}</td><td>${o.reason}</td></tr>`)}
</tbody></table>
<form method="post" action="/admin/bulk/${action}" class="actions" data-key="bulk-confirm">
${csrfField(csrf)}<input type="hidden" name="note" value="${note}"><input type="hidden" name="confirmed" value="1">
<input type="hidden" name="nonce" value="${crypto.randomUUID()}">
${orders.map((o) => html`<input type="hidden" name="ids" value="${o.id}">`)}
<button type="submit"${action === 'cancel' ? html` class="danger"` : ''}>Confirm: ${a.verb.toLowerCase()} ${orders.length} orders</button> <a href="/admin">Back</a>
</form>`;
}

export function bulkResultPage(results: ReadonlyArray<{ id: string; externalId: string; ok: boolean; message: string }>, action: BulkAction = 'release'): Html {
  const ok = results.filter((r) => r.ok).length;
  return html`<h1>${BULK_ACTIONS[action].done} ${ok} of ${results.length}</h1>
<table class="bulk-result"><thead><tr><th>Order</th><th>Result</th></tr></thead><tbody>
${results.map((r) => html`<tr data-order="${r.id}"><td>${orderLink(r.id, r.externalId)}</td><td>${r.ok ? badge('sent') : html`<span class="badge failed">${r.message}</span>`}</td></tr>`)}
</tbody></table><p><a href="/admin">Back to needs attention</a></p>`;
}

/** The orders list's filter as the page reads it (dates as the operator picked them, local to `tz`). */
export interface OrdersFilter {
  q: string;
  state: string;
  from: string;
  to: string;
  sort: string;
  limit: string;
  /** The browser's offset from UTC in minutes (`Date#getTimezoneOffset`), so dates are the operator's days. */
  tz: string;
}

export const PAGE_SIZES = ['25', '50', '100', '200'] as const;

/** A time the browser shows in the operator's own time zone (the console script localises `<time>`). */
export const localTime = (iso: string | null | undefined): Html => (iso ? html`<time datetime="${iso}">${when(iso)}</time>` : html`—`);

export function ordersPage(d: { items: readonly OrderListItem[]; filter: OrdersFilter; next: string | null; csv: string }): Html {
  const f = d.filter;
  const sorts: Array<[string, string]> = [['newest', 'newest first'], ['oldest', 'oldest first'], ['updated', 'recently changed']];
  return html`<h1>Orders</h1>
<form method="get" action="/admin/orders" class="actions" data-key="filter">
<input type="search" name="q" value="${f.q}" size="40" placeholder="name, e-mail, external id, order id, document or tracking no." aria-label="search">
<select name="state" aria-label="state"><option value="">any state</option>${ORDER_STATUSES.map((s) => html`<option value="${s}" ${s === f.state ? raw('selected') : ''}>${s}</option>`)}</select>
<label>from <input type="date" name="from" value="${f.from}"></label><label>to <input type="date" name="to" value="${f.to}"></label>
<select name="sort" aria-label="sort">${sorts.map(([v, label]) => html`<option value="${v}" ${v === f.sort ? raw('selected') : ''}>${label}</option>`)}</select>
<select name="limit" aria-label="page size">${PAGE_SIZES.map((n) => html`<option value="${n}" ${n === f.limit ? raw('selected') : ''}>${n} a page</option>`)}</select>
<input type="hidden" name="tz" value="${f.tz}" data-tz>
<button type="submit">Filter</button> <a href="/admin/orders">Clear</a> · <a href="${d.csv}" data-csv download>CSV of this filter</a>
</form>
${
  d.items.length === 0
    ? html`<p class="muted">No orders match.</p>`
    : html`<table class="orders"><thead><tr><th>Order</th><th>Customer</th><th>State</th><th>Document</th><th>Tracking</th><th>Total</th><th>Placed</th><th>Updated</th></tr></thead><tbody>
${d.items.map(
  (o) => html`<tr data-order="${o.id}"><td>${orderLink(o.id, o.externalId)}</td>
<td>${o.customerName ?? ''}<br><span class="muted">${o.customerEmail}</span></td>
<td>${badge(o.state)}${o.holdCode ? html` <span class="mono">${o.holdCode}</span>` : ''}</td><td>${badge(o.documentState)}${o.documentNumber ? html`<br><span class="mono">${o.documentNumber}</span>` : ''}</td>
<td class="mono">${o.trackingNumber ?? ''}</td><td>${money(o.total, o.currency)}</td><td>${localTime(o.createdAt)}</td><td title="${o.updatedAt}">${age(o.updatedAt)} ago</td></tr>`,
)}
</tbody></table>`
}
${d.next ? html`<p><a href="${d.next}">More →</a></p>` : ''}`;
}

export interface TimelineItem {
  at: string;
  source: 'order' | 'warehouse' | 'shop' | 'webhook' | 'notification';
  title: string;
  detail?: string | null;
  raw?: string | null;
}

export function historyTitle(h: OrderHistoryEntry): string {
  const move = h.from && h.to && h.from !== h.to ? ` ${h.from} → ${h.to}` : h.to && !h.from ? ` → ${h.to}` : '';
  return `${h.type}${move}${h.outcome === 'ignored' ? ' (ignored: not allowed in this state)' : ''}${h.actor ? ` · by ${h.actor}` : ''}`;
}

export function orderPage(d: {
  order: OrderDetail;
  csrf: string;
  timeline: readonly TimelineItem[];
  view: 'matters' | 'all';
  notifications: readonly NotificationView[];
  pdfUrl: string | null;
  /** The KSeF XML and UPO kept for the document, with their download URLs. */
  ksefFiles: ReadonlyArray<KsefFileInfo & { url: string }>;
  /** A form the admin API refused: its values and errors, shown in that form. */
  formState?: FormState | null;
  /** When an unpaid order is cancelled by the payment timeout (null once paid or ended). */
  paymentDeadline?: string | null;
  /** Retries under way for this order's messages (attempt n of N, next try at). */
  retries?: readonly PendingRetry[];
  /** Shop updates the shops service gave up for this order (a replay form is shown when there are any). */
  shopGivenUp?: number;
  /** The KSeF XML and UPO kept for the order's corrections, by the correction's provider id. */
  correctionFiles?: ReadonlyArray<KsefFileInfo & { providerId: string; url: string }>;
}): Html {
  const o = d.order;
  const c = o.context;
  const base = `/admin/orders/${encodeURIComponent(o.id)}`;
  return html`<h1>Order ${o.externalId} ${badge(o.state)} <span class="muted">document</span> ${badge(o.documentState)}</h1>
<div class="grid">
<section>
<dl class="facts">
<dt>Order id</dt><dd class="mono">${o.id}</dd>
<dt>Customer</dt><dd>${c.order.customer.name} &lt;${c.order.customer.email}&gt;${c.order.customer.company ? ` · ${c.order.customer.company}` : ''}${c.order.customer.taxId ? ` · NIP ${c.order.customer.taxId}` : ''}</dd>
<dt>Total</dt><dd>${money(c.order.total, c.order.currency)}</dd>
<dt>Placed</dt><dd>${localTime(c.order.placedAt)}</dd>
<dt>Payment</dt><dd class="payment">${
    c.payment
      ? html`${money(c.payment.amount, c.payment.currency)} by ${c.payment.provider}${c.payment.method ? ` (${c.payment.method})` : ''} · <span class="mono">${c.payment.paymentId}</span> · ${localTime(c.payment.confirmedAt)}`
      : html`not confirmed${d.paymentDeadline ? html` — <span class="deadline">cancelled automatically at ${localTime(d.paymentDeadline)} if still unpaid</span>` : ''}${c.paymentFailures ? html` <span class="muted">(${c.paymentFailures} failed attempt(s))</span>` : ''}`
  }</dd>
${o.hold ? html`<dt>Held</dt><dd class="hold"><span class="mono">${o.hold.code}</span> ${o.hold.message} <span class="muted">(${age(o.hold.since)})</span></dd>` : ''}
<dt>Document</dt><dd class="document">${
    o.document
      ? html`${o.document.number}, issued ${o.document.issueDate} (${o.document.provider})${d.pdfUrl ? html` · <a href="${d.pdfUrl}">PDF</a>` : ''}${o.documentEmailedAt ? html` · e-mailed ${when(o.documentEmailedAt)}` : ''}`
      : html`<span class="muted">none yet</span>`
  }</dd>
${c.ksef ? html`<dt>KSeF</dt><dd class="ksef">${ksefFacts(c.ksef, d.ksefFiles)}</dd>` : ''}
${o.documentFailure ? html`<dt>Document failure</dt><dd><span class="mono">${o.documentFailure.code}</span> ${o.documentFailure.message}</dd>` : ''}
<dt>Tracking</dt><dd class="tracking">${o.tracking.trackingNumber ? `${o.tracking.trackingNumber}${o.tracking.carrier ? ` (${o.tracking.carrier})` : ''}` : '—'}${o.tracking.shipmentId ? html` <span class="muted">shipment ${o.tracking.shipmentId}</span>` : ''}</dd>
${o.cancellation ? html`<dt>Cancelled</dt><dd>${o.cancellation.reason}${o.cancellation.by ? ` by ${o.cancellation.by}` : ''}${o.cancellation.note ? `: ${o.cancellation.note}` : ''}</dd>` : ''}
${c.pendingShippingAddress ? html`<dt>Address change</dt><dd class="address-pending">asked of the warehouse: ${c.pendingShippingAddress.line1}, ${c.pendingShippingAddress.postalCode} ${c.pendingShippingAddress.city} <span class="muted">(the shipment keeps the old address until the warehouse confirms)</span></dd>` : ''}
${c.shipmentCancel ? html`<dt>Warehouse cancel</dt><dd class="shipment-cancel">${badge(c.shipmentCancel.status)}${c.shipmentCancel.message ? ` ${c.shipmentCancel.message}` : ''}</dd>` : ''}
${(c.refunds ?? []).length ? html`<dt>Refunds</dt><dd class="refunds"><ul>${(c.refunds ?? []).map((r) => html`<li data-refund="${r.refundId}">${money(r.amount, c.order.currency)} ${badge(r.status)} <span class="muted">${r.reason}${r.providerRefundId ? ` · ${r.providerRefundId}` : ''}${r.error ? ` · ${r.error}` : ''}</span></li>`)}</ul></dd>` : ''}
${(c.corrections ?? []).length ? html`<dt>Corrections</dt><dd class="corrections"><ul>${(c.corrections ?? []).map((k) => html`<li data-correction="${k.correctionId}">${k.document ? k.document.number : html`<span class="muted">(being issued)</span>`} −${money(k.amount, c.order.currency)}${k.full ? ' (full)' : ''} ${badge(k.status)}${k.ksefNumber ? html` <span class="mono">KSeF ${k.ksefNumber}</span>` : ''}${(d.correctionFiles ?? []).filter((f) => k.document && f.providerId === k.document.providerId).map((f) => html` · <a class="ksef-file" data-correction-file="${f.kind}" href="${f.url}">${KSEF_FILE_LABEL[f.kind]}</a>`)} <span class="muted">${k.reason}${k.error ? ` · ${k.error}` : ''}</span></li>`)}</ul></dd>` : ''}
${o.lastAdminNote ? html`<dt>Last admin note</dt><dd>${o.lastAdminNote.note} <span class="muted">— ${o.lastAdminNote.by ?? 'admin'}, ${when(o.lastAdminNote.at)}</span></dd>` : ''}
</dl>
<h2>Items</h2>
<table class="items"><thead><tr><th>SKU</th><th>Item</th><th>Qty</th><th>Unit price</th><th>VAT</th><th>Line total</th></tr></thead><tbody>
${c.order.lines.map((l) => html`<tr><td class="mono">${l.sku}</td><td>${l.name}</td><td>${l.quantity}</td><td>${money(l.unitPrice, c.order.currency)}</td><td>${l.taxRate}%</td><td>${money(l.unitPrice * l.quantity, c.order.currency)}</td></tr>`)}
<tr><td></td><td>Shipping</td><td></td><td></td><td></td><td>${money(c.order.shippingPrice, c.order.currency)}</td></tr>
<tr class="sum"><td></td><td><b>Total</b></td><td></td><td></td><td></td><td><b>${money(c.order.total, c.order.currency)}</b></td></tr>
</tbody></table>
<div class="addresses">
<div class="address shipping"><h3>Ship to</h3>${addressBlock(c.order.shippingAddress)}</div>
<div class="address billing"><h3>Bill to</h3>${c.order.customer.company ? html`${c.order.customer.company}<br>` : ''}${addressBlock(c.order.billingAddress)}${c.order.customer.taxId ? html`<br>NIP ${c.order.customer.taxId}` : ''}</div>
</div>
${
  (d.retries ?? []).length
    ? html`<h2>Retries under way</h2><table class="retries"><thead><tr><th>What</th><th>Attempt</th><th>Next try</th><th>Last error</th></tr></thead><tbody>
${(d.retries ?? []).map((r) => html`<tr data-retry="${r.type ?? r.subject}"><td class="mono">${r.type ?? r.subject}</td><td>${r.attempt} of ${r.maxAttempts}</td><td>${localTime(r.nextAt)}</td><td>${r.lastError}</td></tr>`)}
</tbody></table>`
    : ''
}
${
  (d.shopGivenUp ?? 0) > 0
    ? html`<h2>Shop</h2><form method="post" action="/admin/orders/${o.id}/shop-replay" class="shop-replay">${csrfField(d.csrf)}<p>${String(d.shopGivenUp)} update(s) to the shop were given up. Once the shop answers again: <button type="submit">Replay to the shop</button></p><p class="muted">Calls already made are not made again; an update older than what the shop has adds its notes only.</p></form>`
    : ''
}
<h2>Actions</h2>
<div class="actions">${o.allowedEvents.length === 0 ? html`<p class="muted">The machine allows no admin action in this state.</p>` : o.allowedEvents.map((t) => adminEventForm(o.id, c, t, d.csrf, d.formState ?? null))}</div>
${d.notifications.length ? html`<h2>Open notifications</h2>${notificationsTable(d.notifications, d.csrf, { ack: true, back: base })}` : ''}
<h2>Timeline <span class="toggle"><a href="${base}?timeline=matters" class="${d.view === 'matters' ? 'on' : ''}">What matters</a> <a href="${base}?timeline=all" class="${d.view === 'all' ? 'on' : ''}">Everything</a></span></h2>
<ol class="timeline" data-view="${d.view}">
${d.timeline.map(
  (t) => html`<li data-source="${t.source}"><span class="muted">${localTime(t.at)}</span> <span class="badge">${t.source}</span> ${t.title}${t.detail ? html` <span class="muted">— ${t.detail}</span>` : ''}${t.raw ? html`<div class="raw mono">${t.raw}</div>` : ''}</li>`,
)}
</ol>
</section>
<section>
<h2>Statechart <span class="muted">(current state highlighted)</span></h2>
<input type="checkbox" id="show-fx" class="show-fx"><label for="show-fx" class="muted"> show the machine's internal actions</label>
${statechartView(orderMachine, { value: o.value })}
</section>
</div>`;
}

const KSEF_FILE_LABEL: Record<KsefFileInfo['kind'], string> = { gov: 'KSeF XML', gov_upo: 'UPO' };

/** The document's KSeF stage: status, number with the verification link, why not (yet), the kept files. */
function ksefFacts(k: NonNullable<OrderDetail['context']['ksef']>, files: ReadonlyArray<KsefFileInfo & { url: string }>): Html {
  const status = k.status === 'sent' ? 'waiting' : k.status;
  return html`${badge(status)} ${
    k.number ? html`<span class="mono ksef-number">${k.number}</span>${k.verificationLink && /^https:\/\//.test(k.verificationLink) ? html` · <a class="ksef-verify" href="${k.verificationLink}" rel="noopener noreferrer" target="_blank">verify in KSeF</a>` : ''}` : html`<span class="muted">no KSeF number yet</span>`
  }${k.code ? html` · <span class="mono">${k.code}</span>` : ''}${k.errors.length ? html` <span class="muted">— ${k.errors.slice(0, 3).join('; ')}</span>` : ''}${
    k.sends > 1 ? html` <span class="muted">(sent ${k.sends}×)</span>` : ''
  }${files.map((f) => html` · <a class="ksef-file" data-kind="${f.kind}" href="${f.url}">${KSEF_FILE_LABEL[f.kind]}</a>`)}`;
}

/** A connected shop as the machines page shows it (health from its shop log). */
export interface ShopHealthView {
  name: string;
  kind: string;
  host: string;
  health?: 'ok' | 'failing' | 'idle';
  lastOkAt?: string | null;
  lastFailureAt?: string | null;
  lastFailure?: string | null;
  failuresLastHour?: number;
  givenUpLastDay?: number;
  waiting?: number;
  waitingSince?: string | null;
}

export function machinesPage(machines: ReadonlyArray<{ title: string; view: Html }>, shops: readonly ShopHealthView[] = []): Html {
  return html`<h1>Machines</h1><p class="muted">Drawn from the machine definitions; the numbers are orders in each state now (live).</p>
${machines.map((m) => html`<h2>${m.title}</h2>${m.view}`)}${
    shops.length === 0
      ? ''
      : html`<h2>Shops</h2><table class="shops"><thead><tr><th>shop</th><th>kind</th><th>host</th><th>health</th><th>waiting</th><th>last call through</th><th>last failure</th><th>failures (1 h)</th><th>given up (24 h)</th></tr></thead><tbody>${shops.map(
          (s) =>
            html`<tr data-shop="${s.name}"><td>${s.name}</td><td>${s.kind}</td><td class="mono">${s.host}</td><td>${badge(s.health ?? 'idle')}</td><td>${s.waiting ? html`${String(s.waiting)} waiting${s.waitingSince ? html` <span class="muted">failing since ${localTime(s.waitingSince)}</span>` : ''}` : '—'}</td><td>${s.lastOkAt ? localTime(s.lastOkAt) : '—'}</td><td>${s.lastFailureAt ? html`${localTime(s.lastFailureAt)} <span class="muted">${s.lastFailure ?? ''}</span>` : '—'}</td><td>${String(s.failuresLastHour ?? 0)}</td><td>${String(s.givenUpLastDay ?? 0)}</td></tr>`,
        )}</tbody></table>`
  }`;
}

export function notificationsPage(d: { list: readonly NotificationView[]; status: 'open' | 'acknowledged' | 'all'; csrf: string }): Html {
  const tab = (s: typeof d.status, label: string) => html`<a href="/admin/notifications?status=${s}" class="${d.status === s ? 'on' : ''}">${label}</a>`;
  return html`<h1>Notifications</h1><p class="toggle">${tab('open', 'Open')} ${tab('acknowledged', 'Acknowledged')} ${tab('all', 'All')}</p>
${notificationsTable(d.list, d.csrf, { ack: d.status === 'open', back: '/admin/notifications' })}`;
}

export function errorPage(message: string): Html {
  return html`<h1>Something is not right</h1><div class="flash error" role="alert">${message}</div><p><a href="/admin">Back</a></p>`;
}

export type { WarehouseLogEntry, StoredWebhook };
