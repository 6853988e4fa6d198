import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ADMIN_EVENT_TYPES, type AdminEventType } from '../../machines/order/index.ts';
import { MACHINES } from '../../machines/machine-graph.ts';
import { isOrderpilotError } from '../../services/contracts/index.ts';
import { invoicingProviderFromConfig } from '../../services/invoicing/index.ts';
import { warehouseLog, warehouseTimeline } from '../../services/logistics/index.ts';
import { acknowledgeNotifications, countOpenNotifications, listNotifications } from '../../services/notifications/index.ts';
import { countsPerState, countsPerStateNode, failedDocuments, heldOrders } from '../../services/orders/index.ts';
import { matchAdminToken } from '../admin-auth.ts';
import type { GatewayRoute } from '../gateway.types.ts';
import { createAdminApiClient, type AdminEventInput, type AdminApiClient, type OrderListItem } from './admin-api.client.ts';
import { CONSOLE_CSS, CONSOLE_JS } from './console.assets.ts';
import {
  attentionPage,
  bulkConfirmPage,
  bulkResultPage,
  errorPage,
  historyTitle,
  layout,
  loginPage,
  machinesPage,
  notificationsPage,
  orderPage,
  ordersPage,
  type PageFrame,
  type TimelineItem,
} from './console.pages.ts';
import { type Html } from './html.ts';
import { createLiveStreams } from './live.ts';
import { statechartView } from './statechart.view.ts';

const COOKIE = 'orderpilot_admin';

declare module 'fastify' {
  interface FastifyRequest {
    /** Console session: the signed-in admin's name and token (set by the console's auth hook). */
    consoleSession?: { name: string; token: string; csrf: string };
  }
}

/** CSRF token bound to the admin's token: a cross-site page can neither read nor compute it. */
function csrfFor(token: string): string {
  return createHmac('sha256', token).update('orderpilot-console-csrf-v1').digest('base64url');
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

type Form = Record<string, string | string[] | undefined>;
const one = (v: string | string[] | undefined): string => (Array.isArray(v) ? (v[0] ?? '') : (v ?? '')).trim();
const many = (v: string | string[] | undefined): string[] => (Array.isArray(v) ? v : v === undefined || v === '' ? [] : [v]);
/** Only local console paths are followed after sign-in / actions (no open redirect). */
const localPath = (p: string, fallback = '/admin') => (/^\/admin(\/[\w\-./?=&%~]*)?$/.test(p) && !p.startsWith('//') ? p : fallback);

/**
 * The admin console at /admin: server-rendered pages over the admin API, signed in with an admin
 * token kept in an HttpOnly, SameSite=Strict cookie; every action is a POST carrying a CSRF token.
 * Live updates come over SSE from NATS `orderChanged` hints.
 */
export const consoleRoute: GatewayRoute = async (app, ctx) => {
  const { sql, nc, names, config } = ctx.deps;
  await app.register(cookie);
  await app.register(formbody);
  const live = createLiveStreams(nc, names.subjects.liveListening);
  // The document PDF comes from the invoicing system through its port (the API token never reaches the browser).
  const invoicing =
config.fakturowniaUrl && config.fakturowniaApiToken ? invoicingProviderFromConfig(config) : null;
  app.addHook('preClose', async () => live.closeAll());

  app.get('/admin/assets/console.css', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=300').send(CONSOLE_CSS),
  );
  app.get('/admin/assets/console.js', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=300').send(CONSOLE_JS),
  );

  const secureCookie = (request: FastifyRequest) => request.protocol === 'https';

  app.get('/admin/login', { schema: { hide: true } }, async (request, reply) => {
    const next = localPath(one((request.query as Form)['next']));
    return reply.type('text/html; charset=utf-8').send(loginPage(null, next).value);
  });

  app.post('/admin/login', { schema: { hide: true } }, async (request, reply) => {
    const body = (request.body ?? {}) as Form;
    const token = one(body['token']);
    const next = localPath(one(body['next']));
    const name = token ? matchAdminToken(config.adminTokens, token) : null;
    if (name === null) {
      request.log.warn({ ip: request.ip }, 'console sign-in refused');
      return reply.code(401).type('text/html; charset=utf-8').send(loginPage('That token is not an admin token.', next).value);
    }
    request.log.info({ admin: name }, 'console sign-in');
    reply.setCookie(COOKIE, token, { path: '/admin', httpOnly: true, sameSite: 'strict', secure: secureCookie(request), maxAge: 12 * 3600 });
    return reply.redirect(next, 303);
  });

  // Everything below needs a session.
  await app.register(async (authed) => {
    authed.addHook('onRequest', async (request, reply) => {
      const token = request.cookies[COOKIE];
      const name = token ? matchAdminToken(config.adminTokens, token) : null;
      if (!token || name === null) {
        if (request.method === 'GET' && request.headers['x-console-partial'] === undefined) {
          return reply.redirect(`/admin/login?next=${encodeURIComponent(request.url)}`, 303);
        }
        return reply.code(401).type('text/html; charset=utf-8').send(loginPage('Your session has ended; sign in again.', '/admin').value);
      }
      request.consoleSession = { name, token, csrf: csrfFor(token) };
      request.adminName = name;
    });
    authed.addHook('preHandler', async (request, reply) => {
      if (request.method !== 'POST') return;
      const s = request.consoleSession;
      const sent = one(((request.body ?? {}) as Form)['_csrf']);
      // SameSite=Strict already keeps the cookie off cross-site requests; the token is the second lock.
      const origin = request.headers.origin;
      const host = request.headers.host;
      const originOk = origin === undefined || origin === 'null' ? origin === undefined : host !== undefined && new URL(origin).host === host;
      if (!s || !sent || !sameString(sent, s.csrf) || !originOk) {
        request.log.warn({ admin: s?.name, url: request.url }, 'console action refused: CSRF check failed');
        return reply.code(403).type('text/html; charset=utf-8').send(errorPageFor(request, 'This form has expired or did not come from the console. Reload the page and try again.'));
      }
    });

    function frame(request: FastifyRequest, f: Omit<PageFrame, 'admin' | 'csrf'>): PageFrame {
      const s = request.consoleSession as NonNullable<FastifyRequest['consoleSession']>;
      const q = request.query as Form;
      const flash = one(q['ok']) ? { kind: 'info' as const, text: one(q['ok']) } : one(q['error']) ? { kind: 'error' as const, text: one(q['error']) } : null;
      return { ...f, admin: s.name, csrf: s.csrf, flash: f.flash ?? flash };
    }
    function errorPageFor(request: FastifyRequest, message: string): string {
      const s = request.consoleSession;
      if (!s) return errorPage(message).value;
      return layout({ title: 'Error', admin: s.name, csrf: s.csrf, nav: 'attention', live: null }, errorPage(message)).value;
    }
    /** Full page, or only the `#live` part when the console script refreshes after a change. */
    function send(request: FastifyRequest, reply: FastifyReply, f: PageFrame, body: Html) {
      reply.header('cache-control', 'no-store').type('text/html; charset=utf-8');
      if (request.headers['x-console-partial'] !== undefined) {
        const full = layout(f, body).value;
        const start = full.indexOf('<main id="live">') + '<main id="live">'.length;
        return reply.send(full.slice(start, full.lastIndexOf('</main>')));
      }
      return reply.send(layout(f, body).value);
    }
    const api = (request: FastifyRequest): AdminApiClient => createAdminApiClient(app, (request.consoleSession as { token: string }).token);

    authed.post('/admin/logout', { schema: { hide: true } }, async (request, reply) => {
      reply.clearCookie(COOKIE, { path: '/admin' });
      request.log.info({ admin: request.consoleSession?.name }, 'console sign-out');
      return reply.redirect('/admin/login', 303);
    });

    authed.get('/admin', { schema: { hide: true } }, async (request, reply) => {
      const [held, failedDocs, notifications, counts, open] = await Promise.all([
        heldOrders(sql),
        failedDocuments(sql),
        listNotifications(sql, { status: 'open', limit: 200 }),
        countsPerState(sql),
        countOpenNotifications(sql),
      ]);
      const withWarehouse = await Promise.all(
        held.map(async (o) => ({ ...o, lastWarehouse: (await warehouseTimeline(sql, o.id, { limit: 500 }).catch(() => [])).at(-1) })),
      );
      const openCount = Object.values(open).reduce((a, b) => a + b, 0);
      return send(request, reply, frame(request, { title: 'Needs attention', nav: 'attention', live: '/admin/live', openNotifications: openCount }), attentionPage({ csrf: request.consoleSession?.csrf ?? '', held: withWarehouse, failedDocs, notifications, counts }));
    });

    authed.get('/admin/orders', { schema: { hide: true } }, async (request, reply) => {
      const q = request.query as Form;
      const filter = { q: one(q['q']), state: one(q['state']), from: one(q['from']), to: one(q['to']) };
      const valid = (d: string) => d === '' || /^\d{4}-\d{2}-\d{2}$/.test(d);
      if (!valid(filter.from) || !valid(filter.to)) {
        return send(request, reply, frame(request, { title: 'Orders', nav: 'orders', live: null, flash: { kind: 'error', text: 'Dates must be YYYY-MM-DD.' } }), ordersPage({ items: [], filter, next: null }));
      }
      const from = filter.from ? Date.parse(`${filter.from}T00:00:00Z`) : null;
      const to = filter.to ? Date.parse(`${filter.to}T00:00:00Z`) + 86_400_000 : null;
      // The admin API pages newest first by (created, id); a date range is a window over those pages.
      const items: OrderListItem[] = [];
      let cursor: string | undefined = one(q['cursor']) || undefined;
      let next: string | null = null;
      for (let page = 0; page < 20 && items.length < 100; page++) {
        const res = await api(request).listOrders({ state: filter.state || undefined, q: filter.q || undefined, limit: 200, cursor });
        if (!res.ok) {
          return send(request, reply, frame(request, { title: 'Orders', nav: 'orders', live: null, flash: { kind: 'error', text: res.error.message } }), ordersPage({ items: [], filter, next: null }));
        }
        let older = false;
        for (const o of res.value.items) {
          const at = Date.parse(o.createdAt);
          if (to !== null && at >= to) continue;
          if (from !== null && at < from) {
            older = true;
            break;
          }
          items.push(o);
        }
        cursor = res.value.nextCursor ?? undefined;
        if (older || !cursor) break;
      }
      if (cursor && items.length >= 100) {
        const p = new URLSearchParams({ ...filter, cursor });
        next = `/admin/orders?${p.toString()}`;
      }
      return send(request, reply, frame(request, { title: 'Orders', nav: 'orders', live: '/admin/live' }), ordersPage({ items, filter, next }));
    });

    authed.get('/admin/orders/:id', { schema: { hide: true } }, async (request, reply) => {
      const { id } = request.params as { id: string };
      const view = one((request.query as Form)['timeline']) === 'all' ? 'all' : 'matters';
      const res = await api(request).getOrder(id);
      if (!res.ok) {
        return reply.code(res.error.status).type('text/html; charset=utf-8').send(errorPageFor(request, res.error.message));
      }
      const order = res.value;
      const [notifications, wh, webhooks] = await Promise.all([
        listNotifications(sql, { status: 'open', orderId: order.id }),
        view === 'all' ? warehouseLog(sql, order.id).catch(() => []) : warehouseTimeline(sql, order.id).catch(() => []),
        view === 'all' ? ctx.inbox.list({ orderId: order.id, limit: 200 }).catch(() => []) : Promise.resolve([]),
      ]);
      const timeline: TimelineItem[] = [];
      for (const h of order.history) {
        if (view === 'matters' && h.outcome === 'ignored') continue;
        timeline.push({
          at: h.occurredAt,
          source: 'order',
          title: historyTitle(h),
          detail: h.note ?? summarizePayload(h.type, h.payload),
          raw: view === 'all' ? JSON.stringify(h.payload) : null,
        });
      }
      for (const w of wh) {
        timeline.push({
          at: w.occurredAt,
          source: 'warehouse',
          title: `${w.direction === 'in' ? '← ' : w.direction === 'out' ? '→ ' : ''}${w.kind}${w.status ? ` ${w.status}` : ''}${w.orderEvent ? ` ⇒ ${w.orderEvent}` : ''}`,
          detail: [w.errorCode, w.summary].filter(Boolean).join(': ') || null,
          raw: 'raw' in w && typeof w.raw === 'string' ? w.raw : null,
        });
      }
      for (const wb of webhooks) {
        timeline.push({
          at: wb.receivedAt,
          source: 'webhook',
          title: `${wb.provider} ${wb.eventType ?? ''} · signature ${wb.signature} · ${wb.verdict}`,
          detail: wb.detail,
          raw: wb.body.toString('utf8').slice(0, 20_000),
        });
      }
      timeline.sort((a, b) => a.at.localeCompare(b.at));
      return send(
        request,
        reply,
        frame(request, { title: `Order ${order.externalId}`, nav: 'order', live: `/admin/live?order=${encodeURIComponent(order.id)}` }),
        orderPage({ order, csrf: request.consoleSession?.csrf ?? '', timeline, view, notifications, pdfUrl: invoicing && order.document ? `/admin/orders/${encodeURIComponent(order.id)}/document.pdf` : null }),
      );
    });

    authed.get('/admin/orders/:id/document.pdf', { schema: { hide: true } }, async (request, reply) => {
      const { id } = request.params as { id: string };
      const res = await api(request).getOrder(id);
      if (!res.ok) return reply.code(res.error.status).type('text/html; charset=utf-8').send(errorPageFor(request, res.error.message));
      const doc = res.value.document;
      if (!doc || !invoicing) return reply.code(404).type('text/html; charset=utf-8').send(errorPageFor(request, 'This order has no document PDF to show.'));
      try {
        const pdf = await invoicing.downloadPdf(doc.providerId);
        const filename = `${doc.number.replace(/[^\w.-]+/g, '_')}.pdf`;
        return reply.type('application/pdf').header('content-disposition', `inline; filename="${filename}"`).header('cache-control', 'private, no-store').send(pdf);
      } catch (err) {
        request.log.warn({ orderId: id, code: isOrderpilotError(err) ? err.code : 'INTERNAL', err: err instanceof Error ? err.message : String(err) }, 'document PDF download failed');
        return reply.code(502).type('text/html; charset=utf-8').send(errorPageFor(request, 'The invoicing system did not return the PDF; try again shortly.'));
      }
    });

    authed.post('/admin/orders/:id/events', { schema: { hide: true } }, async (request, reply) => {
      const { id } = request.params as { id: string };
      const body = (request.body ?? {}) as Form;
      const type = one(body['type']) as AdminEventType;
      const back = `/admin/orders/${encodeURIComponent(id)}`;
      if (!(ADMIN_EVENT_TYPES as readonly string[]).includes(type)) return reply.redirect(`${back}?error=${encodeURIComponent('Unknown action.')}`, 303);
      const input: AdminEventInput = { type };
      if (one(body['note'])) input.note = one(body['note']);
      if (type === 'MARK_SHIPPED') {
        input.trackingNumber = one(body['trackingNumber']);
        if (one(body['carrier'])) input.carrier = one(body['carrier']);
      }
      if (type === 'RELEASE' && !input.note) return reply.redirect(`${back}?error=${encodeURIComponent('A release needs a note.')}`, 303);
      if (type === 'MARK_SHIPPED' && !input.trackingNumber) return reply.redirect(`${back}?error=${encodeURIComponent('Marking shipped needs a tracking number.')}`, 303);
      const nonce = one(body['nonce']);
      const res = await api(request).sendEvent(id, input, /^[\w-]{8,64}$/.test(nonce) ? `console-${nonce}` : undefined);
      if (!res.ok) return reply.redirect(`${back}?error=${encodeURIComponent(res.error.message)}`, 303);
      return reply.redirect(`${back}?ok=${encodeURIComponent(`${type} sent; the page updates when the order has changed.`)}`, 303);
    });

    authed.post('/admin/bulk/release', { schema: { hide: true } }, async (request, reply) => {
      const body = (request.body ?? {}) as Form;
      const ids = [...new Set(many(body['ids']))].slice(0, 500);
      const note = one(body['note']);
      if (ids.length === 0) return reply.redirect(`/admin?error=${encodeURIComponent('Select at least one held order.')}`, 303);
      if (!note) return reply.redirect(`/admin?error=${encodeURIComponent('A release needs a note.')}`, 303);
      const client = api(request);
      const loaded = await Promise.all(ids.map(async (id) => ({ id, res: await client.getOrder(id) })));
      if (one(body['confirmed']) !== '1') {
        const orders = loaded.map(({ id, res }) =>
          res.ok
            ? { id: res.value.id, externalId: res.value.externalId, state: res.value.state, reason: res.value.hold ? `${res.value.hold.code}: ${res.value.hold.message}` : res.value.allowedEvents.includes('RELEASE') ? '' : 'not releasable now' }
            : { id, externalId: id, state: 'unknown', reason: res.error.message },
        );
        return send(request, reply, frame(request, { title: 'Confirm release', nav: 'attention', live: null }), bulkConfirmPage(request.consoleSession?.csrf ?? '', orders, note));
      }
      const nonce = /^[\w-]{8,64}$/.test(one(body['nonce'])) ? one(body['nonce']) : randomUUID();
      const results = await Promise.all(
        loaded.map(async ({ id, res }) => {
          const externalId = res.ok ? res.value.externalId : id;
          const sent = await client.sendEvent(id, { type: 'RELEASE', note }, `bulk-${nonce}-${id.replace(/[^\w-]/g, '').slice(0, 40)}`);
          return { id, externalId, ok: sent.ok, message: sent.ok ? 'sent' : sent.error.message };
        }),
      );
      request.log.info({ admin: request.consoleSession?.name, count: ids.length, released: results.filter((r) => r.ok).length }, 'bulk release');
      return send(request, reply, frame(request, { title: 'Bulk release', nav: 'attention', live: null }), bulkResultPage(results));
    });

    authed.post('/admin/notifications/ack', { schema: { hide: true } }, async (request, reply) => {
      const body = (request.body ?? {}) as Form;
      const ids = one(body['action']) === 'all' ? many(body['shown']) : many(body['ids']);
      const back = localPath(one(body['back']));
      const sep = back.includes('?') ? '&' : '?';
      if (ids.length === 0) return reply.redirect(`${back}${sep}error=${encodeURIComponent('Select at least one notification.')}`, 303);
      const acked = await acknowledgeNotifications(sql, ids, request.consoleSession?.name ?? 'admin');
      request.log.info({ admin: request.consoleSession?.name, count: acked.length }, 'notifications acknowledged');
      return reply.redirect(`${back}${sep}ok=${encodeURIComponent(`${acked.length} notification(s) acknowledged.`)}`, 303);
    });

    authed.get('/admin/notifications', { schema: { hide: true } }, async (request, reply) => {
      const s = one((request.query as Form)['status']);
      const status = s === 'acknowledged' || s === 'all' ? s : 'open';
      const list = await listNotifications(sql, { status, limit: 300 });
      return send(request, reply, frame(request, { title: 'Notifications', nav: 'notifications', live: '/admin/live' }), notificationsPage({ list, status, csrf: request.consoleSession?.csrf ?? '' }));
    });

    authed.get('/admin/machines', { schema: { hide: true } }, async (request, reply) => {
      const views = await Promise.all(
        MACHINES.map(async (m) => ({
          title: `${m.title} (${m.machine.id})`,
          view: statechartView(m.machine, m.name === 'order' ? { counts: await countsPerStateNode(sql, m.machine.id) } : {}),
        })),
      );
      return send(request, reply, frame(request, { title: 'Machines', nav: 'machines', live: '/admin/live' }), machinesPage(views));
    });

    authed.get('/admin/live', { schema: { hide: true } }, async (request, reply) => {
      const order = one((request.query as Form)['order']);
      const subject = order ? names.subjects.orderChanged(order) : names.subjects.orderChangedAll;
      if (order && /[\s*>]/.test(order)) return reply.code(400).send('bad order id');
      live.open(subject, request, reply);
    });
  });
};

function summarizePayload(type: string, payload: unknown): string | null {
  if (typeof payload !== 'object' || payload === null) return null;
  const p = payload as Record<string, unknown>;
  const s = (k: string) => (typeof p[k] === 'string' || typeof p[k] === 'number' ? String(p[k]) : null);
  switch (type) {
    case 'ORDER_PLACED':
      return null;
    case 'PAYMENT_CONFIRMED':
      return `${s('provider')} ${s('paymentId')}: ${s('amount')} ${s('currency')}`;
    case 'DOCUMENT_ISSUED':
      return `${s('number')} (${s('issueDate')})`;
    case 'HANDED_TO_CARRIER':
    case 'MARK_SHIPPED':
      return `tracking ${s('trackingNumber')}${s('carrier') ? ` (${s('carrier')})` : ''}`;
    default:
      return [s('code'), s('message') ?? s('reason')].filter(Boolean).join(': ') || null;
  }
}
