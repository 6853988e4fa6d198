import { createHash } from 'node:crypto';
import {
  validate,
  verifyWarehouseSignature,
  WAREHOUSE_SIGNATURE_HEADER,
  warehouseEventKey,
  WarehouseWebhookSchema,
  type Names,
  type WarehouseStatusCommand,
} from '../../services/contracts/index.ts';
import { sendError } from '../errors.ts';
import type { GatewayRoute } from '../gateway.types.ts';
import { invalidDedupeKey, type Headers, type WebhookDecision, type WebhookMessage } from '../webhooks/webhook-inbox.ts';

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Decides what a warehouse webhook request is, from its exact bytes: bad signature → `invalid`
 * (stored, nothing published); a signed body that is not a status webhook → `recorded` and handed to
 * the logistics service anyway (it logs it and tells an admin); a status webhook → `accepted`, a
 * `warehouse-status` command with the dedupe key `warehouse:<eventId>` as message id.
 */
export function decideWarehouseWebhook(secret: string | undefined, names: Names, headers: Headers, body: Buffer): WebhookDecision & { problem?: string } {
  if (secret === undefined) {
    return { dedupeKey: invalidDedupeKey('warehouse', body), signature: 'invalid', verdict: 'invalid', detail: 'WAREHOUSE_WEBHOOK_SECRET is not configured' };
  }
  if (!verifyWarehouseSignature(secret, body, header(headers, WAREHOUSE_SIGNATURE_HEADER))) {
    return { dedupeKey: invalidDedupeKey('warehouse', body), signature: 'invalid', verdict: 'invalid', detail: `missing or wrong ${WAREHOUSE_SIGNATURE_HEADER}` };
  }
  const text = body.toString('utf8');
  // No explicit id: the inbox uses the dedupe key (and `#replay-n` on an admin replay).
  const command = (webhookId: string, orderId: string | null): WebhookMessage[] => {
    const payload: WarehouseStatusCommand = { webhookId, body: text };
    return [{ subject: names.subjects.command('warehouseStatus'), type: 'warehouse-status', orderId, payload, actor: 'warehouse' }];
  };
  let hook;
  try {
    hook = validate(WarehouseWebhookSchema, JSON.parse(text), 'warehouse webhook');
  } catch (err) {
    const problem = err instanceof Error ? err.message : String(err);
    return {
      dedupeKey: `warehouse:malformed:${createHash('sha256').update(body).digest('hex')}`,
      signature: 'valid',
      verdict: 'recorded',
      detail: problem.slice(0, 1000),
      messages: (id) => command(id, null),
      problem,
    };
  }
  return {
    dedupeKey: warehouseEventKey(hook.eventId),
    signature: 'valid',
    verdict: 'accepted',
    eventType: hook.status,
    externalRef: hook.reference,
    detail: `${hook.status} for shipment ${hook.shipmentId}`,
    messages: (id) => command(id, hook.reference),
  };
}

/**
 * `POST /webhooks/warehouse`: warehouse status webhooks, signed with
 * `X-Warehouse-Signature: sha256=<hex HMAC-SHA256 of the raw body>`. Stored raw in the webhook inbox
 * (insert-once on `warehouse:<eventId>`), then published to the logistics queue, then 200. A repeat
 * is answered 200 without publishing anything new. Bad signature → 400 (stored with its verdict).
 */
export const warehouseWebhookRoute: GatewayRoute = async (app, ctx) => {
  const { config, names } = ctx.deps;
  ctx.inbox.registerProcessor('warehouse', async ({ headers, body }) => decideWarehouseWebhook(config.warehouseWebhookSecret, names, headers, body));

  app.post('/webhooks/warehouse', { schema: { hide: false, summary: 'Warehouse status webhook (HMAC-signed)', tags: ['webhooks'] } }, async (request, reply) => {
    const body = request.rawBody ?? Buffer.alloc(0);
    const { problem, ...decision } = decideWarehouseWebhook(config.warehouseWebhookSecret, names, request.headers, body);
    const result = await ctx.inbox.receive({ provider: 'warehouse', headers: request.headers, body, ...decision });
    if (decision.verdict === 'invalid') {
      return sendError(reply, 'SIGNATURE_INVALID', `warehouse webhook rejected: ${decision.detail ?? 'bad signature'}`);
    }
    if (problem !== undefined) {
      // Stored and handed on (an admin is told), but the sender should know it was not understood.
      return sendError(reply, 'VALIDATION_FAILED', problem);
    }
    return reply.code(200).send({ received: true, duplicate: !result.isNew, webhookId: result.id });
  });
};
