import { createHmac, timingSafeEqual } from 'node:crypto';
import Type, { type Static } from 'typebox';

/**
 * Our warehouse / 3PL REST contract (documented in the README, "Logistics"). The logistics service's
 * HTTP adapter, the sandbox warehouse and the gateway's webhook route all read these schemas; an
 * adapter for a real 3PL implements the same port and translates to this shape.
 */

/** Every status a warehouse reports in a status webhook. */
export const WAREHOUSE_STATUSES = [
  'ACCEPTED',
  'PICKING',
  'PACKED',
  'HANDED_TO_CARRIER',
  'IN_TRANSIT',
  'DELIVERED',
  'DELIVERY_FAILED',
  'RETURNED',
  'LOST',
  'ON_HOLD',
  'CANCELLED',
] as const;
export type WarehouseStatus = (typeof WAREHOUSE_STATUSES)[number];

export function isWarehouseStatus(s: unknown): s is WarehouseStatus {
  return typeof s === 'string' && (WAREHOUSE_STATUSES as readonly string[]).includes(s);
}

/** Codes a warehouse answers a submit with (`422 { code, message }`); each holds the order with that reason. */
export const WAREHOUSE_REJECTION_CODES = ['ADDRESS_INVALID', 'OUT_OF_STOCK', 'SKU_UNKNOWN', 'REJECTED'] as const;
export type WarehouseRejectionCode = (typeof WAREHOUSE_REJECTION_CODES)[number];

export function isWarehouseRejectionCode(s: unknown): s is WarehouseRejectionCode {
  return typeof s === 'string' && (WAREHOUSE_REJECTION_CODES as readonly string[]).includes(s);
}

const Str = (max: number) => Type.String({ minLength: 1, maxLength: max });

/** `POST /shipments` body. `reference` is our order id (also sent as `Idempotency-Key`). */
export const ShipmentRequestSchema = Type.Object({
  reference: Str(128),
  recipient: Type.Object({
    name: Str(200),
    email: Type.String({ maxLength: 254 }),
    phone: Type.Union([Type.String({ maxLength: 40 }), Type.Null()]),
  }),
  address: Type.Object({
    line1: Type.String({ maxLength: 200 }),
    line2: Type.Union([Type.String({ maxLength: 200 }), Type.Null()]),
    city: Type.String({ maxLength: 100 }),
    postalCode: Type.String({ maxLength: 20 }),
    country: Type.String({ maxLength: 2 }),
  }),
  items: Type.Array(Type.Object({ sku: Str(100), quantity: Type.Integer({ minimum: 1 }) }), { maxItems: 500 }),
});
export type ShipmentRequest = Static<typeof ShipmentRequestSchema>;

/** A shipment as the warehouse reports it (`201`/`200` of a submit, items of a look-up). */
export const ShipmentSchema = Type.Object({
  shipmentId: Str(200),
  reference: Type.Optional(Type.String({ maxLength: 128 })),
  status: Type.String({ maxLength: 50 }),
  trackingNumber: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  carrier: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
});
export type Shipment = Static<typeof ShipmentSchema>;

/** `GET /shipments?reference=<orderId>` answer: every shipment with that reference (0 or 1). */
export const ShipmentListSchema = Type.Object({ shipments: Type.Array(ShipmentSchema) });

/**
 * `POST /shipments/{id}/cancel`: `200` with the shipment (status CANCELLED; a repeat answers the
 * same), `409 { code: "CANCEL_TOO_LATE", message }` once a carrier has it, `404` for an unknown id.
 */
export const CANCEL_TOO_LATE = 'CANCEL_TOO_LATE';
/**
 * `POST /shipments/{id}/address` `{ recipient, address }` (the submit's shapes): `200` with the
 * shipment while nothing has left the building; `409 { code: "ADDRESS_CHANGE_TOO_LATE" }` once a
 * carrier has it; `422 { code: "ADDRESS_INVALID" }` for an address it cannot deliver to.
 */
export const ADDRESS_CHANGE_TOO_LATE = 'ADDRESS_CHANGE_TOO_LATE';
export const ShipmentAddressChangeSchema = Type.Object({
  recipient: ShipmentRequestSchema.properties.recipient,
  address: ShipmentRequestSchema.properties.address,
});
export type ShipmentAddressChange = Static<typeof ShipmentAddressChangeSchema>;
/** Warehouse statuses from which a shipment can still be cancelled (nothing has left the building). */
export const CANCELLABLE_STATUSES: readonly WarehouseStatus[] = ['ACCEPTED', 'PICKING', 'PACKED', 'ON_HOLD', 'CANCELLED'];

/** `422` answer of a submit. */
export const WarehouseRejectionSchema = Type.Object({ code: Type.String({ maxLength: 100 }), message: Type.Optional(Type.String({ maxLength: 2000 })) });

/** Body of a status webhook (`POST /webhooks/warehouse`, signed with `X-Warehouse-Signature`). */
export const WarehouseWebhookSchema = Type.Object({
  eventId: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_:.-]+$' }),
  shipmentId: Type.String({ maxLength: 200 }),
  reference: Type.String({ minLength: 1, maxLength: 128 }),
  status: Type.String({ minLength: 1, maxLength: 50 }),
  reason: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
  trackingNumber: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  carrier: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
  occurredAt: Type.String({ minLength: 1, maxLength: 40 }),
});
export type WarehouseWebhook = Static<typeof WarehouseWebhookSchema>;

/** The webhook signature header and the dedupe key / message id of one warehouse event. */
export const WAREHOUSE_SIGNATURE_HEADER = 'x-warehouse-signature';
export function warehouseEventKey(eventId: string): string {
  return `warehouse:${eventId}`;
}

/** `sha256=<hex HMAC-SHA256 of the raw body>`: what a warehouse sends in `X-Warehouse-Signature`. */
export function signWarehouseBody(secret: string, rawBody: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/** Constant-time check of an `X-Warehouse-Signature` header against the raw body. */
export function verifyWarehouseSignature(secret: string, rawBody: string | Buffer, header: string | undefined): boolean {
  if (header === undefined || !/^sha256=[0-9a-fA-F]{64}$/.test(header.trim())) return false;
  const expected = Buffer.from(signWarehouseBody(secret, rawBody).slice('sha256='.length), 'hex');
  const given = Buffer.from(header.trim().slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
