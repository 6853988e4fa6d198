import type { Sql } from '../../infra/db/postgres.ts';
import type { KsefFileKind } from './invoicing.port.ts';

/** Where a document stands in KSeF, as the invoicing service keeps it (`documents.ksef_*`). */
export type KsefState = 'processing' | 'offline' | 'accepted' | 'rejected';

export interface KsefRow {
  /** The document's own key: the order id, or a correction's id (its oid). */
  orderId: string;
  /** For a correction document: the order it corrects (its KSeF verdict is reported there). */
  parentOrderId: string | null;
  provider: string;
  providerId: string;
  number: string;
  state: KsefState;
  govStatus: string | null;
  ksefNumber: string | null;
  link: string | null;
  code: string | null;
  errors: string[];
  sends: number;
  outageResends: number;
  polls: number;
  sentAt: Date;
  verdictAt: Date | null;
  reported: string | null;
  resendCommand: string | null;
  /** KSeF files kept so far (0..2). */
  files: number;
}

/** What one poll (or resend) changed; written in one statement. */
export type KsefPatch = Pick<
  KsefRow,
  'state' | 'govStatus' | 'ksefNumber' | 'link' | 'code' | 'errors' | 'outageResends' | 'polls' | 'verdictAt'
>;

interface Row {
  order_id: string;
  parent_order_id: string | null;
  provider: string;
  provider_id: string;
  number: string;
  ksef_state: KsefState;
  ksef_gov_status: string | null;
  ksef_number: string | null;
  ksef_link: string | null;
  ksef_code: string | null;
  ksef_errors: string[] | null;
  ksef_sends: number;
  ksef_outage_resends: number;
  ksef_polls: number;
  ksef_sent_at: Date;
  ksef_verdict_at: Date | null;
  ksef_reported: string | null;
  ksef_resend_command: string | null;
  files: number;
}

const toRow = (r: Row): KsefRow => ({
  orderId: r.order_id,
  parentOrderId: r.parent_order_id,
  provider: r.provider,
  providerId: r.provider_id,
  number: r.number,
  state: r.ksef_state,
  govStatus: r.ksef_gov_status,
  ksefNumber: r.ksef_number,
  link: r.ksef_link,
  code: r.ksef_code,
  errors: r.ksef_errors ?? [],
  sends: r.ksef_sends,
  outageResends: r.ksef_outage_resends,
  polls: r.ksef_polls,
  sentAt: r.ksef_sent_at,
  verdictAt: r.ksef_verdict_at,
  reported: r.ksef_reported,
  resendCommand: r.ksef_resend_command,
  files: Number(r.files),
});

/**
 * The KSeF side of `documents`, and `ksef_files`. Work is found by `ksef_next_poll_at`: a claim
 * moves it one lease ahead (so a killed poller's documents come back by themselves, and two
 * instances never poll one document at once); finishing the work sets the next due time, or null.
 */
export interface KsefStore {
  /** The document was just created and sent to KSeF: the first poll is due at `firstPollAt`. */
  markSent(orderId: string, firstPollAt: Date): Promise<void>;
  /** The KSeF record of an order's document, if it went to KSeF. */
  stateOf(orderId: string): Promise<KsefRow | null>;
  /** Claims up to `limit` documents with due work, pushing their due time `leaseMs` ahead. */
  claimDue(limit: number, leaseMs: number): Promise<KsefRow[]>;
  /** Records a poll's outcome; `nextAt` null clears the due time (nothing left to do). */
  update(providerId: string, patch: KsefPatch, nextAt: Date | null): Promise<void>;
  /** Records that the order actor was told `verdict`, and when the document is due next. */
  reported(providerId: string, verdict: string, nextAt: Date | null): Promise<void>;
  /** An admin resend: a new send cycle (counters reset), first poll at `firstPollAt`. Returns false if `commandId` was applied already. */
  resent(providerId: string, commandId: string, firstPollAt: Date): Promise<boolean>;
  /** A resend found the document already accepted: report it again. */
  reportAgain(providerId: string, commandId: string): Promise<void>;
  saveFile(row: Pick<KsefRow, 'orderId' | 'provider' | 'providerId'>, kind: KsefFileKind, content: Buffer, contentType: string): Promise<void>;
  filesOf(orderId: string): Promise<Array<{ kind: KsefFileKind; size: number; fetchedAt: Date }>>;
  file(orderId: string, kind: KsefFileKind): Promise<{ content: Buffer; contentType: string; number: string } | null>;
  /** The KSeF files kept for the correction documents of an order (their `parent_order_id`). */
  correctionFilesOf(orderId: string): Promise<Array<{ providerId: string; number: string; kind: KsefFileKind; size: number; fetchedAt: Date }>>;
  /** One correction's KSeF file, only when that correction belongs to `orderId`. */
  correctionFile(orderId: string, providerId: string, kind: KsefFileKind): Promise<{ content: Buffer; contentType: string; number: string } | null>;
  /** Documents sent to KSeF and not yet accepted or rejected (processing or offline). */
  waitingCount(): Promise<number>;
}

export function createKsefStore(sql: Sql): KsefStore {
  const cols = sql`d.order_id, d.parent_order_id, d.provider, d.provider_id, d.number, d.ksef_state, d.ksef_gov_status, d.ksef_number, d.ksef_link,
    d.ksef_code, d.ksef_errors, d.ksef_sends, d.ksef_outage_resends, d.ksef_polls, d.ksef_sent_at, d.ksef_verdict_at,
    d.ksef_reported, d.ksef_resend_command,
    (select count(*) from ksef_files f where f.provider = d.provider and f.provider_id = d.provider_id)::int as files`;
  return {
    async markSent(orderId, firstPollAt) {
      await sql`update documents set ksef_state = 'processing', ksef_sends = 1, ksef_sent_at = now(), ksef_polls = 0,
          ksef_outage_resends = 0, ksef_next_poll_at = ${firstPollAt}, updated_at = now()
        where order_id = ${orderId} and ksef_state is null`;
    },
    async stateOf(orderId) {
      const [r] = await sql<Row[]>`select ${cols} from documents d where d.order_id = ${orderId} and d.ksef_state is not null`;
      return r ? toRow(r) : null;
    },
    async claimDue(limit, leaseMs) {
      const rows = await sql<Row[]>`
        with due as (
          select id from documents where ksef_next_poll_at <= now()
          order by ksef_next_poll_at limit ${limit} for update skip locked)
        update documents d set ksef_next_poll_at = now() + ${leaseMs} * interval '1 millisecond'
        from due where d.id = due.id
        returning ${cols}`;
      return rows.map(toRow);
    },
    async update(providerId, p, nextAt) {
      await sql`update documents set ksef_state = ${p.state}, ksef_gov_status = ${p.govStatus}, ksef_number = ${p.ksefNumber},
          ksef_link = ${p.link}, ksef_code = ${p.code}, ksef_errors = ${sql.json(p.errors)}, ksef_outage_resends = ${p.outageResends},
          ksef_polls = ${p.polls}, ksef_verdict_at = ${p.verdictAt}, ksef_next_poll_at = ${nextAt}, updated_at = now()
        where provider_id = ${providerId} and ksef_state is not null`;
    },
    async reported(providerId, verdict, nextAt) {
      await sql`update documents set ksef_reported = ${verdict}, ksef_next_poll_at = ${nextAt}, updated_at = now()
        where provider_id = ${providerId}`;
    },
    async resent(providerId, commandId, firstPollAt) {
      const r = await sql`update documents set ksef_state = 'processing', ksef_sends = ksef_sends + 1, ksef_sent_at = now(),
          ksef_polls = 0, ksef_outage_resends = 0, ksef_code = null, ksef_errors = null, ksef_verdict_at = null,
          ksef_reported = null, ksef_resend_command = ${commandId}, ksef_next_poll_at = ${firstPollAt}, updated_at = now()
        where provider_id = ${providerId} and ksef_state <> 'accepted' and ksef_resend_command is distinct from ${commandId}`;
      return r.count > 0;
    },
    async reportAgain(providerId, commandId) {
      await sql`update documents set ksef_reported = null, ksef_resend_command = ${commandId}, ksef_next_poll_at = now(), updated_at = now()
        where provider_id = ${providerId}`;
    },
    async saveFile(row, kind, content, contentType) {
      await sql`insert into ksef_files (order_id, provider, provider_id, kind, content, content_type)
        values (${row.orderId}, ${row.provider}, ${row.providerId}, ${kind}, ${content}, ${contentType})
        on conflict (provider, provider_id, kind) do nothing`;
    },
    async filesOf(orderId) {
      const rows = await sql<Array<{ kind: KsefFileKind; size: number; fetched_at: Date }>>`
        select kind, length(content) as size, fetched_at from ksef_files where order_id = ${orderId} order by kind`;
      return rows.map((r) => ({ kind: r.kind, size: Number(r.size), fetchedAt: r.fetched_at }));
    },
    async file(orderId, kind) {
      const [r] = await sql<Array<{ content: Buffer; content_type: string; number: string }>>`
        select f.content, f.content_type, d.number from ksef_files f join documents d on d.provider = f.provider and d.provider_id = f.provider_id
        where f.order_id = ${orderId} and f.kind = ${kind}`;
      return r ? { content: r.content, contentType: r.content_type, number: r.number } : null;
    },
    async correctionFilesOf(orderId) {
      const rows = await sql<Array<{ provider_id: string; number: string; kind: KsefFileKind; size: number; fetched_at: Date }>>`
        select f.provider_id, d.number, f.kind, length(f.content) as size, f.fetched_at
        from ksef_files f join documents d on d.provider = f.provider and d.provider_id = f.provider_id
        where d.parent_order_id = ${orderId} order by d.number, f.kind`;
      return rows.map((r) => ({ providerId: r.provider_id, number: r.number, kind: r.kind, size: Number(r.size), fetchedAt: r.fetched_at }));
    },
    async correctionFile(orderId, providerId, kind) {
      const [r] = await sql<Array<{ content: Buffer; content_type: string; number: string }>>`
        select f.content, f.content_type, d.number from ksef_files f join documents d on d.provider = f.provider and d.provider_id = f.provider_id
        where d.parent_order_id = ${orderId} and f.provider_id = ${providerId} and f.kind = ${kind}`;
      return r ? { content: r.content, contentType: r.content_type, number: r.number } : null;
    },
    async waitingCount() {
      const [r] = await sql<Array<{ n: number }>>`select count(*)::int as n from documents where ksef_state in ('processing', 'offline')`;
      return r?.n ?? 0;
    },
  };
}
