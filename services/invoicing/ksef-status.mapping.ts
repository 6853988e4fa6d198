/**
 * Fakturownia's `gov_status` values (KSeF.md, "Możliwe statusy") mapped to what orderpilot does next.
 * The one place these strings are read. Demo accounts report the same values with a `demo_` prefix
 * (`demo_ok`, `demo_processing`, …), except `null` ("not sent").
 */

/** A reading of one document's KSeF fields (`GET /invoices/{id}.json`). */
export interface KsefReading {
  /** The raw `gov_status` (null: not sent to KSeF). */
  govStatus: string | null;
  /** `gov_id`: the KSeF number, once KSeF accepted the document. */
  ksefNumber: string | null;
  verificationLink: string | null;
  /** `gov_error_messages` (null → []). */
  errors: string[];
}

export type KsefVerdict =
  /** `processing`: queued or being sent; ask again later. */
  | { kind: 'pending' }
  /** `null`: the invoicing system has not sent it (yet); orderpilot asks it to (`send_to_ksef=yes`). */
  | { kind: 'not-sent' }
  /** `ok`: accepted; the KSeF number is `gov_id`. */
  | { kind: 'accepted'; ksefNumber: string; verificationLink: string | null }
  /** `server_error`: KSeF itself failed; Fakturownia does not retry, so orderpilot resends with backoff. */
  | { kind: 'outage'; errors: string[] }
  /** `status_check_error`: the status could not be checked (it may already be accepted): ask again. */
  | { kind: 'uncertain'; errors: string[] }
  /** `offline`: issued in an offline mode, waiting to be passed to KSeF. */
  | { kind: 'offline'; errors: string[] }
  /** `duplicate_error`: KSeF already has a document with this number: look it up, never issue again. */
  | { kind: 'duplicate'; errors: string[] }
  /** Refused, or a status orderpilot cannot act on: an admin must look (critical). */
  | { kind: 'rejected'; code: KsefRejectionCode; errors: string[] };

export const KSEF_REJECTION_CODES = [
  'KSEF_REJECTED',
  'KSEF_OFFLINE_ERROR',
  'KSEF_PERMISSION_DENIED',
  'KSEF_NOT_CONNECTED',
  'KSEF_NOT_APPLICABLE',
  'KSEF_STATUS_UNKNOWN',
  'KSEF_UNAVAILABLE',
  'KSEF_DUPLICATE_UNRESOLVED',
] as const;
export type KsefRejectionCode = (typeof KSEF_REJECTION_CODES)[number];

const REJECTED: Readonly<Record<string, { code: KsefRejectionCode; what: string }>> = {
  send_error: { code: 'KSEF_REJECTED', what: 'KSeF refused the document' },
  offline_error: { code: 'KSEF_OFFLINE_ERROR', what: 'the offline document could not be handled' },
  blocked_403_error: { code: 'KSEF_PERMISSION_DENIED', what: 'the invoicing system may not send documents to KSeF (403): check the KSeF authorisation' },
  not_connected: { code: 'KSEF_NOT_CONNECTED', what: 'KSeF is not connected to the invoicing account' },
  not_applicable: { code: 'KSEF_NOT_APPLICABLE', what: 'the invoicing system says this document does not qualify for KSeF' },
};

/** Maps a reading to the next step. An unknown status is never guessed at: an admin is told. */
export function ksefVerdict(r: KsefReading): KsefVerdict {
  if (r.govStatus === null || r.govStatus === '') return { kind: 'not-sent' };
  const status = r.govStatus.replace(/^demo_/, '');
  switch (status) {
    case 'processing':
      return { kind: 'pending' };
    case 'ok':
      return r.ksefNumber ? { kind: 'accepted', ksefNumber: r.ksefNumber, verificationLink: r.verificationLink } : { kind: 'uncertain', errors: ['gov_status ok without gov_id'] };
    case 'server_error':
      return { kind: 'outage', errors: r.errors };
    case 'status_check_error':
      return { kind: 'uncertain', errors: r.errors };
    case 'offline':
      return { kind: 'offline', errors: r.errors };
    case 'duplicate_error':
      return { kind: 'duplicate', errors: r.errors };
    default: {
      const known = REJECTED[status];
      if (known) return { kind: 'rejected', code: known.code, errors: r.errors.length > 0 ? r.errors : [known.what] };
      return { kind: 'rejected', code: 'KSEF_STATUS_UNKNOWN', errors: [`unknown gov_status "${r.govStatus}"`, ...r.errors] };
    }
  }
}

/** A KSeF number (`{seller NIP}-{YYYYMMDD}-{id}`) quoted in a duplicate's error messages, if any. */
export function ksefNumberIn(messages: readonly string[]): string | null {
  for (const m of messages) {
    const hit = /\b\d{10}-\d{8}-[0-9A-F]{6,}(?:-[0-9A-F]{2,})?\b/i.exec(m);
    if (hit) return hit[0];
  }
  return null;
}
