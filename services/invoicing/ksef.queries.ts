import type { Sql } from '../../infra/db/postgres.ts';
import type { KsefFileKind } from './invoicing.port.ts';
import { createKsefStore, type KsefState } from './ksef.store.ts';

/**
 * The invoicing service's KSeF read model, for the console and `/metrics` (through `index.ts`):
 * the kept KSeF files of an order's document, documents waiting for KSeF, and those an admin should
 * look at. The service owns `documents` and `ksef_files`; nobody else writes SQL against them.
 */

export type { KsefFileKind };

/** A KSeF file kept for an order's document: the KSeF XML (`gov`) or the UPO receipt (`gov_upo`). */
export interface KsefFileInfo {
  kind: KsefFileKind;
  size: number;
  fetchedAt: string;
}

export async function ksefFilesOf(sql: Sql, orderId: string): Promise<KsefFileInfo[]> {
  return (await createKsefStore(sql).filesOf(orderId)).map((f) => ({ kind: f.kind, size: f.size, fetchedAt: f.fetchedAt.toISOString() }));
}

/** One kept KSeF file with its content and the document number (for the download's file name). */
export async function ksefFile(sql: Sql, orderId: string, kind: KsefFileKind): Promise<{ content: Buffer; contentType: string; number: string } | null> {
  return createKsefStore(sql).file(orderId, kind);
}

/** The KSeF XML and UPO kept for an order's correction documents, by the correction's provider id. */
export async function correctionKsefFilesOf(sql: Sql, orderId: string): Promise<Array<KsefFileInfo & { providerId: string; number: string }>> {
  return (await createKsefStore(sql).correctionFilesOf(orderId)).map((f) => ({ providerId: f.providerId, number: f.number, kind: f.kind, size: f.size, fetchedAt: f.fetchedAt.toISOString() }));
}

/** One correction's kept KSeF file (null unless that correction belongs to the order). */
export async function correctionKsefFile(sql: Sql, orderId: string, providerId: string, kind: KsefFileKind) {
  return createKsefStore(sql).correctionFile(orderId, providerId, kind);
}

/** Documents sent to KSeF and not accepted or rejected yet (processing or offline). */
export async function documentsWaitingForKsef(sql: Sql): Promise<number> {
  return createKsefStore(sql).waitingCount();
}

/** A document an admin should look at: KSeF rejected it, or it has waited longer than KSEF_ATTENTION_MS. */
export interface KsefAttention {
  orderId: string;
  number: string;
  state: KsefState;
  code: string | null;
  errors: string[];
  sentAt: string;
  polls: number;
}

/**
 * Rejected documents, and documents waiting for KSeF longer than `waitingLongerThanMs`; longest
 * waiting first. A correction document is listed under the order it corrects (its number says which).
 */
export async function ksefDocumentsNeedingAttention(sql: Sql, waitingLongerThanMs: number, limit = 200): Promise<KsefAttention[]> {
  const rows = await sql<Array<{ order_id: string; number: string; ksef_state: KsefState; ksef_code: string | null; ksef_errors: string[] | null; ksef_sent_at: Date; ksef_polls: number }>>`
    select coalesce(parent_order_id, order_id) as order_id, number, ksef_state, ksef_code, ksef_errors, ksef_sent_at, ksef_polls from documents
    where ksef_state = 'rejected'
       or (ksef_state in ('processing', 'offline') and ksef_sent_at < now() - ${waitingLongerThanMs} * interval '1 millisecond')
    order by ksef_sent_at, order_id limit ${limit}`;
  return rows.map((r) => ({
    orderId: r.order_id,
    number: r.number,
    state: r.ksef_state,
    code: r.ksef_code,
    errors: r.ksef_errors ?? [],
    sentAt: r.ksef_sent_at.toISOString(),
    polls: r.ksef_polls,
  }));
}
