import { createHmac, timingSafeEqual } from 'node:crypto';
import Type, { type Static } from 'typebox';

/**
 * The shop connectors' contract: what the order host tells the shops service when an order changes
 * in a way its shop should see, and WooCommerce's webhook signature.
 */

const Str = (max = 500) => Type.String({ minLength: 1, maxLength: max });

/**
 * One thing that happened to an order that its shop should show, in the order it happened. The
 * connector's mapping (data, per connector) turns each into a status and/or a note.
 */
export const ShopChangeSchema = Type.Union([
  Type.Object({ kind: Type.Literal('paid') }),
  Type.Object({ kind: Type.Literal('held'), code: Str(100), message: Type.String({ maxLength: 2000 }) }),
  Type.Object({ kind: Type.Literal('released') }),
  Type.Object({ kind: Type.Literal('shipped'), trackingNumber: Str(200), carrier: Type.Union([Type.String({ maxLength: 100 }), Type.Null()]) }),
  Type.Object({ kind: Type.Literal('closed') }),
  Type.Object({ kind: Type.Literal('cancelled'), reason: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]) }),
  // `pdfUrl`: the invoicing system's public link to the PDF, when it has one.
  Type.Object({ kind: Type.Literal('documentIssued'), number: Str(200), pdfUrl: Type.Optional(Type.String({ maxLength: 1000 })) }),
]);
export type ShopChange = Static<typeof ShopChangeSchema>;
export type ShopChangeKind = ShopChange['kind'];
export const SHOP_CHANGE_KINDS: readonly ShopChangeKind[] = ['paid', 'held', 'released', 'shipped', 'closed', 'cancelled', 'documentIssued'];

/**
 * `shops.upd.<partition>.<orderId>`: the changes of one committed order transition. `version` is the
 * order row's version after it (grows per order): the shops service never applies an update whose
 * version is not above the last one it applied for the order (a redelivery, a stale update).
 */
export const ShopUpdateSchema = Type.Object({
  shop: Str(64),
  orderId: Str(128),
  /** The shop's own id of the order (our externalId). */
  externalId: Str(128),
  version: Type.Integer({ minimum: 1 }),
  changes: Type.Array(ShopChangeSchema, { minItems: 1, maxItems: 20 }),
  /**
   * Set on an admin's replay of an update the shops service gave up: the original message id (calls
   * it already made are not made again). A replay older than what the shop has adds its notes only:
   * it never sets a status over a newer one.
   */
  replayOf: Type.Optional(Str(300)),
});
export type ShopUpdate = Static<typeof ShopUpdateSchema>;

/** WooCommerce signs each webhook delivery: base64 HMAC-SHA256 of the raw body with the webhook's secret. */
export const WOOCOMMERCE_SIGNATURE_HEADER = 'x-wc-webhook-signature';
export const WOOCOMMERCE_TOPIC_HEADER = 'x-wc-webhook-topic';
export const WOOCOMMERCE_DELIVERY_HEADER = 'x-wc-webhook-delivery-id';

export function signWooCommerceBody(secret: string, rawBody: string | Buffer): string {
  return createHmac('sha256', secret).update(rawBody).digest('base64');
}

/** Constant-time check of an `X-WC-Webhook-Signature` header against the raw body. */
export function verifyWooCommerceSignature(secret: string, rawBody: string | Buffer, header: string | undefined): boolean {
  if (header === undefined || !/^[A-Za-z0-9+/]{43}=$/.test(header.trim())) return false;
  const expected = Buffer.from(signWooCommerceBody(secret, rawBody), 'base64');
  const given = Buffer.from(header.trim(), 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Our own signed webhooks (the generic shop connector), signed like Stripe's:
 * `Orderpilot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the shop's
 * signing secret>`. A receiver recomputes v1 over the exact bytes it got, compares in constant time,
 * and refuses a `t` too far from its clock (replays).
 */
export const ORDERPILOT_SIGNATURE_HEADER = 'orderpilot-signature';

export function signOrderpilotWebhook(secret: string, rawBody: string | Buffer, t: number): string {
  const v1 = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest('hex');
  return `t=${t},v1=${v1}`;
}

/** Verifies an `Orderpilot-Signature` header: a valid v1 for its t, and t within `toleranceSec` of `nowSec`. */
export function verifyOrderpilotSignature(secret: string, rawBody: string | Buffer, header: string | undefined, nowSec: number, toleranceSec = 300): boolean {
  if (header === undefined) return false;
  const parts = new Map<string, string[]>();
  for (const p of header.split(',')) {
    const i = p.indexOf('=');
    if (i <= 0) continue;
    const k = p.slice(0, i).trim();
    parts.set(k, [...(parts.get(k) ?? []), p.slice(i + 1).trim()]);
  }
  const t = Number(parts.get('t')?.[0]);
  if (!Number.isInteger(t) || Math.abs(nowSec - t) > toleranceSec) return false;
  const expected = Buffer.from(signOrderpilotWebhook(secret, rawBody, t).split('v1=')[1] ?? '', 'hex');
  return (parts.get('v1') ?? []).some((v) => {
    const given = Buffer.from(v, 'hex');
    return /^[0-9a-f]{64}$/.test(v) && given.length === expected.length && timingSafeEqual(given, expected);
  });
}
