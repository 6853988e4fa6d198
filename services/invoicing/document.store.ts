import type { DocumentInfo } from '../../machines/order/index.ts';
import type { Sql } from '../../infra/db/postgres.ts';

/**
 * The invoicing service's own bookkeeping (`documents`): which document each order got. Not order
 * state (the order actor records DOCUMENT_ISSUED); it lets a repeated command answer without asking
 * the invoicing system, and shows admins what was issued and what failed.
 */
/**
 * A document on record, and whether it went to KSeF (`sent`: it has a KSeF record; `outside`: not) —
 * read with the document itself, so a report needs no second look-up.
 */
export interface RecordedDocument {
  document: DocumentInfo;
  ksef: 'sent' | 'outside';
}

export interface DocumentStore {
  /** The issued document of an order, if this service recorded one. */
  issuedFor(orderId: string): Promise<RecordedDocument | null>;
  /**
   * Records the issued document. The first one recorded for an order wins (a second answer for the
   * same order cannot replace it); returns the document that is on record.
   */
  saveIssued(orderId: string, doc: DocumentInfo, opts?: { ksefFirstPollAt?: Date; correctionOf?: string }): Promise<RecordedDocument>;
  /** Records a failure, unless the order already has an issued document. */
  saveFailed(orderId: string, provider: string, code: string, message: string, opts?: { correctionOf?: string }): Promise<void>;
}

interface Row {
  provider: string;
  provider_id: string;
  number: string;
  issue_date: string;
  pdf_url: string | null;
  in_ksef: boolean;
}

const toRecorded = (r: Row): RecordedDocument => ({
  document: { providerId: r.provider_id, number: r.number, issueDate: r.issue_date, provider: r.provider, ...(r.pdf_url ? { pdfUrl: r.pdf_url } : {}) },
  ksef: r.in_ksef ? 'sent' : 'outside',
});

export function createDocumentStore(sql: Sql): DocumentStore {
  return {
    async issuedFor(orderId) {
      const [row] = await sql<Row[]>`select provider, provider_id, number, issue_date::text as issue_date, pdf_url, ksef_state is not null as in_ksef
        from documents where order_id = ${orderId} and status = 'issued'`;
      return row ? toRecorded(row) : null;
    },
    async saveIssued(orderId, doc, opts = {}) {
      // Sent to KSeF: the KSeF record starts in the same statement, so no crash leaves a document
      // that went to KSeF without its poll (the KSeF poller picks it up at ksef_next_poll_at).
      const poll = opts.ksefFirstPollAt ?? null;
      const parent = opts.correctionOf ?? null;
      const [row] = await sql<Row[]>`insert into documents (order_id, provider, provider_id, number, issue_date, status,
          ksef_state, ksef_sends, ksef_sent_at, ksef_next_poll_at, kind, parent_order_id, pdf_url)
        values (${orderId}, ${doc.provider}, ${doc.providerId}, ${doc.number}, ${doc.issueDate}, 'issued',
          ${poll === null ? null : 'processing'}, ${poll === null ? 0 : 1}, ${poll === null ? null : sql`now()`}, ${poll},
          ${parent === null ? 'invoice' : 'correction'}, ${parent}, ${doc.pdfUrl ?? null})
        on conflict (order_id) do update set provider = excluded.provider, provider_id = excluded.provider_id,
          number = excluded.number, issue_date = excluded.issue_date, status = 'issued', pdf_url = excluded.pdf_url,
          ksef_state = excluded.ksef_state, ksef_sends = excluded.ksef_sends, ksef_sent_at = excluded.ksef_sent_at,
          ksef_next_poll_at = excluded.ksef_next_poll_at,
          error_code = null, error_message = null, updated_at = now()
          where documents.status <> 'issued'
        returning provider, provider_id, number, issue_date::text as issue_date, pdf_url, ksef_state is not null as in_ksef`;
      if (row) return toRecorded(row);
      const existing = await this.issuedFor(orderId);
      return existing ?? { document: doc, ksef: poll === null ? 'outside' : 'sent' };
    },
    async saveFailed(orderId, provider, code, message, opts = {}) {
      const parent = opts.correctionOf ?? null;
      await sql`insert into documents (order_id, provider, status, error_code, error_message, kind, parent_order_id)
        values (${orderId}, ${provider}, 'failed', ${code}, ${message.slice(0, 2000)}, ${parent === null ? 'invoice' : 'correction'}, ${parent})
        on conflict (order_id) do update set error_code = excluded.error_code, error_message = excluded.error_message,
          status = 'failed', updated_at = now()
          where documents.status <> 'issued'`;
    },
  };
}
