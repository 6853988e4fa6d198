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
import { logArrivals, settledArrivals, warehouseArrival, type WarehouseArrival } from '../../services/logistics/index.ts';
import { sendError } from '../errors.ts';
import { rejectedWebhookRateLimit } from '../webhooks/webhook-limits.ts';
import type { GatewayRoute } from '../gateway.types.ts';
import { invalidDedupeKey, type Headers, type WebhookDecision, type WebhookMessage, type WebhookProcessor } from '../webhooks/webhook-inbox.ts';

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A warehouse webhook's decision: the row's columns, the body text to hand on, and what was wrong with it. */
export interface WarehouseDecision extends WebhookDecision {
  /** The body handed to the logistics service (absent for `invalid`). */
  text?: string;
  /** Set when the signed body is not a status webhook (handed on anyway; the sender is told 422). */
  problem?: string;
  /** A status handled where it arrives: logged with the inbox row, an order event only if it moves the order. */
  arrival?: WarehouseArrival;
}

/**
 * Decides what a warehouse webhook request is, from its exact bytes: bad signature → `invalid`
 * (stored, nothing published); a signed body that is not a status webhook → `recorded` and handed to
 * the logistics service anyway (it logs it and tells an admin); a status webhook → `accepted`, a
 * `warehouse-status` command with the dedupe key `warehouse:<eventId>` as message id.
 */
export function decideWarehouseWebhook(secret: string | undefined, headers: Headers, body: Buffer, opts: { force?: boolean; signatureChecked?: boolean } = {}): WarehouseDecision {
  const why =
    secret === undefined
      ? 'WAREHOUSE_WEBHOOK_SECRET is not configured'
      : opts.signatureChecked === true || verifyWarehouseSignature(secret, body, header(headers, WAREHOUSE_SIGNATURE_HEADER))
        ? null
        : `missing or wrong ${WAREHOUSE_SIGNATURE_HEADER}`;
  if (why !== null && opts.force !== true) return { dedupeKey: invalidDedupeKey('warehouse', body), signature: 'invalid', verdict: 'invalid', detail: why };
  // An admin's forced replay: decided on its content, the row keeps `invalid` and says so.
  if (why !== null) {
    const d = decideSigned(body);
    return { ...d, signature: 'invalid', detail: `forced by an admin despite: ${why}; ${d.detail ?? ''}` };
  }
  return decideSigned(body);
}

/** The decision on a warehouse body whose signature holds (or that an admin vouched for). */
function decideSigned(body: Buffer): WarehouseDecision {
  const text = body.toString('utf8');
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
      text,
      problem,
    };
  }
  const arrival = warehouseArrival(hook, text);
  return {
    dedupeKey: warehouseEventKey(hook.eventId),
    signature: 'valid',
    verdict: 'accepted',
    eventType: hook.status,
    externalRef: hook.reference,
    detail: `${hook.status} for shipment ${hook.shipmentId}`,
    text,
    ...(arrival === null ? {} : { arrival }),
  };
}

/**
 * The `warehouse-status` command for a stored warehouse webhook (no explicit id: the inbox uses the
 * dedupe key, and `#replay-n` on an admin replay). The logistics service reads the webhook id from it.
 */
export function warehouseMessages(names: Names, d: WarehouseDecision, webhookId: string): WebhookMessage[] {
  if (d.text === undefined) return [];
  const payload: WarehouseStatusCommand = { webhookId, body: d.text };
  return [{ subject: names.subjects.command('warehouseStatus'), type: 'warehouse-status', orderId: d.externalRef ?? null, payload, actor: 'warehouse' }];
}

/**
 * The order event of a status logged where it arrived, straight to the order's event stream with the
 * id the logistics service would give it (`warehouse:<eventId>`); none for a status only logged.
 */
export function arrivalMessages(names: Names, a: WarehouseArrival): WebhookMessage[] {
  if (a.orderEvent === null) return [];
  const { type, payload } = a.orderEvent;
  return [{ id: a.dedupeKey, subject: names.subjects.orderEvent(a.reference), type, orderId: a.reference, payload, actor: 'warehouse', ...(a.occurredAt === null ? {} : { occurredAt: a.occurredAt }) }];
}

/**
 * `POST /webhooks/warehouse`: warehouse status webhooks, signed with
 * `X-Warehouse-Signature: sha256=<hex HMAC-SHA256 of the raw body>`. Stored raw in the webhook inbox
 * (insert-once on `warehouse:<eventId>`); a status for one of our shipments is logged in the warehouse
 * log by the same statement, and only a status that moves the order is published, to the order's
 * event stream. Anything else (unknown reference or status, a repeat whose first attempt did not
 * finish) goes to the logistics queue. Then 200. A repeat is answered 200 without publishing
 * anything new. Bad signature → 400 (stored with its verdict).
 */
export const warehouseWebhookRoute: GatewayRoute = async (app, ctx) => {
  const { config, names } = ctx.deps;
  const processor: WebhookProcessor<WarehouseDecision> = {
    decide: async ({ headers, body, force }) => decideWarehouseWebhook(config.warehouseWebhookSecret, headers, body, { force }),
    messages: (d, webhookId) => warehouseMessages(names, d, webhookId),
    // Straight to the order under the id it knows (`warehouse:<eventId>`): the long way through
    // logistics would publish that same id again, which the stream's duplicate window drops.
    redelivery: (d, webhookId) => {
      const direct = d.arrival === undefined ? [] : arrivalMessages(names, d.arrival);
      return direct.length > 0 ? direct : warehouseMessages(names, d, webhookId);
    },
  };
  ctx.inbox.registerProcessor('warehouse', processor);
  ctx.inbox.registerAlongside<WarehouseArrival>('warehouse', { write: logArrivals, settled: settledArrivals });

  const secret = config.warehouseWebhookSecret;
  // The rate limit checks the signature first (only rejected requests count); the route then trusts
  // that check for the very same bytes instead of computing the HMAC again.
  const genuineBodies = new WeakSet<Buffer>();
  const genuine = (request: { headers: Headers; rawBody?: Buffer }) => {
    const body = request.rawBody;
    const ok = secret !== undefined && verifyWarehouseSignature(secret, body ?? Buffer.alloc(0), header(request.headers, WAREHOUSE_SIGNATURE_HEADER));
    if (ok && body !== undefined) genuineBodies.add(body);
    return ok;
  };
  const routeOptions = {
    schema: { hide: false, summary: 'Warehouse status webhook (HMAC-signed)', tags: ['webhooks'] },
    config: { rateLimit: rejectedWebhookRateLimit(config.webhookInvalidRateLimit, genuine) },
  };
  app.post('/webhooks/warehouse', routeOptions, async (request, reply) => {
    const body = request.rawBody ?? Buffer.alloc(0);
    const decision = decideWarehouseWebhook(config.warehouseWebhookSecret, request.headers, body, { signatureChecked: genuineBodies.has(body) });
    const { text: _text, problem, arrival, ...columns } = decision;
    const stored = await ctx.inbox.store({ provider: 'warehouse', headers: request.headers, body, ...columns, alongside: arrival });
    if (decision.verdict === 'invalid') {
      return sendError(reply, 'SIGNATURE_INVALID', `warehouse webhook rejected: ${decision.detail ?? 'bad signature'}`, { webhookId: stored.id });
    }
    // Logged with its inbox row: at most an order event is left to publish. Else the long way.
    const messages = stored.alongside && arrival !== undefined ? arrivalMessages(names, arrival) : warehouseMessages(names, decision, stored.id);
    await ctx.inbox.publish(stored, messages);
    if (problem !== undefined) {
      // Stored and handed on (an admin is told), but the sender should know it was not understood.
      return sendError(reply, 'VALIDATION_FAILED', problem, { webhookId: stored.id });
    }
    return reply.code(200).send({ received: true, duplicate: !stored.isNew, webhookId: stored.id });
  });
};
