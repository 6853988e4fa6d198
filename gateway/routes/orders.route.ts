import { createHash, randomUUID } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { Settings } from 'typebox/system';
import { UnionPrioritySort, Value } from 'typebox/value';
import { jetstream } from '@nats-io/jetstream';
import { createDeferredMarks } from '../../infra/db/deferred-marks.ts';
import { createGroupedWrites } from '../../infra/db/grouped-writes.ts';
import { replayDeadLettersOfOrder } from '../../infra/db/dead-letters.ts';
import { publishOrderEvent } from '../../infra/nats/publish.ts';
import { startIntakeRecheck } from '../intake-recheck.ts';
import type { Language, OrderData } from '../../machines/order/index.ts';
import { AddressSchema, CustomerSchema, OrderLineSchema, OrderpilotError, type OrderPlacedPayload } from '../../services/contracts/index.ts';
import type { GatewayRoute } from '../gateway.types.ts';
import { shopAuthHook } from '../shop-auth.ts';

/** The shop's order as it arrives on `POST /orders` (orderId, placedAt and the default language are ours). */
export const OrderIntakeSchema = Type.Object({
  externalId: Type.String({ minLength: 1, maxLength: 128, description: "The shop's order number: the idempotency key" }),
  currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217' }),
  language: Type.Optional(Type.Union([Type.Literal('pl'), Type.Literal('en')], { description: "default 'pl' when shipping to PL, else 'en'" })),
  customer: CustomerSchema,
  billingAddress: AddressSchema,
  shippingAddress: AddressSchema,
  lines: Type.Array(OrderLineSchema, { minItems: 1, maxItems: 500 }),
  shippingPrice: Type.Integer({ minimum: 0, maximum: 1_000_000_000_00, description: 'minor units' }),
  total: Type.Integer({ minimum: 0, maximum: 1_000_000_000_00, description: 'minor units; lines + shipping' }),
});
export type OrderIntake = Static<typeof OrderIntakeSchema>;

/**
 * Only the fields we know travel on. `Value.Clean` sorts the schema's unions (narrowest first) on
 * every call, which was most of its cost (1–2 % of the process's CPU in the bench): the sorted schema
 * is made once here and the per-call sort skipped — the same result. Synchronous, so the setting is
 * back before anything else runs.
 */
const INTAKE_SORTED = UnionPrioritySort(OrderIntakeSchema);
function cleanIntake(body: unknown): OrderIntake {
  const sorting = Settings.Get().unionPrioritySort;
  Settings.Set({ unionPrioritySort: false });
  try {
    return Value.Clean(INTAKE_SORTED, structuredClone(body)) as OrderIntake;
  } finally {
    Settings.Set({ unionPrioritySort: sorting });
  }
}

const AcceptedSchema = Type.Object({ orderId: Type.String(), externalId: Type.String(), state: Type.Literal('pending') });

/** JSON with sorted keys, so the same order with keys in another order hashes the same. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function defaultLanguage(country: string): Language {
  return country === 'PL' ? 'pl' : 'en';
}

/**
 * `POST /orders`: a shop with a key from SHOP_KEYS (401 otherwise) hands over an order; validates,
 * records (shop, externalId) once (order_intake), publishes ORDER_PLACED with the stable id
 * `order-placed:<orderId>` and answers 202. The same shop and externalId with the same body → the
 * same answer (and a republish, de-duplicated downstream, in case the first one was cut short); with
 * another body → 409, which names no order (the id belongs to the order placed first). Two shops may
 * use the same externalId.
 */
export const ordersRoute: GatewayRoute = async (app, ctx) => {
  const { sql, nc, names } = ctx.deps;
  if (ctx.deps.config.shopKeys.length === 0) ctx.deps.logger.warn('SHOP_KEYS is empty: POST /orders answers 401 to everyone');
  app.addHook('onRequest', shopAuthHook(ctx.deps.config.shopKeys));
  // "Published" marks lag by up to 20 ms, many rows per UPDATE: a mark lost in a crash only makes a
  // repeat of the order publish ORDER_PLACED again under the same id (de-duplicated downstream).
  const published = createDeferredMarks<string>({
    delayMs: 20,
    maxBatch: 500,
    write: (ids) => sql`update order_intake set published_at = now() where order_id = any(${ids}::text[]) and published_at is null`,
    onError: (err, rows) => ctx.deps.logger.warn({ err: err instanceof Error ? err.message : String(err), rows }, 'could not mark orders published (a repeat republishes them)'),
  });
  app.addHook('onClose', () => published.flush());
  // Concurrent intakes insert together (infra/db/grouped-writes.ts): many orders, one INSERT, one
  // commit; each caller learns whether its own row went in. A (shop, externalId) twice in one batch:
  // the first row goes in, the second meets it as a conflict, as if they had come one after the other.
  const insertIntake = createGroupedWrites<{ shop: string; order: OrderData; bodyHash: string }, boolean>({
    maxBatch: 100,
    async write(batch) {
      const col = (f: (b: (typeof batch)[number]) => string) => batch.map(f);
      // One array per column: the same statement text for every batch size (prepared once per connection).
      const inserted = await sql<{ order_id: string }[]>`
        insert into order_intake (shop, external_id, order_id, body_hash, total, currency, order_data, created_at)
        select v.shop, v.external_id, v.order_id, v.body_hash, v.total::bigint, v.currency, v.order_data::jsonb, v.created_at::timestamptz
          from unnest(${col((b) => b.shop)}::text[], ${col((b) => b.order.externalId)}::text[], ${col((b) => b.order.orderId)}::text[],
                      ${col((b) => b.bodyHash)}::text[], ${col((b) => String(b.order.total))}::text[], ${col((b) => b.order.currency)}::text[],
                      ${col((b) => JSON.stringify(b.order))}::text[], ${col((b) => b.order.placedAt)}::text[])
            as v(shop, external_id, order_id, body_hash, total, currency, order_data, created_at)
        on conflict (shop, external_id) do nothing
        returning order_id`;
      const fresh = new Set(inserted.map((r) => r.order_id));
      return batch.map((b) => fresh.has(b.order.orderId));
    },
  });
  // Every accepted order comes to exist, whatever NATS lost (gateway/intake-recheck.ts).
  const everyMs = ctx.deps.config.intakeRecheckMs;
  const js = jetstream(nc);
  const recheck =
    everyMs > 0
      ? startIntakeRecheck({
          sql,
          logger: ctx.deps.logger,
          everyMs,
          graceMs: everyMs,
          republish: async (order, attempt) => {
            await placed(order, `order-placed:${order.orderId}:recheck:${attempt}:${Date.now()}`);
            // What came before it and found no order (a payment, dead-lettered UNKNOWN_ORDER) follows it.
            await replayDeadLettersOfOrder(sql, async (subject, data, msgID) => void (await js.publish(subject, data, { msgID })), {
              orderId: order.orderId,
              code: 'UNKNOWN_ORDER',
              actor: 'intake recheck',
              note: 'its order had been accepted but did not exist; its ORDER_PLACED was published again',
            });
          },
        })
      : null;
  app.addHook('onClose', async () => recheck?.stop());

  // The shop waits for this answer: the order leaves now, not at the event loop's turn.
  const placed = (order: OrderData, msgID?: string) =>
    publishOrderEvent<OrderPlacedPayload>(
      nc,
      names,
      { type: 'ORDER_PLACED', orderId: order.orderId, id: `order-placed:${order.orderId}`, actor: 'shop', occurredAt: order.placedAt, payload: { order } },
      msgID,
      { now: true },
    );
  async function publish(order: OrderData): Promise<void> {
    try {
      const env = await placed(order);
      ctx.metrics.published.inc({ type: env.type });
    } catch (err) {
      throw new OrderpilotError('NATS_UNAVAILABLE', 'order recorded but not yet forwarded; send it again', { cause: err, retryAfterMs: 1000 });
    }
    published.add(order.orderId);
  }

  app.post(
    '/orders',
    {
      schema: {
        summary: 'Hand over a new order',
        tags: ['orders'],
        security: [{ shopKey: [] }],
        body: OrderIntakeSchema,
        response: { 202: AcceptedSchema },
      },
    },
    async (request, reply) => {
      // Only the fields we know travel on (extra fields would otherwise change nothing but the hash).
      const intake = cleanIntake(request.body);
      const sum = intake.lines.reduce((s, l) => s + l.quantity * l.unitPrice, 0) + intake.shippingPrice;
      if (sum !== intake.total) {
        throw new OrderpilotError('VALIDATION_FAILED', `invalid request: body.total must equal the lines plus shippingPrice (${sum}), got ${intake.total}`, { details: {
          fields: [{ field: 'body.total', message: `must equal the lines plus shippingPrice (${sum})` }],
        } });
      }
      const shop = request.shop;
      if (shop === undefined) throw new OrderpilotError('UNAUTHENTICATED', 'order intake needs a shop key');
      const language = intake.language ?? defaultLanguage(intake.shippingAddress.country);
      const bodyHash = createHash('sha256').update(canonical({ ...intake, language })).digest('hex');
      const orderId = `ord_${randomUUID()}`;
      const placedAt = new Date().toISOString();
      const order: OrderData = { ...intake, shop, orderId, language, placedAt };
      if (await insertIntake({ shop, order, bodyHash })) {
        // Committed: a payment naming this id (a few seconds from now, usually) needs no look-up.
        ctx.knownOrders.remember(orderId, { orderId, externalId: intake.externalId });
        await publish(order);
        request.log.info({ orderId, shop, externalId: intake.externalId, total: intake.total, currency: intake.currency }, 'order accepted');
        return reply.code(202).send({ orderId, externalId: intake.externalId, state: 'pending' as const });
      }
      const [existing] = await sql<{ order_id: string; body_hash: string; order_data: OrderData; published_at: Date | null }[]>`
        select order_id, body_hash, order_data, published_at from order_intake where shop = ${shop} and external_id = ${intake.externalId}`;
      if (!existing) throw new OrderpilotError('DB_CONFLICT', 'order intake row vanished; send it again', { retryable: true });
      if (existing.body_hash !== bodyHash) {
        // The first order's id is not told: the answer must not help anyone probe another order.
        throw new OrderpilotError('ORDER_CONFLICT', `externalId ${intake.externalId} was already used by this shop for a different order`);
      }
      if (existing.published_at === null) await publish(existing.order_data);
      request.log.info({ orderId: existing.order_id, shop, externalId: intake.externalId }, 'order repeated: same answer');
      return reply.code(202).send({ orderId: existing.order_id, externalId: intake.externalId, state: 'pending' as const });
    },
  );
};
