/**
 * Types of the order statechart: the order data it is created with, its context and every event it
 * understands. The one place these are declared; the wire contracts (services/contracts) validate
 * payloads against schemas that must match these types.
 */

export type Language = 'pl' | 'en';

export interface Address {
  name: string;
  line1: string;
  line2?: string;
  city: string;
  postalCode: string;
  /** ISO 3166-1 alpha-2 */
  country: string;
  phone?: string;
}

export interface Customer {
  email: string;
  name: string;
  company?: string;
  /** Tax id (NIP for Polish companies). */
  taxId?: string;
}

export interface OrderLine {
  sku: string;
  name: string;
  quantity: number;
  /** Gross unit price in minor units (e.g. grosze, cents). */
  unitPrice: number;
  /** VAT rate in percent, e.g. 23. */
  taxRate: number;
}

/** The shop's order as orderpilot keeps it (amounts in integer minor units). */
export interface OrderData {
  orderId: string;
  /** The shop's own order number, unique per shop. */
  externalId: string;
  /** The shop that placed it (its name in SHOP_KEYS); absent on orders placed before shop keys. */
  shop?: string;
  /** ISO 4217 */
  currency: string;
  language: Language;
  customer: Customer;
  billingAddress: Address;
  shippingAddress: Address;
  lines: OrderLine[];
  shippingPrice: number;
  total: number;
  placedAt: string;
}

export interface Payment {
  provider: string;
  paymentId: string;
  amount: number;
  currency: string;
  confirmedAt: string;
  /** How the customer paid, as the provider said (e.g. `card`, `blik`), when it said so. */
  method?: string;
}

export interface DocumentInfo {
  providerId: string;
  number: string;
  issueDate: string;
  provider: string;
  /** The invoicing system's public link to the PDF (no login; Fakturownia's `/invoice/<token>.pdf`), when it has one. */
  pdfUrl?: string | null;
}

/**
 * Where a sales document stands in KSeF (the national e-invoicing system): `sent` (waiting for the
 * KSeF number), `accepted` (number and verification link), `rejected` (the errors), `offline`
 * (issued in an offline mode, waiting to be sent).
 */
export interface KsefInfo {
  status: 'sent' | 'accepted' | 'rejected' | 'offline';
  /** The KSeF number (`gov_id`) once accepted. */
  number: string | null;
  verificationLink: string | null;
  /** Why it is not accepted (rejected / offline): a code and the system's messages. */
  code: string | null;
  errors: string[];
  /** Times it was sent (the first send and every admin resend). */
  sends: number;
  since: string;
}

/** A refund asked of the payment provider (a cancel's full refund, or an admin's partial REFUND). */
export interface RefundRecord {
  /** Our id, `<orderId>:refund:<n>`: the provider's idempotency key (Stripe) / extRefundId (PayU). */
  refundId: string;
  /** Minor units. */
  amount: number;
  reason: string;
  status: 'requested' | 'refunded' | 'failed';
  providerRefundId: string | null;
  error: string | null;
  requestedAt: string;
  settledAt: string | null;
}

/** A correction document (a reversal of the issued document, in full or of an amount). */
export interface CorrectionRecord {
  /** Our id, `<orderId>:correction:<n>`: its `oid` at the invoicing system (idempotent by it). */
  correctionId: string;
  /** Gross amount reversed, minor units (the whole document when `full`). */
  amount: number;
  full: boolean;
  reason: string;
  /** `ksefSent`/`ksefRejected`: waiting for / refused by KSeF (when it goes there); `issued`: e-mail on its way. */
  status: 'requested' | 'ksefSent' | 'ksefRejected' | 'issued' | 'emailed' | 'failed';
  document: DocumentInfo | null;
  ksefNumber: string | null;
  error: string | null;
  requestedAt: string;
}

/** The warehouse side of a cancel: asked, done (or there was nothing to cancel), or too late (a carrier has it). */
export interface ShipmentCancel {
  status: 'requested' | 'cancelled' | 'tooLate';
  message: string | null;
}

export interface Failure {
  code: string;
  message: string;
  at: string;
}

/** Why an order is held: a reason code (e.g. OUT_OF_STOCK, LOST, WAREHOUSE_UNREACHABLE) and a message. */
export interface Hold {
  code: string;
  message: string;
  since: string;
}

export interface OrderContext {
  order: OrderData;
  payment: Payment | null;
  paymentFailures: number;
  document: DocumentInfo | null;
  documentEmailedAt: string | null;
  documentFailure: Failure | null;
  documentRequests: number;
  /**
   * Where the next document e-mail goes when an admin named another address (null: the customer).
   * Optional: snapshots written before it lack it (read as null).
   */
  documentEmailTo?: string | null;
  /**
   * The document's KSeF stage; null when KSeF is off or the document is outside it. Optional only
   * because snapshots written before KSeF support lack it (read as null).
   */
  ksef?: KsefInfo | null;
  shipmentId: string | null;
  trackingNumber: string | null;
  carrier: string | null;
  warehouseSubmissions: number;
  hold: Hold | null;
  /** Every hold the order has had, newest last (the current one included). */
  holdCount: number;
  cancellation: { reason: string; note: string | null; by: string | null } | null;
  /** Optional (here and below): snapshots of machine version order@1 lack them (read as empty / null). */
  refunds?: RefundRecord[];
  corrections?: CorrectionRecord[];
  shipmentCancel?: ShipmentCancel | null;
  /** A corrected address the warehouse is asked to take for a shipment it already has (applied once it says so). */
  pendingShippingAddress?: Address | null;
  lastAdminNote: { note: string; by: string | null; at: string } | null;
}

/** Fields the host adds to every event: when it happened and, for admin events, who sent it. */
interface EventMeta {
  /** ISO time the event occurred (the envelope's occurredAt). */
  at: string;
  /** Who caused it (admin name, provider, "system"). */
  actor?: string;
}

export type PaymentConfirmed = EventMeta & {
  type: 'PAYMENT_CONFIRMED';
  provider: string;
  paymentId: string;
  amount: number;
  currency: string;
  /** Payment method as the provider reported it (card, blik, …), if it did. */
  method?: string;
};
export type PaymentFailed = EventMeta & { type: 'PAYMENT_FAILED'; provider: string; reason: string };
export type PaymentTimeout = EventMeta & { type: 'PAYMENT_TIMEOUT' };
export type DocumentIssued = EventMeta & {
  type: 'DOCUMENT_ISSUED';
  providerId: string;
  number: string;
  issueDate: string;
  provider: string;
  pdfUrl?: string | null;
  /** `sent`: the invoicing system sent it to KSeF (its number comes later); absent or `outside`: not for KSeF. */
  ksef?: 'sent' | 'outside';
};
/** KSeF accepted the document and gave it its number. */
export type KsefAccepted = EventMeta & { type: 'KSEF_ACCEPTED'; ksefNumber: string; verificationLink: string | null };
/** KSeF (or the invoicing system on its behalf) refused the document, or its fate cannot be learned. */
export type KsefRejected = EventMeta & { type: 'KSEF_REJECTED'; code: string; errors: string[] };
/** The document was issued in an offline mode: valid, but still waiting to be sent to KSeF. */
export type KsefOffline = EventMeta & { type: 'KSEF_OFFLINE'; errors: string[] };
/** Admin: send the document to KSeF again (after the cause of a rejection was fixed). */
/** `correctionId`: resend that correction document instead of the invoice. */
export type ResendToKsef = EventMeta & { type: 'RESEND_TO_KSEF'; note?: string; correctionId?: string };
/** `resend`: the report of an e-mail an admin asked for again (the first e-mail's twins carry none). */
export type DocumentEmailed = EventMeta & { type: 'DOCUMENT_EMAILED'; to: string; messageId: string; resend?: boolean };
/** `stage`: which step failed — issuing the document (invoicing) or e-mailing it (mailer). */
export type DocumentFailed = EventMeta & { type: 'DOCUMENT_FAILED'; code: string; message: string; stage?: 'issue' | 'email' };
export type ShipmentAccepted = EventMeta & { type: 'SHIPMENT_ACCEPTED'; shipmentId: string };
export type ShipmentRejected = EventMeta & { type: 'SHIPMENT_REJECTED'; code: string; message: string };
export type HandedToCarrier = EventMeta & {
  type: 'HANDED_TO_CARRIER';
  trackingNumber: string;
  carrier: string | null;
};
export type Delivered = EventMeta & { type: 'DELIVERED' };
/** A warehouse status that needs a human: DELIVERY_FAILED, RETURNED, LOST, ON_HOLD, CANCELLED. */
export type ShipmentProblem = EventMeta & { type: 'SHIPMENT_PROBLEM'; code: string; message: string };
export type Release = EventMeta & { type: 'RELEASE'; note: string };
export type Cancel = EventMeta & { type: 'CANCEL'; note?: string };
export type IssueDocument = EventMeta & { type: 'ISSUE_DOCUMENT'; note?: string };
export type RetryDocument = EventMeta & { type: 'RETRY_DOCUMENT'; note?: string };
export type MarkShipped = EventMeta & {
  type: 'MARK_SHIPPED';
  trackingNumber: string;
  carrier?: string;
  note?: string;
};
/** Admin: a partial refund (amount in minor units) of a paid order, with a partial correction of its document. */
export type Refund = EventMeta & { type: 'REFUND'; amount: number; reason: string; note?: string };
/** The warehouse changed the address of the shipment it has (an admin's UPDATE_SHIPPING_ADDRESS before hand-off). */
/** `address`: the address that change asked for (answers to an older change do not settle a newer one). */
export type ShipmentAddressChanged = EventMeta & { type: 'SHIPMENT_ADDRESS_CHANGED'; address?: Address };
/** The warehouse could not change it: a carrier has the parcel (ADDRESS_CHANGE_TOO_LATE) or it cannot deliver there (ADDRESS_INVALID). */
export type ShipmentAddressRefused = EventMeta & { type: 'SHIPMENT_ADDRESS_REFUSED'; code: string; message: string; address?: Address };
/** The warehouse cancelled the shipment (`existed: false`: it never had one, nothing to cancel). */
export type ShipmentCancelled = EventMeta & { type: 'SHIPMENT_CANCELLED'; existed: boolean };
/** The warehouse could not cancel: a carrier has the parcel already. */
export type ShipmentCancelRefused = EventMeta & { type: 'SHIPMENT_CANCEL_REFUSED'; code: string; message: string };
export type RefundCompleted = EventMeta & { type: 'REFUND_COMPLETED'; refundId: string; providerRefundId: string };
export type RefundFailed = EventMeta & { type: 'REFUND_FAILED'; refundId: string; code: string; message: string };
export type CorrectionIssued = EventMeta & {
  type: 'CORRECTION_ISSUED';
  correctionId: string;
  providerId: string;
  number: string;
  issueDate: string;
  provider: string;
  ksef?: 'sent' | 'outside';
};
export type CorrectionKsefAccepted = EventMeta & { type: 'CORRECTION_KSEF_ACCEPTED'; correctionId: string; ksefNumber: string; verificationLink: string | null };
export type CorrectionKsefRejected = EventMeta & { type: 'CORRECTION_KSEF_REJECTED'; correctionId: string; code: string; errors: string[] };
export type CorrectionEmailed = EventMeta & { type: 'CORRECTION_EMAILED'; correctionId: string; to: string; messageId: string };
/** `stage`: issuing the correction (invoicing) or e-mailing it (mailer). */
export type CorrectionFailed = EventMeta & { type: 'CORRECTION_FAILED'; correctionId: string; code: string; message: string; stage?: 'issue' | 'email' };
/** Admin: a corrected shipping address (while no carrier has the parcel); on a held order it resubmits. */
export type UpdateShippingAddress = EventMeta & { type: 'UPDATE_SHIPPING_ADDRESS'; shippingAddress: Address; note: string };
/** The buyer fields an admin may correct (the e-mail stays the shop's). */
export interface BuyerUpdate {
  name: string;
  company?: string;
  taxId?: string;
}
/** Admin: corrected buyer data (while the order has no document); a failed document is then issued again. */
export type UpdateBuyer = EventMeta & { type: 'UPDATE_BUYER'; customer: BuyerUpdate; billingAddress?: Address; note: string };
/** Admin: a document issued by hand (number and date); the invoicing service looks it up before it counts. */
export type AttachDocument = EventMeta & { type: 'ATTACH_DOCUMENT'; number: string; issueDate: string; note: string };
/** Admin: e-mail the document again, to the customer or to `email`. */
export type ResendDocumentEmail = EventMeta & { type: 'RESEND_DOCUMENT_EMAIL'; email?: string; note?: string };

export type OrderEvent =
  | PaymentConfirmed
  | PaymentFailed
  | PaymentTimeout
  | DocumentIssued
  | DocumentEmailed
  | DocumentFailed
  | KsefAccepted
  | KsefRejected
  | KsefOffline
  | ResendToKsef
  | ShipmentAccepted
  | ShipmentRejected
  | HandedToCarrier
  | Delivered
  | ShipmentProblem
  | Release
  | Cancel
  | IssueDocument
  | RetryDocument
  | MarkShipped
  | UpdateShippingAddress
  | UpdateBuyer
  | AttachDocument
  | ResendDocumentEmail
  | Refund
  | ShipmentCancelled
  | ShipmentCancelRefused
  | ShipmentAddressChanged
  | ShipmentAddressRefused
  | RefundCompleted
  | RefundFailed
  | CorrectionIssued
  | CorrectionKsefAccepted
  | CorrectionKsefRejected
  | CorrectionEmailed
  | CorrectionFailed;

export type OrderEventType = OrderEvent['type'];

/** Events an admin may send (through the admin API / console). */
export const ADMIN_EVENT_TYPES = [
  'RELEASE',
  'CANCEL',
  'ISSUE_DOCUMENT',
  'RETRY_DOCUMENT',
  'MARK_SHIPPED',
  'RESEND_TO_KSEF',
  'UPDATE_SHIPPING_ADDRESS',
  'UPDATE_BUYER',
  'ATTACH_DOCUMENT',
  'RESEND_DOCUMENT_EMAIL',
  'REFUND',
] as const;
export type AdminEventType = (typeof ADMIN_EVENT_TYPES)[number];

export const ORDER_EVENT_TYPES = [
  'PAYMENT_CONFIRMED',
  'PAYMENT_FAILED',
  'PAYMENT_TIMEOUT',
  'DOCUMENT_ISSUED',
  'DOCUMENT_EMAILED',
  'DOCUMENT_FAILED',
  'KSEF_ACCEPTED',
  'KSEF_REJECTED',
  'KSEF_OFFLINE',
  'SHIPMENT_ACCEPTED',
  'SHIPMENT_REJECTED',
  'HANDED_TO_CARRIER',
  'DELIVERED',
  'SHIPMENT_PROBLEM',
  'SHIPMENT_CANCELLED',
  'SHIPMENT_CANCEL_REFUSED',
  'SHIPMENT_ADDRESS_CHANGED',
  'SHIPMENT_ADDRESS_REFUSED',
  'REFUND_COMPLETED',
  'REFUND_FAILED',
  'CORRECTION_ISSUED',
  'CORRECTION_KSEF_ACCEPTED',
  'CORRECTION_KSEF_REJECTED',
  'CORRECTION_EMAILED',
  'CORRECTION_FAILED',
  ...ADMIN_EVENT_TYPES,
] as const satisfies readonly OrderEventType[];

/** The summary state stored in `orders.state` and shown to people. */
/** `cancelling`: an admin cancelled a paid order; the warehouse is asked to cancel its shipment first. */
export type OrderStatus = 'pending' | 'paid' | 'processing' | 'inShipment' | 'held' | 'closed' | 'cancelling' | 'cancelled';
export const ORDER_STATUSES: readonly OrderStatus[] = ['pending', 'paid', 'processing', 'inShipment', 'held', 'closed', 'cancelling', 'cancelled'];
/**
 * `ksefSent` / `ksefOffline` / `ksefRejected`: created at the invoicing system, not yet accepted by KSeF.
 * `attaching`: an admin attached a document issued by hand, being looked up; `attached`: recorded as
 * the admin gave it, not found at the invoicing system (so nothing to e-mail from there).
 */
export type DocumentStatus = 'none' | 'requested' | 'attaching' | 'ksefSent' | 'ksefOffline' | 'ksefRejected' | 'issued' | 'emailed' | 'attached' | 'failed';
export const DOCUMENT_STATUSES: readonly DocumentStatus[] = ['none', 'requested', 'attaching', 'ksefSent', 'ksefOffline', 'ksefRejected', 'issued', 'emailed', 'attached', 'failed'];

/** Named side effects the machine asks for; the host turns them into outbox rows or timers. */
export type OrderEffect =
  | { type: 'schedulePaymentTimeout' }
  | { type: 'cancelPaymentTimeout' }
  | { type: 'requestDocument'; params: { reason: 'payment' | 'admin' } }
  | { type: 'emailDocument'; params: EmailDocumentParams }
  | { type: 'verifyDocument'; params: { number: string; issueDate: string } }
  | { type: 'resendToKsef' }
  | { type: 'submitToWarehouse'; params: { reason: 'payment' | 'release' } }
  | { type: 'notifyAdmin'; params: AdminNotice }
  | { type: 'cancelShipment' }
  | { type: 'changeShipmentAddress' }
  | { type: 'refundPayment'; params: { refundId: string } }
  | { type: 'issueCorrection'; params: { correctionId: string } }
  | { type: 'emailCorrection'; params: { correctionId: string } }
  | { type: 'resendCorrectionToKsef'; params: { correctionId: string } };

/** `to`: another recipient than the customer; `resend`: a repeat an admin asked for (a new e-mail, not the first one again). */
export interface EmailDocumentParams {
  to: string | null;
  resend: boolean;
}

export interface AdminNotice {
  kind: string;
  severity: 'info' | 'warning' | 'critical';
  code: string;
  message: string;
}
