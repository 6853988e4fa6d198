import Type from 'typebox';
import { acknowledgeNotifications, listNotifications } from '../../services/notifications/index.ts';
import { adminAuthHook } from '../admin-auth.ts';
import type { GatewayRoute } from '../gateway.types.ts';

const security = [{ adminToken: [] }];
const Severity = Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')]);

const ListQuery = Type.Object({
  status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('acknowledged'), Type.Literal('all')], { default: 'open' })),
  orderId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  severity: Type.Optional(Severity),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  before: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$', description: 'id of the last notification of the previous page' })),
});

const AckBody = Type.Object({
  ids: Type.Array(Type.String({ pattern: '^[0-9]{1,18}$' }), { minItems: 1, maxItems: 1000 }),
});
const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,18}$' }) });

/** `/admin/api/notifications`: list admin notifications and acknowledge one or many. */
export const notificationsRoute: GatewayRoute = async (app, ctx) => {
  const { sql } = ctx.deps;
  app.addHook('onRequest', adminAuthHook(ctx.deps.config.adminTokens));

  app.get(
    '/admin/api/notifications',
    { schema: { summary: 'List admin notifications, newest first (default: unacknowledged)', tags: ['admin'], security, querystring: ListQuery } },
    async (request) => {
      const q = request.query;
      const items = await listNotifications(sql, { status: q.status ?? 'open', orderId: q.orderId, severity: q.severity, limit: q.limit ?? 100, before: q.before });
      const last = items[items.length - 1];
      return { items, nextBefore: items.length === (q.limit ?? 100) && last ? last.id : null };
    },
  );

  app.post(
    '/admin/api/notifications/ack',
    { schema: { summary: 'Acknowledge notifications (already acknowledged ones are left as they were)', tags: ['admin'], security, body: AckBody } },
    async (request) => {
      const by = request.adminName ?? 'admin';
      const acknowledged = await acknowledgeNotifications(sql, request.body.ids, by);
      request.log.info({ admin: by, count: acknowledged.length }, 'notifications acknowledged');
      return { acknowledged, by };
    },
  );

  app.post(
    '/admin/api/notifications/:id/ack',
    { schema: { summary: 'Acknowledge one notification', tags: ['admin'], security, params: IdParams } },
    async (request) => {
      const by = request.adminName ?? 'admin';
      const acknowledged = await acknowledgeNotifications(sql, [request.params.id], by);
      return { acknowledged, by };
    },
  );
};
