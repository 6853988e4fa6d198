/**
 * The one error taxonomy of orderpilot. Code branches on `code` and `retryable`, never on message
 * text. The gateway maps codes to HTTP statuses in one error handler (`httpStatus`).
 */

interface ErrorSpec {
  readonly retryable: boolean;
  readonly httpStatus: number;
}

export const ERROR_CODES = {
  // transient
  DB_UNAVAILABLE: { retryable: true, httpStatus: 503 },
  DB_CONFLICT: { retryable: true, httpStatus: 503 },
  NATS_UNAVAILABLE: { retryable: true, httpStatus: 503 },
  PROVIDER_TIMEOUT: { retryable: true, httpStatus: 504 },
  PROVIDER_UNAVAILABLE: { retryable: true, httpStatus: 502 },
  PROVIDER_RATE_LIMITED: { retryable: true, httpStatus: 503 },
  SMTP_UNAVAILABLE: { retryable: true, httpStatus: 503 },
  // permanent
  VALIDATION_FAILED: { retryable: false, httpStatus: 422 },
  MALFORMED_MESSAGE: { retryable: false, httpStatus: 400 },
  MALFORMED_JSON: { retryable: false, httpStatus: 400 },
  /** Text that cannot be stored or processed: a NUL, a lone surrogate, nesting beyond the limit, a bad URL. */
  TEXT_INVALID: { retryable: false, httpStatus: 400 },
  URI_TOO_LONG: { retryable: false, httpStatus: 414 },
  BODY_TOO_LARGE: { retryable: false, httpStatus: 413 },
  UNSUPPORTED_MEDIA_TYPE: { retryable: false, httpStatus: 415 },
  UNKNOWN_ORDER: { retryable: false, httpStatus: 404 },
  UNKNOWN_MACHINE_VERSION: { retryable: false, httpStatus: 500 },
  ORDER_CONFLICT: { retryable: false, httpStatus: 409 },
  EVENT_NOT_ALLOWED: { retryable: false, httpStatus: 409 },
  /** An admin's Idempotency-Key sent again with another order, event type or body. */
  IDEMPOTENCY_KEY_REUSED: { retryable: false, httpStatus: 422 },
  /** The first request with this Idempotency-Key has not answered yet. */
  IDEMPOTENCY_IN_PROGRESS: { retryable: true, httpStatus: 409 },
  SIGNATURE_INVALID: { retryable: false, httpStatus: 400 },
  /** A webhook rejected on arrival is replayed only with `force` and a note. */
  REPLAY_NEEDS_FORCE: { retryable: false, httpStatus: 409 },
  /** Too many unauthenticated (bad-signature or unreadable) webhooks from one address. */
  RATE_LIMITED: { retryable: true, httpStatus: 429 },
  UNAUTHENTICATED: { retryable: false, httpStatus: 401 },
  FORBIDDEN: { retryable: false, httpStatus: 403 },
  NOT_FOUND: { retryable: false, httpStatus: 404 },
  PAYMENT_MISMATCH: { retryable: false, httpStatus: 422 },
  INVOICE_BUYER_TAX_ID_INVALID: { retryable: false, httpStatus: 422 },
  INVOICE_BUYER_DATA_MISSING: { retryable: false, httpStatus: 422 },
  INVOICE_REJECTED: { retryable: false, httpStatus: 422 },
  /** The seller's data KSeF requires is not configured (SELLER_*): the field is named in the message. */
  INVOICE_SELLER_DATA_MISSING: { retryable: false, httpStatus: 422 },
  /** A field breaks a KSeF rule (length, format): the field is named in the message. */
  INVOICE_KSEF_FIELD_INVALID: { retryable: false, httpStatus: 422 },
  /** The invoicing system already has a document for this order id (oid_unique): look it up. */
  INVOICE_ALREADY_EXISTS: { retryable: false, httpStatus: 409 },
  /** A document an admin attached belongs to another order at the invoicing system, or has another date. */
  DOCUMENT_ATTACH_MISMATCH: { retryable: false, httpStatus: 422 },
  /** The payment provider refused a refund (already refunded, more than was paid, unknown payment): its code in the message. */
  REFUND_REJECTED: { retryable: false, httpStatus: 422 },
  /** No credentials for the payment's provider (STRIPE_SECRET_KEY, PAYU_CLIENT_ID / PAYU_CLIENT_SECRET). */
  PAYMENTS_NOT_CONFIGURED: { retryable: false, httpStatus: 503 },
  RETRIES_EXHAUSTED: { retryable: false, httpStatus: 503 },
  WAREHOUSE_UNREACHABLE: { retryable: false, httpStatus: 503 },
  /** The warehouse answered something our contract does not allow (401, 400, a malformed body). */
  WAREHOUSE_ERROR: { retryable: false, httpStatus: 502 },
  ADDRESS_INVALID: { retryable: false, httpStatus: 422 },
  OUT_OF_STOCK: { retryable: false, httpStatus: 422 },
  SKU_UNKNOWN: { retryable: false, httpStatus: 422 },
  REJECTED: { retryable: false, httpStatus: 422 },
  MAIL_REJECTED: { retryable: false, httpStatus: 422 },
  /** The connection broke after the mail was handed over: it may or may not have arrived (MAIL_UNCERTAIN=notify). */
  MAIL_UNCERTAIN: { retryable: false, httpStatus: 502 },
  /** A shop's REST API refused an update (4xx other than 408/429): its code in the message. */
  SHOP_REJECTED: { retryable: false, httpStatus: 502 },
  INTERNAL: { retryable: false, httpStatus: 500 },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** What an error carries besides its code and message. */
export interface OrderpilotErrorOptions {
  /** Structured detail for the caller (the HTTP error body's `details`, e.g. the invalid fields). */
  details?: unknown;
  /** Overrides the code's class (a 4xx that is worth retrying, a 5xx that is not). */
  retryable?: boolean;
  cause?: unknown;
  /** The provider's Retry-After: the retry waits this long instead of the backoff. */
  retryAfterMs?: number;
}

/** An error with a code from the taxonomy; `retryable` comes from the code unless overridden. */
export class OrderpilotError extends Error {
  readonly retryable: boolean;
  readonly details: unknown;
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly code: ErrorCode,
    message: string,
    opts: OrderpilotErrorOptions = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'OrderpilotError';
    this.details = opts.details;
    this.retryable = opts.retryable ?? ERROR_CODES[code].retryable;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

export function isOrderpilotError(err: unknown): err is OrderpilotError {
  return err instanceof OrderpilotError;
}

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code].httpStatus;
}
