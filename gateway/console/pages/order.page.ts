import { ADMIN_EVENT_TYPES, type AdminEventType } from '../../../machines/order/index.ts';
import { pendingRetriesOf } from '../../../infra/db/pending-retries.ts';
import { isOrderpilotError } from '../../../services/contracts/index.ts';
import { correctionKsefFile, correctionKsefFilesOf, invoicingProviderFromConfig, ksefFile, ksefFilesOf, type KsefFileKind } from '../../../services/invoicing/index.ts';
import { warehouseLog, warehouseTimeline } from '../../../services/logistics/index.ts';
import { listNotifications } from '../../../services/notifications/index.ts';
import { givenUpShopUpdates, shopLog, shopTimeline } from '../../../services/shops/index.ts';
import type { GatewayRoute } from '../../gateway.types.ts';
import { withOrderAnswers } from '../../webhooks/webhook-order-answers.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { adminEventInputFromForm, formErrors, type FormState } from '../admin-event.forms.ts';
import { one, type Form } from '../console-form.ts';
import { adminApi, csrfOf, frame, sendErrorPage, sendPage } from '../console-render.ts';
import * as views from '../console.pages.ts';

/**
 * `/admin/orders/:id` — one order: state, document, hold, what is allowed now, the merged timeline
 * (order history, warehouse messages, what reached the order's shop, and with `?timeline=all` every
 * webhook, every call to the shop and raw message); the
 * document PDF, its KSeF XML and UPO; and the admin events sent from its forms.
 */
export const orderPage: GatewayRoute = async (app, ctx) => {
  const { sql, config } = ctx.deps;
  // The document PDF comes from the invoicing system through its port (the API token never reaches the browser).
  const invoicing = config.fakturowniaUrl && config.fakturowniaApiToken ? invoicingProviderFromConfig(config) : null;

  app.get('/admin/orders/:id', { schema: { hide: true } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const view = one((request.query as Form)['timeline']) === 'all' ? 'all' : 'matters';
    return showOrder(request, reply, id, view, null);
  });

  /** The order page; `formState`: a form the admin API refused, shown again with its errors (422). */
  async function showOrder(request: FastifyRequest, reply: FastifyReply, id: string, view: 'all' | 'matters', formState: FormState | null) {
    const res = await adminApi(app, request).getOrder(id);
    if (!res.ok) return sendErrorPage(request, reply, res.error.status, res.error.message);
    const order = res.value;
    const [notifications, wh, webhooks, ksefFiles, retries, correctionFiles, shop, givenUp] = await Promise.all([
      listNotifications(sql, { status: 'open', orderId: order.id }),
      view === 'all' ? warehouseLog(sql, order.id).catch(() => []) : warehouseTimeline(sql, order.id).catch(() => []),
      view === 'all' ? ctx.inbox.list({ orderId: order.id, limit: 200 }).then((list) => withOrderAnswers(sql, list)).catch(() => []) : Promise.resolve([]),
      order.context.ksef ? ksefFilesOf(sql, order.id).catch(() => []) : Promise.resolve([]),
      pendingRetriesOf(sql, order.id).catch(() => []),
      (order.context.corrections ?? []).length ? correctionKsefFilesOf(sql, order.id).catch(() => []) : Promise.resolve([]),
      view === 'all' ? shopLog(sql, order.id).catch(() => []) : shopTimeline(sql, order.id).catch(() => []),
      givenUpShopUpdates(sql, order.id).catch(() => []),
    ]);
    const timeline: views.TimelineItem[] = [];
    for (const h of order.history) {
      if (view === 'matters' && h.outcome === 'ignored') continue;
      timeline.push({
        at: h.occurredAt,
        source: 'order',
        title: views.historyTitle(h),
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
    // The shop's side: each call to the shop and its answer (all), or what reached it and what was given up.
    for (const s of shop) {
      timeline.push({
        at: s.at,
        source: 'shop',
        title: `→ ${s.shop}: ${s.summary}`,
        detail: s.ok ? (s.httpStatus === null ? null : `HTTP ${s.httpStatus}`) : [s.errorCode, s.httpStatus === null ? null : `HTTP ${s.httpStatus}`].filter(Boolean).join(' ') || null,
        raw: view === 'all' ? [s.method && s.url ? `${s.method} ${s.url}` : null, s.request, s.response === null ? null : `← ${s.response}`].filter(Boolean).join('\n') || null : null,
      });
    }
    for (const wb of webhooks) {
      timeline.push({
        at: wb.receivedAt,
        source: 'webhook',
        // The order's own answer to what the webhook led to is its evidence (the gateway does not judge).
        title: `${wb.provider} ${wb.eventType ?? ''} · signature ${wb.signature} · ${wb.verdict}${wb.orderAnswers.map((a) => ` · order: ${a.type} ${a.outcome} ${a.fromState ?? '∅'} → ${a.toState ?? '∅'}`).join('')}`,
        detail: wb.detail,
        raw: wb.body.toString('utf8').slice(0, 20_000),
      });
    }
    timeline.sort((a, b) => a.at.localeCompare(b.at));
    return sendPage(
      request,
      reply,
      frame(request, { title: `Order ${order.externalId}`, nav: 'order', live: `/admin/live?order=${encodeURIComponent(order.id)}` }),
      views.orderPage({ order, csrf: csrfOf(request), timeline, view, notifications,
        pdfUrl: invoicing && order.document ? `/admin/orders/${encodeURIComponent(order.id)}/document.pdf` : null,
        ksefFiles: ksefFiles.map((f) => ({ ...f, url: `/admin/orders/${encodeURIComponent(order.id)}/ksef/${KSEF_FILES[f.kind].path}` })),
        formState,
        paymentDeadline: order.state === 'pending' ? new Date(Date.parse(order.createdAt) + config.paymentTimeoutMs).toISOString() : null,
        retries,
        shopGivenUp: givenUp.length,
        correctionFiles: correctionFiles.map((f) => ({
          ...f,
          url: `/admin/orders/${encodeURIComponent(order.id)}/corrections/${encodeURIComponent(f.providerId)}/ksef/${KSEF_FILES[f.kind].path}`,
        })),
      }),
    );
  }

  app.get('/admin/orders/:id/document.pdf', { schema: { hide: true } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const res = await adminApi(app, request).getOrder(id);
    if (!res.ok) return sendErrorPage(request, reply, res.error.status, res.error.message);
    const doc = res.value.document;
    if (!doc || !invoicing) return sendErrorPage(request, reply, 404, 'This order has no document PDF to show.');
    try {
      const pdf = await invoicing.downloadPdf(doc.providerId);
      const filename = `${doc.number.replace(/[^\w.-]+/g, '_')}.pdf`;
      return reply.type('application/pdf').header('content-disposition', `inline; filename="${filename}"`).header('cache-control', 'private, no-store').send(pdf);
    } catch (err) {
      request.log.warn({ orderId: id, code: isOrderpilotError(err) ? err.code : 'INTERNAL', err: err instanceof Error ? err.message : String(err) }, 'document PDF download failed');
      return sendErrorPage(request, reply, 502, 'The invoicing system did not return the PDF; try again shortly.');
    }
  });

  // The KSeF XML and UPO, as kept by the invoicing service once KSeF accepted the document.
  app.get('/admin/orders/:id/ksef/:file', { schema: { hide: true } }, async (request, reply) => {
    const { id, file } = request.params as { id: string; file: string };
    const kind = (Object.keys(KSEF_FILES) as KsefFileKind[]).find((k) => KSEF_FILES[k].path === file);
    if (kind === undefined) return sendErrorPage(request, reply, 404, 'No such KSeF file.');
    const res = await adminApi(app, request).getOrder(id);
    if (!res.ok) return sendErrorPage(request, reply, res.error.status, res.error.message);
    const kept = await ksefFile(sql, res.value.id, kind);
    if (!kept) return sendErrorPage(request, reply, 404, `This order has no ${KSEF_FILES[kind].label} (yet).`);
    const filename = `${kept.number.replace(/[^\w.-]+/g, '_')}-${KSEF_FILES[kind].suffix}.xml`;
    return reply.type(kept.contentType).header('content-disposition', `attachment; filename="${filename}"`).header('cache-control', 'private, no-store').send(kept.content);
  });

  // A correction's KSeF XML and UPO (kept like the invoice's once KSeF accepted the correction).
  app.get('/admin/orders/:id/corrections/:providerId/ksef/:file', { schema: { hide: true } }, async (request, reply) => {
    const { id, providerId, file } = request.params as { id: string; providerId: string; file: string };
    const kind = (Object.keys(KSEF_FILES) as KsefFileKind[]).find((k) => KSEF_FILES[k].path === file);
    if (kind === undefined || !/^[\w.-]{1,100}$/.test(providerId)) return sendErrorPage(request, reply, 404, 'No such KSeF file.');
    const res = await adminApi(app, request).getOrder(id);
    if (!res.ok) return sendErrorPage(request, reply, res.error.status, res.error.message);
    const kept = await correctionKsefFile(sql, res.value.id, providerId, kind);
    if (!kept) return sendErrorPage(request, reply, 404, `This correction has no ${KSEF_FILES[kind].label} (yet).`);
    const filename = `${kept.number.replace(/[^\w.-]+/g, '_')}-${KSEF_FILES[kind].suffix}.xml`;
    return reply.type(kept.contentType).header('content-disposition', `attachment; filename="${filename}"`).header('cache-control', 'private, no-store').send(kept.content);
  });

  // Replays the shop updates given up for the order (the admin API's replay, as the signed-in admin).
  app.post('/admin/orders/:id/shop-replay', { schema: { hide: true } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const back = `/admin/orders/${encodeURIComponent(id)}`;
    const res = await adminApi(app, request).replayShopUpdates(id);
    if (!res.ok) return reply.redirect(`${back}?error=${encodeURIComponent(res.error.message)}`, 303);
    return reply.redirect(`${back}?ok=${encodeURIComponent(`${res.value.replayed.length} shop update(s) sent again.`)}`, 303);
  });

  app.post('/admin/orders/:id/events', { schema: { hide: true } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const body = (request.body ?? {}) as Form;
    const type = one(body['type']) as AdminEventType;
    const back = `/admin/orders/${encodeURIComponent(id)}`;
    if (!(ADMIN_EVENT_TYPES as readonly string[]).includes(type)) return reply.redirect(`${back}?error=${encodeURIComponent('Unknown action.')}`, 303);
    // Wrong fields are shown beside themselves, in the form as it was typed (422), not as a redirect.
    const refused = (errors: Record<string, string>) => {
      reply.code(422);
      return showOrder(request, reply, id, 'matters', { type, values: body, errors });
    };
    const { input, errors } = adminEventInputFromForm(type, body);
    if (Object.keys(errors).length > 0) return refused(errors);
    const nonce = one(body['nonce']);
    const res = await adminApi(app, request).sendEvent(id, input, /^[\w-]{8,64}$/.test(nonce) ? `console-${nonce}` : undefined);
    if (!res.ok && res.error.status === 422 && res.error.fields && res.error.fields.length > 0) return refused(formErrors(res.error.fields));
    if (!res.ok) return reply.redirect(`${back}?error=${encodeURIComponent(res.error.message)}`, 303);
    return reply.redirect(`${back}?ok=${encodeURIComponent(`${type} sent; the page updates when the order has changed.`)}`, 303);
  });
};

/** The KSeF files an order page links to: URL segment, name, file-name suffix. */
const KSEF_FILES: Record<KsefFileKind, { path: string; label: string; suffix: string }> = {
  gov: { path: 'invoice.xml', label: 'KSeF XML', suffix: 'KSeF' },
  gov_upo: { path: 'upo.xml', label: 'UPO', suffix: 'UPO' },
};

/** One line for a history entry's payload on the timeline. */
function summarizePayload(type: string, payload: unknown): string | null {
  if (typeof payload !== 'object' || payload === null) return null;
  const p = payload as Record<string, unknown>;
  const s = (k: string) => (typeof p[k] === 'string' || typeof p[k] === 'number' ? String(p[k]) : null);
  switch (type) {
    case 'ORDER_PLACED':
      return null;
    case 'PAYMENT_CONFIRMED':
      return `${s('provider')} ${s('paymentId')}: ${typeof p['amount'] === 'number' && typeof p['currency'] === 'string' ? views.money(p['amount'], p['currency']) : `${s('amount')} ${s('currency')}`}`;
    case 'DOCUMENT_ISSUED':
      return `${s('number')} (${s('issueDate')})`;
    case 'HANDED_TO_CARRIER':
    case 'MARK_SHIPPED':
      return `tracking ${s('trackingNumber')}${s('carrier') ? ` (${s('carrier')})` : ''}`;
    default:
      return [s('code'), s('message') ?? s('reason')].filter(Boolean).join(': ') || null;
  }
}
