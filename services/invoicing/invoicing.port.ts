import type { DocumentInfo, OrderData } from '../../machines/order/index.ts';

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
   * Issues the sales document for the order, tagged with the order id so the provider refuses a
   * second one (INVOICE_ALREADY_EXISTS).
   */
  issue(order: OrderData): Promise<DocumentInfo>;
  /** The document's PDF (starts with `%PDF-`). */
  downloadPdf(providerId: string): Promise<Buffer>;
}
