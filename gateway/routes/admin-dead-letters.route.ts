import Type from 'typebox';
import { jetstream } from '@nats-io/jetstream';
import { listDeadLetters, replayDeadLetter } from '../../infra/db/dead-letters.ts';
import { OrderpilotError } from '../../services/contracts/index.ts';
import { adminAuthHook } from '../admin-auth.ts';
import type { GatewayRoute } from '../gateway.types.ts';

const security = [{ adminToken: [] }];
const ListQuery = Type.Object({
  status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('all')], { default: 'open' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  consumer: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  code: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  cursor: Type.Optional(Type.String({ pattern: '^\\d{1,18}$', description: 'nextCursor of the previous page' })),
});
const ReplayBody = Type.Union([Type.Null(), Type.Object({ note: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false })]);
const IdParams = Type.Object({ id: Type.String({ pattern: '^\\d{1,18}$' }) });

/**
 * `/admin/api/dead-letters`: messages a consumer gave up on (the same table and functions as the
 * `orderpilot dead-letters` / `replay` CLI), and replay once the cause is fixed.
 */
export const adminDeadLettersRoute: GatewayRoute = async (app, ctx) => {
  const { sql, nc } = ctx.deps;
  app.addHook('onRequest', adminAuthHook(ctx.deps.config.adminTokens));

  app.get(
    '/admin/api/dead-letters',
    { schema: { summary: 'Dead letters, newest first (open = not replayed yet)', tags: ['admin'], security, querystring: ListQuery } },
    async (request) => {
      const q = request.query;
      const limit = q.limit ?? 50;
      const rows = await listDeadLetters(sql, { open: (q.status ?? 'open') === 'open', limit: limit + 1, consumer: q.consumer, code: q.code, before: q.cursor });
      const items = rows.slice(0, limit);
      return { items, nextCursor: rows.length > limit ? (items[items.length - 1]?.id ?? null) : null };
    },
  );

  app.post(
    '/admin/api/dead-letters/:id/replay',
    {
      schema: {
        summary: 'Put a dead letter back on its subject',
        description: 'Its consumer sees it again (a consumer that did process it sees a duplicate and changes nothing). Recorded with the admin who replayed it.',
        tags: ['admin'],
        security,
        params: IdParams,
        body: Type.Optional(ReplayBody),
      },
    },
    async (request, reply) => {
      const js = jetstream(nc);
      const note = request.body?.note?.trim() || null;
      const row = await replayDeadLetter(sql, async (subject, data, msgID) => void (await js.publish(subject, data, { msgID })), request.params.id, request.adminName ?? 'admin', note);
      if (!row) throw new OrderpilotError('NOT_FOUND', `no dead letter ${request.params.id}`);
      return reply.code(202).send(row);
    },
  );
};
