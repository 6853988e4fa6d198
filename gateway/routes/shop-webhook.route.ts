import { createHash, randomUUID } from 'node:crypto';
import type { ShopConfig } from '../../infra/config.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import type { OrderData } from '../../machines/order/index.ts';
import {
  isOrderpilotError,
  OrderpilotError,
  verifyWooCommerceSignature,
  WOOCOMMERCE_DELIVERY_HEADER,
  WOOCOMMERCE_SIGNATURE_HEADER,
  WOOCOMMERCE_TOPIC_HEADER,
  type Names,
  type OrderEventPayload,
  type OrderPlacedPayload,
} from '../../services/contracts/index.ts';
import { mapWooCommerceOrder, shopCancel, type IncomingOrder } from '../../services/shops/index.ts';
import { sendError } from '../errors.ts';
import type { GatewayRoute } from '../gateway.types.ts';
import { rejectedWebhookRateLimit } from '../webhooks/webhook-limits.ts';
import { invalidDedupeKey, type Headers, type WebhookDecision, type WebhookMessage } from '../webhooks/webhook-inbox.ts';

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The order topics we take; WooCommerce also sends others when so configured (recorded, nothing done). */
const ORDER_TOPICS = new Set(['order.created', 'order.updated']);

export interface ShopWebhookDecision extends WebhookDecision {
  incoming?: IncomingOrder;
  /** A signed order body we could not map (stored; the sender is told 422). */
  problem?: string;
}

/** The inbox's provider name of a shop's webhooks. */
export const shopProvider = (shop: ShopConfig) => `shop:${shop.name}`;

/**
 * Decides what a WooCommerce webhook is, from its exact bytes: a bad `X-WC-Webhook-Signature`
 * (base64 HMAC-SHA256 of the raw body with the shop's webhook secret) → `invalid`; another topic →
 * `recorded`; an order we cannot map → `recorded` with the problem; an order → `accepted`. The
 * dedupe key is the order id and its `date_modified_gmt` (the same order state sent twice, by a
 * redelivery or a second topic, is one row); the delivery id goes into the detail.
 */
export function decideShopWebhook(shop: ShopConfig, headers: Headers, body: Buffer, opts: { force?: boolean } = {}): ShopWebhookDecision {
  const provider = shopProvider(shop);
  const signed = verifyWooCommerceSignature(shop.webhookSecret, body, header(headers, WOOCOMMERCE_SIGNATURE_HEADER));
  const topic = header(headers, WOOCOMMERCE_TOPIC_HEADER) ?? '';
  const delivery = header(headers, WOOCOMMERCE_DELIVERY_HEADER) ?? '';
  if (!signed && opts.force !== true) {
    return { dedupeKey: invalidDedupeKey(provider, body), signature: 'invalid', verdict: 'invalid', eventType: topic || null, detail: `missing or wrong X-WC-Webhook-Signature (delivery ${delivery || '?'})` };
  }
  const signature = signed ? 'valid' : 'invalid';
  const digest = createHash('sha256').update(body).digest('hex');
  if (!ORDER_TOPICS.has(topic)) {
    return { dedupeKey: `${provider}:other:${digest}`, signature, verdict: 'recorded', eventType: topic || null, detail: `topic "${topic}" is not taken (delivery ${delivery || '?'})` };
  }
  let incoming: IncomingOrder;
  try {
    incoming = mapWooCommerceOrder(JSON.parse(body.toString('utf8')), { shop: shop.name, nipMetaKey: shop.nipMetaKey });
  } catch (err) {
    if (!isOrderpilotError(err) && !(err instanceof SyntaxError)) throw err;
    const problem = err.message;
    return { dedupeKey: `${provider}:unmapped:${digest}`, signature, verdict: 'recorded', eventType: topic, detail: problem.slice(0, 1000), problem };
  }
  return {
    dedupeKey: `${provider}:order:${incoming.externalId}:${incoming.modified}`,
    signature,
    verdict: 'accepted',
    eventType: topic,
    externalRef: incoming.externalId,
    detail: `${topic} ${incoming.externalId} (${incoming.status}), delivery ${delivery || '?'}`,
    incoming,
  };
}

/**
 * The order a shop's webhook is about, recorded once per (shop, externalId) in the gateway's order
 * intake (the same table POST /orders uses, so payment webhooks find it by externalId): its id.
 */
async function recordShopIntake(sql: Sql, incoming: IncomingOrder): Promise<OrderData> {
  const shop = incoming.order.shop ?? '';
  const orderId = `ord_${randomUUID()}`;
  const order: OrderData = { ...incoming.order, orderId };
  const bodyHash = createHash('sha256').update(JSON.stringify(incoming.order)).digest('hex');
  const inserted = await sql<{ order_id: string }[]>`
    insert into order_intake (shop, external_id, order_id, body_hash, total, currency, order_data, created_at)
    values (${shop}, ${incoming.externalId}, ${orderId}, ${bodyHash}, ${order.total}, ${order.currency}, ${sql.json(order as never)}, ${order.placedAt})
    on conflict (shop, external_id) do nothing
    returning order_id`;
  if (inserted.length === 1) return order;
  // Later webhooks of the same order (order.updated) find the first one's order: the first wins.
  const [existing] = await sql<{ order_data: OrderData }[]>`
    select order_data from order_intake where shop = ${shop} and external_id = ${incoming.externalId}`;
  if (!existing) throw new OrderpilotError('DB_CONFLICT', 'order intake row vanished; send it again', { retryable: true });
  return existing.order_data;
}

/**
 * ORDER_PLACED for the order (stable id: a repeat is dropped), PAYMENT_CONFIRMED when the shop is the
 * payment source and says paid, and CANCEL when the order was cancelled at the shop.
 */
export function shopMessages(names: Names, shop: ShopConfig, d: ShopWebhookDecision, order: OrderData): WebhookMessage[] {
  const out: WebhookMessage[] = [
    { id: `order-placed:${order.orderId}`, subject: names.subjects.orderEvent(order.orderId), type: 'ORDER_PLACED', orderId: order.orderId, payload: { order } satisfies OrderPlacedPayload, actor: 'shop' },
  ];
  const paid = d.incoming?.paid ?? null;
  if (shop.payment === 'shop' && paid !== null) {
    const payload: OrderEventPayload<'PAYMENT_CONFIRMED'> = {
      provider: shop.kind,
      paymentId: paid.paymentId,
      amount: order.total,
      currency: order.currency,
      ...(paid.method ? { method: paid.method.slice(0, 50) } : {}),
    };
    out.push({ id: `shop-paid:${order.orderId}`, subject: names.subjects.orderEvent(order.orderId), type: 'PAYMENT_CONFIRMED', orderId: order.orderId, payload, actor: shop.name });
  }
  // Cancelled at the shop (its admin, or the customer before paying): the machine decides what a cancel means now.
  if (d.incoming?.cancelled === true) {
    const c = shopCancel(shop.name, order.orderId, d.incoming.status);
    out.push({ id: c.id, subject: names.subjects.orderEvent(order.orderId), type: 'CANCEL', orderId: order.orderId, payload: c.payload, actor: shop.name });
  }
  return out;
}

/**
 * `POST /webhooks/shops/<name>`: a connected shop's order webhooks (WooCommerce `order.created` /
 * `order.updated`). Stored raw in the webhook inbox first; a bad signature → 400 (stored, nothing
 * published); an order → recorded in the order intake and ORDER_PLACED published (plus
 * PAYMENT_CONFIRMED when SHOP_<NAME>_PAYMENT=shop and the shop says paid), 200. The same order state
 * again (a duplicate delivery) changes nothing. An unknown shop → 404, nothing stored. Not replayable
 * from the console yet (no processor registered): a stored order webhook is sent again by the shop.
 */
export const shopWebhookRoute: GatewayRoute = async (app, ctx) => {
  const { config, names, sql } = ctx.deps;
  // Only WooCommerce shops send us webhooks; a generic (`webhook`) shop places orders on POST /orders.
  const shops = new Map(config.shops.filter((s) => s.kind === 'woocommerce').map((s) => [s.name, s]));

  // WooCommerce tests a new webhook's address with an unsigned form post `webhook_id=<n>`: answered 200, not stored.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => done(null, { ping: String(body) }));

  const genuine = (request: { headers: Headers; rawBody?: Buffer; params?: unknown }) => {
    const name = (request.params as { shop?: string } | undefined)?.shop;
    const shop = name === undefined ? undefined : shops.get(name);
    return shop !== undefined && verifyWooCommerceSignature(shop.webhookSecret, request.rawBody ?? Buffer.alloc(0), header(request.headers, WOOCOMMERCE_SIGNATURE_HEADER));
  };
  app.post<{ Params: { shop: string } }>(
    '/webhooks/shops/:shop',
    { schema: { hide: false, summary: 'A connected shop\'s order webhook (WooCommerce: X-WC-Webhook-Signature)', tags: ['webhooks'] }, config: { rateLimit: rejectedWebhookRateLimit(config.webhookInvalidRateLimit, genuine) } },
    async (request, reply) => {
      const shop = shops.get(request.params.shop);
      if (shop === undefined) return sendError(reply, 'NOT_FOUND', `no shop "${request.params.shop}" is connected (SHOPS)`);
      if (request.rawBody === undefined && (request.body as { ping?: string } | null)?.ping !== undefined) {
        return reply.code(200).send({ received: true, ping: true });
      }
      const body = request.rawBody ?? Buffer.alloc(0);
      const decision = decideShopWebhook(shop, request.headers, body);
      const { incoming, problem, ...columns } = decision;
      const stored = await ctx.inbox.store({ provider: shopProvider(shop), headers: request.headers, body, ...columns });
      if (decision.verdict === 'invalid') {
        return sendError(reply, 'SIGNATURE_INVALID', `shop webhook rejected: ${decision.detail ?? 'bad signature'}`, { webhookId: stored.id });
      }
      if (problem !== undefined) return sendError(reply, 'VALIDATION_FAILED', problem, { webhookId: stored.id });
      if (incoming === undefined) return reply.code(200).send({ received: true, duplicate: !stored.isNew, webhookId: stored.id });
      const order = await recordShopIntake(sql, incoming);
      // A repeat of a stored key publishes only when its first attempt did not finish (stored.toPublish).
      await ctx.inbox.publish(stored, shopMessages(names, shop, decision, order));
      if (stored.toPublish) await sql`update order_intake set published_at = now() where order_id = ${order.orderId} and published_at is null`;
      return reply.code(200).send({ received: true, duplicate: !stored.isNew, webhookId: stored.id, orderId: order.orderId });
    },
  );
};
