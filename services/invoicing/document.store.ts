import type { DocumentInfo } from '../../machines/order/index.ts';
import { createGroupedWrites } from '../../infra/db/grouped-writes.ts';
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

/** The columns `Row` is read from (with `documents` unaliased). */
const ISSUED_COLUMNS_TEXT = 'provider, provider_id, number, issue_date::text as issue_date, pdf_url, ksef_state is not null as in_ksef';

const toRecorded = (r: Row): RecordedDocument => ({
  document: { providerId: r.provider_id, number: r.number, issueDate: r.issue_date, provider: r.provider, ...(r.pdf_url ? { pdfUrl: r.pdf_url } : {}) },
  ksef: r.in_ksef ? 'sent' : 'outside',
});

/** Most look-ups, or saves, in one statement (one statement of each in flight; more wait and go together). */
const GROUP_MAX = 100;

interface Save {
  orderId: string;
  doc: DocumentInfo;
  /** The first KSeF poll (sent to KSeF), or null (outside KSeF). */
  poll: Date | null;
  parent: string | null;
}

export function createDocumentStore(sql: Sql): DocumentStore {
  const ISSUED_COLUMNS = sql.unsafe(ISSUED_COLUMNS_TEXT);
  // Look-ups and saves of concurrent commands share a statement (and its commit) when they meet:
  // each item is answered exactly as alone. One statement holds one save per order (an upsert may
  // touch a row once per statement); a statement that fails is tried again item by item, so one
  // bad save (a constraint it breaks) fails only its own command.
  const lookUp = createGroupedWrites<string, RecordedDocument | null>({
    maxBatch: GROUP_MAX,
    async write(orderIds) {
      // One index probe per order id, whatever the table's size: each look-up is its own fenced
      // sub-query (`offset 0`), and the status is tested outside it. Written as one condition
      // (`order_id = any(...) and status = 'issued'`), the plan a connection kept from a young table
      // walked the status index through every issued document in each statement.
      const rows = await sql<Array<Row & { order_id: string }>>`select u.id as order_id, d.*
        from unnest(${orderIds}::text[]) as u(id)
        cross join lateral (select status, ${ISSUED_COLUMNS} from documents where order_id = u.id offset 0) as d
        where d.status = 'issued'`;
      const byOrder = new Map(rows.map((r) => [r.order_id, toRecorded(r)]));
      return orderIds.map((id) => byOrder.get(id) ?? null);
    },
  });
  const insertIssued = (batch: Save[]) =>
    sql<Array<Row & { order_id: string }>>`insert into documents (order_id, provider, provider_id, number, issue_date, status,
        ksef_state, ksef_sends, ksef_sent_at, ksef_next_poll_at, kind, parent_order_id, pdf_url)
      select v.order_id, v.provider, v.provider_id, v.number, v.issue_date, 'issued',
        case when v.poll is null then null else 'processing' end, case when v.poll is null then 0 else 1 end,
        case when v.poll is null then null else now() end, v.poll,
        case when v.parent is null then 'invoice' else 'correction' end, v.parent, v.pdf_url
      from unnest(${batch.map((b) => b.orderId)}::text[], ${batch.map((b) => b.doc.provider)}::text[], ${batch.map((b) => b.doc.providerId)}::text[],
                  ${batch.map((b) => b.doc.number)}::text[], ${batch.map((b) => b.doc.issueDate)}::date[], ${batch.map((b) => b.poll?.toISOString() ?? null)}::timestamptz[],
                  ${batch.map((b) => b.parent)}::text[], ${batch.map((b) => b.doc.pdfUrl ?? null)}::text[])
        as v(order_id, provider, provider_id, number, issue_date, poll, parent, pdf_url)
      on conflict (order_id) do update set provider = excluded.provider, provider_id = excluded.provider_id,
        number = excluded.number, issue_date = excluded.issue_date, status = 'issued', pdf_url = excluded.pdf_url,
        ksef_state = excluded.ksef_state, ksef_sends = excluded.ksef_sends, ksef_sent_at = excluded.ksef_sent_at,
        ksef_next_poll_at = excluded.ksef_next_poll_at,
        error_code = null, error_message = null, updated_at = now()
        where documents.status <> 'issued'
      returning order_id, ${ISSUED_COLUMNS}`;
  const save = createGroupedWrites<Save, RecordedDocument | null | { failed: unknown }>({
    maxBatch: GROUP_MAX,
    key: (b) => b.orderId,
    async write(batch) {
      const answer = (rows: Array<Row & { order_id: string }>) => new Map(rows.map((r) => [r.order_id, toRecorded(r)]));
      try {
        const saved = answer(await insertIssued(batch));
        return batch.map((b) => saved.get(b.orderId) ?? null);
      } catch (err) {
        if (batch.length === 1) throw err;
        // Nothing of the statement was written: each save alone decides its own command's fate.
        return Promise.all(batch.map((b) => insertIssued([b]).then((rows) => answer(rows).get(b.orderId) ?? null, (failed: unknown) => ({ failed }))));
      }
    },
  });
  return {
    issuedFor(orderId) {
      return lookUp(orderId);
    },
    async saveIssued(orderId, doc, opts = {}) {
      // Sent to KSeF: the KSeF record starts in the same statement, so no crash leaves a document
      // that went to KSeF without its poll (the KSeF poller picks it up at ksef_next_poll_at).
      const poll = opts.ksefFirstPollAt ?? null;
      const saved = await save({ orderId, doc, poll, parent: opts.correctionOf ?? null });
      if (saved !== null && 'failed' in saved) throw saved.failed;
      if (saved !== null) return saved;
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
