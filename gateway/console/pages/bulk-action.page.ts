import { randomUUID } from 'node:crypto';
import type { GatewayRoute } from '../../gateway.types.ts';
import { many, one, type Form } from '../console-form.ts';
import { adminApi, csrfOf, frame, sendPage } from '../console-render.ts';
import * as views from '../console.pages.ts';
import { BULK_ACTIONS, type BulkAction } from '../bulk-actions.ts';

/**
 * `POST /admin/bulk/release` and `POST /admin/bulk/cancel` — the selected held orders with one note:
 * first a confirmation page listing them (and which cannot take the event now), then one event each
 * (idempotency key per order, so a resubmitted form sends nothing twice).
 */
export const bulkActionPage: GatewayRoute = async (app) => {
  for (const action of Object.keys(BULK_ACTIONS) as BulkAction[]) {
    const a = BULK_ACTIONS[action];
    app.post(`/admin/bulk/${action}`, { schema: { hide: true } }, async (request, reply) => {
      const body = (request.body ?? {}) as Form;
      const ids = [...new Set(many(body['ids']))].slice(0, 500);
      const note = one(body['note']);
      if (ids.length === 0) return reply.redirect(`/admin?error=${encodeURIComponent('Select at least one held order.')}`, 303);
      if (!note) return reply.redirect(`/admin?error=${encodeURIComponent(`${a.verb} of several orders needs a note.`)}`, 303);
      const client = adminApi(app, request);
      const loaded = await Promise.all(ids.map(async (id) => ({ id, res: await client.getOrder(id) })));
      if (one(body['confirmed']) !== '1') {
        const orders = loaded.map(({ id, res }) =>
          res.ok
            ? { id: res.value.id, externalId: res.value.externalId, state: res.value.state, reason: `${res.value.hold ? `${res.value.hold.code}: ${res.value.hold.message}` : ''}${res.value.allowedEvents.includes(a.type) ? '' : ` (${a.type} not allowed now)`}` }
            : { id, externalId: id, state: 'unknown', reason: res.error.message },
        );
        return sendPage(request, reply, frame(request, { title: `Confirm ${action}`, nav: 'attention', live: null }), views.bulkConfirmPage(csrfOf(request), orders, note, action));
      }
      const nonce = /^[\w-]{8,64}$/.test(one(body['nonce'])) ? one(body['nonce']) : randomUUID();
      const results = await Promise.all(
        loaded.map(async ({ id, res }) => {
          const externalId = res.ok ? res.value.externalId : id;
          const sent = await client.sendEvent(id, { type: a.type, note }, `bulk-${action}-${nonce}-${id.replace(/[^\w-]/g, '').slice(0, 40)}`);
          return { id, externalId, ok: sent.ok, message: sent.ok ? 'sent' : sent.error.message };
        }),
      );
      request.log.info({ admin: request.consoleSession?.name, action, count: ids.length, sent: results.filter((r) => r.ok).length }, `bulk ${action}`);
      return sendPage(request, reply, frame(request, { title: `Bulk ${action}`, nav: 'attention', live: null }), views.bulkResultPage(results, action));
    });
  }
};
