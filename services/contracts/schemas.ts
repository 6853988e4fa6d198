import Type, { type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type {
  AdminNotice,
  DocumentInfo,
  OrderData,
  OrderEvent,
  OrderEventType,
  Payment,
} from '../../machines/order/index.ts';
import { OrderpilotError } from './errors.ts';

/** Payload schemas for every message on NATS. HTTP routes reuse the same TypeBox schemas. */

const Str = (max = 500) => Type.String({ minLength: 1, maxLength: max });
const Minor = Type.Integer({ minimum: 0, maximum: 1_000_000_000_00 });

export const AddressSchema = Type.Object({
  name: Str(200),
  line1: Str(200),
  line2: Type.Optional(Type.String({ maxLength: 200 })),
  city: Str(100),
  postalCode: Str(20),
  country: Type.String({ pattern: '^[A-Z]{2}$' }),
  phone: Type.Optional(Type.String({ maxLength: 40 })),
});

export const CustomerSchema = Type.Object({
  email: Type.String({ format: 'email', maxLength: 254 }),
  name: Str(200),
  company: Type.Optional(Type.String({ maxLength: 200 })),
  taxId: Type.Optional(Type.String({ maxLength: 40 })),
});

/** The buyer fields an admin may correct (UPDATE_BUYER): the intake's customer without the e-mail. */
export const BuyerUpdateSchema = Type.Object({
  name: Str(200),
  company: Type.Optional(Type.String({ maxLength: 200 })),
  taxId: Type.Optional(Type.String({ maxLength: 40 })),
});

/** A calendar date, `YYYY-MM-DD`. */
export const IsoDate = Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$' });

export const OrderLineSchema = Type.Object({
  sku: Str(100),
  name: Str(300),
  quantity: Type.Integer({ minimum: 1, maximum: 100000 }),
  unitPrice: Minor,
  taxRate: Type.Number({ minimum: 0, maximum: 100 }),
});

export const OrderDataSchema = Type.Object({
  orderId: Str(128),
  externalId: Str(128),
  shop: Type.Optional(Str(64)),
  currency: Type.String({ pattern: '^[A-Z]{3}$' }),
  language: Type.Union([Type.Literal('pl'), Type.Literal('en')]),
  customer: CustomerSchema,
  billingAddress: AddressSchema,
  shippingAddress: AddressSchema,
  lines: Type.Array(OrderLineSchema, { minItems: 1, maxItems: 500 }),
  shippingPrice: Minor,
  total: Minor,
  placedAt: Str(40),
});

const DocumentInfoSchema = Type.Object({
  providerId: Str(200),
  number: Str(200),
  issueDate: Str(40),
  provider: Str(100),
  pdfUrl: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
});

const PaymentSchema = Type.Object({
  provider: Str(50),
  paymentId: Str(200),
  amount: Minor,
  currency: Str(3),
  confirmedAt: Str(40),
  method: Type.Optional(Str(50)),
});

/** Payloads of the events into the order actor, keyed by type (the machine event minus type/at/actor). */
export const ORDER_EVENT_PAYLOADS = {
  ORDER_PLACED: Type.Object({ order: OrderDataSchema }),
  PAYMENT_CONFIRMED: Type.Object({
    provider: Str(50),
    paymentId: Str(200),
    amount: Minor,
    currency: Type.String({ pattern: '^[A-Za-z]{3}$' }),
    method: Type.Optional(Str(50)),
  }),
  PAYMENT_FAILED: Type.Object({ provider: Str(50), reason: Type.String({ maxLength: 1000 }) }),
  PAYMENT_TIMEOUT: Type.Object({}),
  DOCUMENT_ISSUED: Type.Object({
    ...DocumentInfoSchema.properties,
    ksef: Type.Optional(Type.Union([Type.Literal('sent'), Type.Literal('outside')])),
  }),
  KSEF_ACCEPTED: Type.Object({ ksefNumber: Str(100), verificationLink: Type.Union([Type.String({ maxLength: 1000 }), Type.Null()]) }),
  KSEF_REJECTED: Type.Object({ code: Str(100), errors: Type.Array(Type.String({ maxLength: 2000 }), { maxItems: 50 }) }),
  KSEF_OFFLINE: Type.Object({ errors: Type.Array(Type.String({ maxLength: 2000 }), { maxItems: 50 }) }),
  RESEND_TO_KSEF: Type.Object({ note: Type.Optional(Type.String({ maxLength: 2000 })), correctionId: Type.Optional(Str(200)) }),
  DOCUMENT_EMAILED: Type.Object({ to: Str(254), messageId: Str(500), resend: Type.Optional(Type.Boolean()) }),
  DOCUMENT_FAILED: Type.Object({
    code: Str(100),
    message: Type.String({ maxLength: 2000 }),
    // Which step failed: issuing the document (invoicing) or e-mailing it (mailer).
    stage: Type.Optional(Type.Union([Type.Literal('issue'), Type.Literal('email')])),
  }),
  SHIPMENT_ACCEPTED: Type.Object({ shipmentId: Str(200) }),
  SHIPMENT_REJECTED: Type.Object({ code: Str(100), message: Type.String({ maxLength: 2000 }) }),
  HANDED_TO_CARRIER: Type.Object({ trackingNumber: Str(200), carrier: Type.Union([Type.String({ maxLength: 100 }), Type.Null()]) }),
  DELIVERED: Type.Object({}),
  SHIPMENT_PROBLEM: Type.Object({ code: Str(100), message: Type.String({ maxLength: 2000 }) }),
  RELEASE: Type.Object({ note: Str(2000) }),
  CANCEL: Type.Object({ note: Type.Optional(Type.String({ maxLength: 2000 })) }),
  ISSUE_DOCUMENT: Type.Object({ note: Type.Optional(Type.String({ maxLength: 2000 })) }),
  RETRY_DOCUMENT: Type.Object({ note: Type.Optional(Type.String({ maxLength: 2000 })) }),
  MARK_SHIPPED: Type.Object({
    trackingNumber: Str(200),
    carrier: Type.Optional(Type.String({ maxLength: 100 })),
    note: Type.Optional(Type.String({ maxLength: 2000 })),
  }),
  UPDATE_SHIPPING_ADDRESS: Type.Object({ shippingAddress: AddressSchema, note: Str(2000) }),
  UPDATE_BUYER: Type.Object({ customer: BuyerUpdateSchema, billingAddress: Type.Optional(AddressSchema), note: Str(2000) }),
  ATTACH_DOCUMENT: Type.Object({ number: Str(200), issueDate: IsoDate, note: Str(2000) }),
  REFUND: Type.Object({ amount: Type.Integer({ minimum: 1, maximum: 1_000_000_000_00 }), reason: Str(500), note: Type.Optional(Type.String({ maxLength: 2000 })) }),
  SHIPMENT_CANCELLED: Type.Object({ existed: Type.Boolean() }),
  // `address`: the address the change asked for, so a stale answer (a redelivered older change) never settles a newer one.
  SHIPMENT_ADDRESS_CHANGED: Type.Object({ address: Type.Optional(AddressSchema) }),
  SHIPMENT_ADDRESS_REFUSED: Type.Object({ code: Str(100), message: Type.String({ maxLength: 2000 }), address: Type.Optional(AddressSchema) }),
  SHIPMENT_CANCEL_REFUSED: Type.Object({ code: Str(100), message: Type.String({ maxLength: 2000 }) }),
  REFUND_COMPLETED: Type.Object({ refundId: Str(200), providerRefundId: Str(200) }),
  REFUND_FAILED: Type.Object({ refundId: Str(200), code: Str(100), message: Type.String({ maxLength: 2000 }) }),
  CORRECTION_ISSUED: Type.Object({
    correctionId: Str(200),
    ...DocumentInfoSchema.properties,
    ksef: Type.Optional(Type.Union([Type.Literal('sent'), Type.Literal('outside')])),
  }),
  CORRECTION_KSEF_ACCEPTED: Type.Object({ correctionId: Str(200), ksefNumber: Str(100), verificationLink: Type.Union([Type.String({ maxLength: 1000 }), Type.Null()]) }),
  CORRECTION_KSEF_REJECTED: Type.Object({ correctionId: Str(200), code: Str(100), errors: Type.Array(Type.String({ maxLength: 2000 }), { maxItems: 50 }) }),
  CORRECTION_EMAILED: Type.Object({ correctionId: Str(200), to: Str(254), messageId: Str(500) }),
  CORRECTION_FAILED: Type.Object({
    correctionId: Str(200),
    code: Str(100),
    message: Type.String({ maxLength: 2000 }),
    stage: Type.Optional(Type.Union([Type.Literal('issue'), Type.Literal('email')])),
  }),
  RESEND_DOCUMENT_EMAIL: Type.Object({ email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })), note: Type.Optional(Type.String({ maxLength: 2000 })) }),
} as const satisfies Record<OrderEventType | 'ORDER_PLACED', TSchema>;

export type OrderMessageType = keyof typeof ORDER_EVENT_PAYLOADS;
export type OrderEventPayload<T extends OrderEventType> = Omit<Extract<OrderEvent, { type: T }>, 'type' | 'at' | 'actor'>;
export type OrderPlacedPayload = { order: OrderData };

/** Command payloads, keyed like `COMMANDS` in subjects.ts. */
export const COMMAND_PAYLOADS = {
  issueDocument: Type.Object({
    order: OrderDataSchema,
    reason: Type.Union([Type.Literal('payment'), Type.Literal('admin')]),
    /** The document the order already has, if any: then the service only reports it again. */
    document: Type.Union([DocumentInfoSchema, Type.Null()]),
    /** The confirmed payment: the document is issued as paid (date, method). */
    payment: Type.Optional(Type.Union([PaymentSchema, Type.Null()])),
  }),
  /** Admin: a document issued by hand; look it up (by order id, then by number) before it counts. */
  attachDocument: Type.Object({ order: OrderDataSchema, number: Str(200), issueDate: Str(40) }),
  /** Admin: send an existing document to KSeF again (same idempotent poll path as the first send). */
  resendToKsef: Type.Object({ order: OrderDataSchema, document: DocumentInfoSchema, correctionId: Type.Optional(Str(200)) }),
  sendDocument: Type.Object({
    order: OrderDataSchema,
    document: DocumentInfoSchema,
    /** The document's KSeF number and verification link, when it went through KSeF. */
    ksef: Type.Optional(Type.Union([Type.Object({ number: Str(100), verificationLink: Type.Union([Type.String({ maxLength: 1000 }), Type.Null()]) }), Type.Null()])),
    /** Another recipient than the customer (an admin's choice). */
    to: Type.Optional(Type.Union([Type.String({ maxLength: 254 }), Type.Null()])),
    /** An admin asked for the e-mail again: a new e-mail, not a repeat of the first one. */
    resend: Type.Optional(Type.Boolean()),
    /** Set when the document is a correction: reported as CORRECTION_EMAILED / CORRECTION_FAILED. */
    correctionId: Type.Optional(Str(200)),
  }),
  /** Give the warehouse's shipment a corrected address (before hand-off). */
  changeShipmentAddress: Type.Object({ order: OrderDataSchema, shipmentId: Str(200), shippingAddress: AddressSchema }),
  /** Cancel the order's shipment at the warehouse (a cancel before hand-off). */
  cancelShipment: Type.Object({ orderId: Str(128), shipmentId: Type.Union([Type.String({ maxLength: 200 }), Type.Null()]) }),
  /** Refund (part of) the confirmed payment; `refundId` is the provider's idempotency key / extRefundId. */
  refundPayment: Type.Object({
    refundId: Str(200),
    orderId: Str(128),
    externalId: Str(128),
    payment: PaymentSchema,
    amount: Minor,
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    reason: Type.String({ maxLength: 500 }),
  }),
  /** A correction document of `document`: the whole of it (`full`) or `amount` gross (minor units); idempotent by `correctionId` (its oid). */
  issueCorrection: Type.Object({
    correctionId: Str(200),
    order: OrderDataSchema,
    document: DocumentInfoSchema,
    amount: Minor,
    full: Type.Boolean(),
    reason: Type.String({ maxLength: 500 }),
  }),
  submitShipment: Type.Object({
    order: OrderDataSchema,
    reason: Type.Union([Type.Literal('payment'), Type.Literal('release')]),
    shipmentId: Type.Union([Type.String(), Type.Null()]),
  }),
  /** A warehouse status webhook, already stored in webhook_inbox by the gateway. */
  warehouseStatus: Type.Object({ webhookId: Type.String(), body: Type.Unknown() }),
  notify: Type.Object({
    kind: Str(100),
    severity: Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')]),
    code: Str(100),
    message: Type.String({ maxLength: 4000 }),
    orderId: Type.Union([Type.String(), Type.Null()]),
    externalId: Type.Union([Type.String(), Type.Null()]),
  }),
} as const;

export type IssueDocumentCommand = Static<typeof COMMAND_PAYLOADS.issueDocument>;
export type SendDocumentCommand = Static<typeof COMMAND_PAYLOADS.sendDocument>;
export type ResendToKsefCommand = Static<typeof COMMAND_PAYLOADS.resendToKsef>;
export type AttachDocumentCommand = Static<typeof COMMAND_PAYLOADS.attachDocument>;
export type CancelShipmentCommand = Static<typeof COMMAND_PAYLOADS.cancelShipment>;
export type ChangeShipmentAddressCommand = Static<typeof COMMAND_PAYLOADS.changeShipmentAddress>;
export type RefundPaymentCommand = Static<typeof COMMAND_PAYLOADS.refundPayment>;
export type IssueCorrectionCommand = Static<typeof COMMAND_PAYLOADS.issueCorrection>;
export type SubmitShipmentCommand = Static<typeof COMMAND_PAYLOADS.submitShipment>;
export type WarehouseStatusCommand = Static<typeof COMMAND_PAYLOADS.warehouseStatus>;
export type NotifyCommand = Static<typeof COMMAND_PAYLOADS.notify>;

// Compile-time checks that the wire schemas and the machine's types agree.
type Assert<T extends true> = T;
export type _OrderDataMatches = Assert<Static<typeof OrderDataSchema> extends OrderData ? true : false>;
export type _PaymentMatches = Assert<Static<typeof PaymentSchema> extends Payment ? true : false>;
export type _DocumentMatches = Assert<Static<typeof DocumentInfoSchema> extends DocumentInfo ? true : false>;
export type _NoticeMatches = Assert<Omit<NotifyCommand, 'orderId' | 'externalId'> extends AdminNotice ? true : false>;

const compiled = new Map<TSchema, ReturnType<typeof Compile>>();

/**
 * Validates `value` against `schema`; throws VALIDATION_FAILED (permanent) naming each bad field.
 * Compiled validators are cached per schema.
 */
export function validate<S extends TSchema>(schema: S, value: unknown, what = 'payload'): Static<S> {
  let check = compiled.get(schema);
  if (check === undefined) {
    check = Compile(schema);
    compiled.set(schema, check);
  }
  if (check.Check(value)) return value as Static<S>;
  const problems = [...check.Errors(value)].slice(0, 10).map((e) => `${e.instancePath || '/'} ${e.message}`);
  throw new OrderpilotError('VALIDATION_FAILED', `${what} is invalid: ${problems.join('; ')}`, { details: { problems } });
}
