import { acknowledgeNotifications, listNotifications } from '../../../services/notifications/index.ts';
import type { GatewayRoute } from '../../gateway.types.ts';
import { localPath, many, one, type Form } from '../console-form.ts';
import { csrfOf, frame, sendPage } from '../console-render.ts';
import * as views from '../console.pages.ts';

/** `/admin/notifications` — open / acknowledged / all; and acknowledging (selected, or all shown) from any page. */
export const notificationsPage: GatewayRoute = async (app, ctx) => {
  const { sql } = ctx.deps;

  app.get('/admin/notifications', { schema: { hide: true } }, async (request, reply) => {
    const s = one((request.query as Form)['status']);
    const status = s === 'acknowledged' || s === 'all' ? s : 'open';
    const list = await listNotifications(sql, { status, limit: 300 });
    return sendPage(request, reply, frame(request, { title: 'Notifications', nav: 'notifications', live: '/admin/live' }), views.notificationsPage({ list, status, csrf: csrfOf(request) }));
  });

  app.post('/admin/notifications/ack', { schema: { hide: true } }, async (request, reply) => {
    const body = (request.body ?? {}) as Form;
    const ids = one(body['action']) === 'all' ? many(body['shown']) : many(body['ids']);
    const back = localPath(one(body['back']));
    const sep = back.includes('?') ? '&' : '?';
    if (ids.length === 0) return reply.redirect(`${back}${sep}error=${encodeURIComponent('Select at least one notification.')}`, 303);
    const acked = await acknowledgeNotifications(sql, ids, request.consoleSession?.name ?? 'admin');
    request.log.info({ admin: request.consoleSession?.name, count: acked.length }, 'notifications acknowledged');
    return reply.redirect(`${back}${sep}ok=${encodeURIComponent(`${acked.length} notification(s) acknowledged.`)}`, 303);
  });
};
