import Type from 'typebox';
import { OrderpilotError } from '../../services/contracts/index.ts';
import { adminAuthHook } from '../admin-auth.ts';
import type { GatewayRoute } from '../gateway.types.ts';
import { WEBHOOK_VERDICTS, type StoredWebhook } from '../webhooks/webhook-inbox.ts';
import { withOrderAnswers } from '../webhooks/webhook-order-answers.ts';

const security = [{ adminToken: [] }];
const PREVIEW = 2000;

const ListQuery = Type.Object({
  verdict: Type.Optional(Type.Union(WEBHOOK_VERDICTS.map((v) => Type.Literal(v)))),
  provider: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
  orderId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String({ pattern: '^\\d{1,18}$', description: 'nextCursor of the previous page' })),
});
const IdParams = Type.Object({ id: Type.String({ pattern: '^\\d{1,18}$' }) });
const ReplayBody = Type.Union([
  Type.Null(),
  Type.Object(
    {
      force: Type.Optional(Type.Boolean({ description: 'replay a webhook whose signature failed on arrival (needs a note)' })),
      note: Type.Optional(Type.String({ maxLength: 2000, description: 'why; required with force, kept on the row' })),
    },
    { additionalProperties: false },
  ),
]);

/** A webhook as the API shows it; `orderAnswers` (when read) is what the order did with the events it led to. */
function view(w: StoredWebhook & { orderAnswers?: unknown[] }, full: boolean) {
  const text = w.body.toString('utf8');
  const { body: _body, ...rest } = w;
  return full ? { ...rest, body: text } : { ...rest, bodyPreview: text.length > PREVIEW ? `${text.slice(0, PREVIEW)}…` : text, bodyBytes: w.body.length };
}

/** `/admin/api/webhooks`: the webhook inbox for audit (with the order's answer to each forwarded event), and replay of a stored webhook. */
export const adminWebhooksRoute: GatewayRoute = async (app, ctx) => {
  app.addHook('onRequest', adminAuthHook(ctx.deps.config.adminTokens));

  app.get(
    '/admin/api/webhooks',
    { schema: { summary: 'The webhook inbox, newest first', tags: ['admin'], security, querystring: ListQuery } },
    async (request) => {
      const limit = request.query.limit ?? 50;
      const rows = await ctx.inbox.list({ verdict: request.query.verdict, provider: request.query.provider, orderId: request.query.orderId, limit: limit + 1, before: request.query.cursor });
      const page = await withOrderAnswers(ctx.deps.sql, rows.slice(0, limit));
      return { items: page.map((w) => view(w, false)), nextCursor: rows.length > limit ? (page[page.length - 1]?.id ?? null) : null };
    },
  );

  app.get('/admin/api/webhooks/:id', { schema: { summary: 'One stored webhook, body included', tags: ['admin'], security, params: IdParams } }, async (request) => {
    const w = await ctx.inbox.get(request.params.id);
    if (!w) throw new OrderpilotError('NOT_FOUND', `no webhook ${request.params.id}`);
    const [withAnswers] = await withOrderAnswers(ctx.deps.sql, [w]);
    return view(withAnswers ?? w, true);
  });

  app.post(
    '/admin/api/webhooks/:id/replay',
    {
      schema: {
        summary: 'Replay a stored webhook',
        description:
          'Decides again on the stored bytes (signature re-checked with the tolerance measured from when it arrived, order looked up again) and publishes what follows. A webhook rejected on arrival (bad or stale signature) is replayed only with {"force": true, "note": "…"} (409 REPLAY_NEEDS_FORCE otherwise); the note and who forced it are kept.',
        tags: ['admin'],
        security,
        params: IdParams,
        body: Type.Optional(ReplayBody),
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const { webhook, messageIds } = await ctx.inbox.replay(request.params.id, request.adminName ?? 'admin', { force: body.force, note: body.note });
      return reply.code(202).send({ webhook: view(webhook, false), messageIds });
    },
  );
};
