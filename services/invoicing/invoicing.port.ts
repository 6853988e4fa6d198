import type { DocumentInfo, OrderData, Payment } from '../../machines/order/index.ts';
import type { KsefReading } from './ksef-status.mapping.ts';

export interface IssueOptions {
  /** The confirmed payment: the document is issued paid (status, paid date, method). */
  payment: Payment | null;
  /** Ask the invoicing system to send the document to KSeF when it saves it (`gov_save_and_send`). */
  sendToKsef: boolean;
}

/** What a correction reverses: the whole document (`full`), or `amount` gross in minor units. */
export interface CorrectionSpec {
  correctionId: string;
  amount: number;
  full: boolean;
  reason: string;
}

/** A KSeF file of an accepted document: the invoice XML (`gov`) or the receipt UPO (`gov_upo`). */
export type KsefFileKind = 'gov' | 'gov_upo';

/**
 * The invoicing system as the invoicing service and the mailer see it. Adapters translate to one
 * provider's API and throw OrderpilotError with a code: retryable ones (PROVIDER_TIMEOUT,
 * PROVIDER_UNAVAILABLE, PROVIDER_RATE_LIMITED with `retryAfterMs`) are worth another attempt;
 * permanent ones (INVOICE_BUYER_TAX_ID_INVALID, INVOICE_BUYER_DATA_MISSING, INVOICE_REJECTED,
 * INVOICE_ALREADY_EXISTS, NOT_FOUND) are not.
 */
export interface InvoicingProvider {
  /** Provider name recorded on the document (`DocumentInfo.provider`). */
  readonly name: string;
  /**
   * The document already issued for this order id, if any (matched exactly on our side). Covers the
   * "issued, but the answer was lost" case before anything new is created.
   */
  findByOrder(orderId: string): Promise<DocumentInfo | null>;
  /**
   * Every document tagged with this order id, oldest first, read across all pages. More than one is
   * a duplicate at the invoicing system (made by hand, or by a client without `oid_unique`).
   */
  findAllByOrder(orderId: string): Promise<DocumentInfo[]>;
  /**
   * Issues the sales document for the order, tagged with the order id so the provider refuses a
   * second one (INVOICE_ALREADY_EXISTS).
   */
  issue(order: OrderData, opts?: IssueOptions): Promise<DocumentInfo>;
  /**
   * The documents with exactly this number (an admin's document issued by hand), each with the order
   * id it was tagged with (`oid`, null when none).
   */
  findByNumber(number: string): Promise<Array<DocumentInfo & { oid: string | null }>>;
  /**
   * Issues a correction document of `original` (Fakturownia `kind: "correction"` with `invoice_id`),
   * tagged with `correctionId` as its oid so the provider refuses a second one (INVOICE_ALREADY_EXISTS);
   * look it up with `findByOrder(correctionId)`.
   */
  issueCorrection(order: OrderData, original: DocumentInfo, correction: CorrectionSpec, opts: { sendToKsef: boolean }): Promise<DocumentInfo>;
  /** The document's KSeF fields (`gov_status`, `gov_id`, …) as the invoicing system has them now. */
  ksefStatus(providerId: string): Promise<KsefReading>;
  /** Asks the invoicing system to send an existing document to KSeF (again). */
  sendToKsef(providerId: string): Promise<void>;
  /** Provider ids of the documents that carry this KSeF number (exact match). */
  findByKsefNumber(ksefNumber: string): Promise<string[]>;
  /** A KSeF file of an accepted document, or null while the invoicing system does not have it (404). */
  downloadKsefFile(providerId: string, kind: KsefFileKind): Promise<Buffer | null>;
  /** The document's PDF (starts with `%PDF-`). */
  downloadPdf(providerId: string): Promise<Buffer>;
}
