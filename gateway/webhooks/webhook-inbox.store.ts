import type { Sql, SqlFragment } from '../../infra/db/postgres.ts';
import { createDeferredMarks } from '../../infra/db/deferred-marks.ts';
import { createGroupedWrites } from '../../infra/db/grouped-writes.ts';
import type { Logger } from '../../infra/logger.ts';
import { storableText } from '../../services/contracts/index.ts';
import type { AlongsideWriter, ListFilter, SignatureVerdict, StoredWebhook, WebhookVerdict } from './webhook-inbox.types.ts';

/**
 * The gateway's `webhook_inbox` table (its only owner): insert-once by dedupe key, "published"
 * marks, reads for the admin API and the console, and the replay record. Writes on the request path
 * are batched (see `insertOnce` and `markPublished`); nothing here publishes or decides.
 */

/** The columns a new row is inserted with. */
export interface InboxInsert {
  provider: string;
  dedupe_key: string;
  event_type: string | null;
  signature: SignatureVerdict;
  verdict: WebhookVerdict;
  detail: string | null;
  order_id: string | null;
  external_ref: string | null;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * What an insert answers: the new row's id (null for a repeat), whether its alongside row was written,
 * and whether the insert marked it published already (its alongside row was all its work).
 */
export interface InsertOutcome {
  id: string | null;
  alongside: boolean;
  settled: boolean;
}

interface Row extends InboxInsert {
  id: string;
  message_ids: string[];
  received_at: Date;
  published_at: Date | null;
  replay_count: number;
  replayed_at: Date | null;
  replayed_by: string | null;
  replay_note: string | null;
  replay_forced: boolean;
}

function toStored(r: Row): StoredWebhook {
  return {
    id: String(r.id),
    provider: r.provider,
    dedupeKey: r.dedupe_key,
    eventType: r.event_type,
    signature: r.signature,
    verdict: r.verdict,
    detail: r.detail,
    orderId: r.order_id,
    externalRef: r.external_ref,
    headers: r.headers,
    body: r.body,
    messageIds: r.message_ids,
    receivedAt: r.received_at.toISOString(),
    publishedAt: r.published_at?.toISOString() ?? null,
    replayCount: r.replay_count,
    replayedAt: r.replayed_at?.toISOString() ?? null,
    replayedBy: r.replayed_by,
    replayNote: r.replay_note,
    replayForced: r.replay_forced,
  };
}

/** What a replay changes on the row: the new decision, the messages added, who and which replay. */
export interface ReplayRecord {
  verdict: WebhookVerdict;
  signature: SignatureVerdict;
  detail: string | null;
  orderId: string | null;
  eventType: string | null;
  messageIds: string[];
  count: number;
  by: string;
  /** The admin's note (required when forced). */
  note: string | null;
  forced: boolean;
}

const MAX_INSERT_BATCH = 200;
/** "Published" marks wait this long (or for this many) and go in one UPDATE. */
const MARK_DELAY_MS = 20;
const MARK_BATCH = 500;

export function createWebhookInboxStore(deps: { sql: Sql; logger: Logger }) {
  const { sql } = deps;
  const log = deps.logger.child({ component: 'webhook-inbox' });

  const writers = new Map<string, AlongsideWriter<unknown>>();
  type Pending = { row: InboxInsert; alongside: unknown };

  /**
   * The batch's alongside writes as CTEs after `new_inbox_rows`, the test naming which rows got one,
   * and the keys the insert marks published at once (`AlongsideWriter.settled`), as a CTE before it.
   */
  function alongsideOf(batch: readonly Pending[]): { settled: SqlFragment; publishedAt: SqlFragment; ctes: SqlFragment; written: SqlFragment } {
    const groups = new Map<AlongsideWriter<unknown>, unknown[]>();
    for (const b of batch) {
      const writer = writers.get(b.row.provider);
      if (b.alongside === undefined || writer === undefined) continue;
      groups.set(writer, [...(groups.get(writer) ?? []), b.alongside]);
    }
    const none = { settled: sql``, publishedAt: sql`null::timestamptz`, ctes: sql``, written: sql`false` };
    if (groups.size === 0) return none;
    const parts = [...groups].map(([writer, values], i) => ({
      cte: sql`, ${sql(`alongside_${i}`)} as (${writer.write(sql, values)})`,
      keys: sql`select a.dedupe_key from ${sql(`alongside_${i}`)} a`,
      settled: writer.settled?.(sql, values) ?? null,
    }));
    const settled = parts.flatMap((p) => (p.settled === null ? [] : [p.settled]));
    return {
      settled: settled.length === 0 ? sql`` : sql`settled_keys as (${settled.reduce((all, k) => sql`${all} union all ${k}`)}),`,
      publishedAt: settled.length === 0 ? none.publishedAt : sql`case when v.dedupe_key in (select s.dedupe_key from settled_keys s) then now() end`,
      ctes: parts.map((p) => p.cte).reduce((all, c) => sql`${all}${c}`),
      written: sql`n.dedupe_key in (${parts.map((p) => p.keys).reduce((all, k) => sql`${all} union all ${k}`)})`,
    };
  }

  // Inserts are grouped (infra/db/grouped-writes.ts): many webhooks, one multi-row INSERT and one
  // commit, one statement in flight; rows of other owners (the warehouse log) go in the same
  // statement. A payment does not wait for its row on its way to the order: it is published alongside.
  const insert = createGroupedWrites<Pending, InsertOutcome>({
    maxBatch: MAX_INSERT_BATCH,
    async write(batch) {
      const alongside = alongsideOf(batch);
      // The rows as ONE jsonb parameter: the statement's text is the same for every batch size, so it
      // is prepared once per connection (a multi-row VALUES list made a new statement for every row
      // count), and the rows are serialized by JSON.stringify at once — as text arrays, postgres.js
      // escaped every element (the bodies, the headers' JSON) in JavaScript, copy after copy. The text
      // went through `storableText` in `insertOnce` (jsonb refuses NUL and lone surrogates); the body is base64.
      const rows = batch.map(({ row: r }) => ({ ...r, body: r.body.toString('base64') }));
      const inserted = await sql<{ id: string; dedupe_key: string; alongside: boolean; settled: boolean }[]>`
        with ${alongside.settled} new_inbox_rows as (
          insert into webhook_inbox (provider, dedupe_key, event_type, signature, verdict, detail, order_id, external_ref, headers, body, published_at)
          select v.provider, v.dedupe_key, v.event_type, v.signature, v.verdict, v.detail, v.order_id, v.external_ref, v.headers, decode(v.body, 'base64'),
                 ${alongside.publishedAt}
            from jsonb_to_recordset(${sql.json(rows as never)}::jsonb)
              as v(provider text, dedupe_key text, event_type text, signature text, verdict text, detail text, order_id text, external_ref text, headers jsonb, body text)
          on conflict (dedupe_key) do nothing
          returning id, dedupe_key, published_at is not null as settled
        )${alongside.ctes}
        select n.id, n.dedupe_key, ${alongside.written} as alongside, n.settled from new_inbox_rows n`;
      // Within one batch a key is inserted once; only its first waiter gets the id.
      const byKey = new Map(inserted.map((x) => [x.dedupe_key, { id: String(x.id), alongside: x.alongside, settled: x.settled }]));
      return batch.map((b) => {
        const row = byKey.get(b.row.dedupe_key);
        byKey.delete(b.row.dedupe_key);
        return row ?? { id: null, alongside: false, settled: false };
      });
    },
  });

  // "Published" marks are written in batches off the request path (one UPDATE for many rows): a mark
  // lost in a crash only means a provider retry publishes the same message ids again (de-duplicated).
  const marks = createDeferredMarks<{ id: string; ids: string[] }>({
    delayMs: MARK_DELAY_MS,
    maxBatch: MARK_BATCH,
    // `id = any(...)` keeps this an index lookup (a join against a set-returning function may not).
    write: (batch) => sql`update webhook_inbox w set published_at = now(),
        message_ids = array(select jsonb_array_elements_text(${sql.json(Object.fromEntries(batch.map((m) => [m.id, m.ids])))}::jsonb -> (w.id::text)))
      where w.id = any(${batch.map((m) => m.id)}::bigint[]) and w.published_at is null`,
    onError: (err, rows) => log.warn({ err: err instanceof Error ? err.message : String(err), rows }, 'could not mark webhooks published (a retry republishes them)'),
  });

  return {
    /** Lets `provider`'s rows carry an `alongside` value that `writer` writes in the same statement. */
    registerAlongside<T>(provider: string, writer: AlongsideWriter<T>): void {
      writers.set(provider, writer as AlongsideWriter<unknown>);
    },

    /**
     * Inserts the row unless its dedupe key exists; resolves with the new id (null for a repeat), and
     * whether `alongside` (for the provider's registered writer) was written with it.
     */
    insertOnce(raw: InboxInsert, alongside?: unknown): Promise<InsertOutcome> {
      // Neither Postgres text nor jsonb holds NUL, and jsonb refuses a lone surrogate: one such value
      // must not fail the whole batch. This is the one place the row's text is made storable.
      const clean = (v: string | null) => (v === null ? null : storableText(v));
      const headers = Object.fromEntries(Object.entries(raw.headers).map(([k, v]) => [storableText(k), storableText(v)]));
      const row: InboxInsert = {
        ...raw,
        dedupe_key: storableText(raw.dedupe_key),
        event_type: clean(raw.event_type),
        detail: clean(raw.detail),
        order_id: clean(raw.order_id),
        external_ref: clean(raw.external_ref),
        headers,
      };
      return insert({ row, alongside });
    },

    /** The row stored under a dedupe key (what a repeat needs to know). */
    async findByKey(dedupeKey: string): Promise<{ id: string; verdict: WebhookVerdict; published: boolean; messageIds: string[] } | null> {
      const [row] = await sql<{ id: string; verdict: WebhookVerdict; published_at: Date | null; message_ids: string[] }[]>`
        select id, verdict, published_at, message_ids from webhook_inbox where dedupe_key = ${dedupeKey}`;
      return row ? { id: String(row.id), verdict: row.verdict, published: row.published_at !== null, messageIds: row.message_ids } : null;
    },

    /** Marks a row published with these message ids (batched; see `flush`). */
    markPublished(id: string, ids: string[]): void {
      marks.add({ id, ids });
    },

    /** Writes the pending "published" marks (call on shutdown; also runs every 20 ms by itself). */
    flush: () => marks.flush(),

    async get(id: string): Promise<StoredWebhook | null> {
      if (!/^\d{1,18}$/.test(id)) return null;
      const [row] = await sql<Row[]>`select * from webhook_inbox where id = ${id}`;
      return row ? toStored(row) : null;
    },

    async list(f: ListFilter): Promise<StoredWebhook[]> {
      const rows = await sql<Row[]>`
        select * from webhook_inbox
        where true
          ${f.verdict ? sql`and verdict = ${f.verdict}` : sql``}
          ${f.provider ? sql`and provider = ${f.provider}` : sql``}
          ${f.orderId ? sql`and order_id = ${f.orderId}` : sql``}
          ${f.before ? sql`and id < ${f.before}` : sql``}
        order by id desc
        limit ${f.limit}`;
      return rows.map(toStored);
    },

    /**
     * Records on a stored row that a repeat of its request was forwarded (`storeAndPublish`): the new
     * verdict and order, the message ids added, published now (as a replay does: the webhook recheck
     * walks rows by that time, so it looks for the order's answer to this forward too).
     */
    async recordForward(id: string, f: { verdict: WebhookVerdict; orderId: string | null; detail: string | null; messageIds: string[] }): Promise<void> {
      await sql`
        update webhook_inbox set
          verdict = ${f.verdict}, order_id = coalesce(${f.orderId}, order_id), detail = ${f.detail},
          message_ids = message_ids || ${f.messageIds}::text[], published_at = now()
        where id = ${id}`;
    },

    /**
     * Deletes webhooks rejected on arrival (bad signature, unreadable) received before `olderThan`, in
     * batches; returns how many. Accepted, recorded and unmatched rows are kept (the audit trail).
     */
    async pruneRejected(olderThan: Date, batch = 5000): Promise<number> {
      let total = 0;
      for (;;) {
        const deleted = await sql`delete from webhook_inbox where id in (
            select id from webhook_inbox where verdict in ('invalid', 'malformed') and received_at < ${olderThan} limit ${batch})
          returning 1`;
        total += deleted.length;
        if (deleted.length < batch) return total;
      }
    },
    /** Records a replay on its row: the new decision, the added message ids, who and when. */
    async recordReplay(id: string, r: ReplayRecord): Promise<StoredWebhook | null> {
      const [row] = await sql<Row[]>`
        update webhook_inbox set
          verdict = ${r.verdict}, signature = ${r.signature}, detail = ${r.detail},
          order_id = coalesce(${r.orderId}, order_id), event_type = coalesce(${r.eventType}, event_type),
          message_ids = message_ids || ${r.messageIds}::text[],
          published_at = case when ${r.messageIds.length > 0} then now() else published_at end,
          replay_count = ${r.count}, replayed_at = now(), replayed_by = ${r.by},
          replay_note = ${r.note}, replay_forced = replay_forced or ${r.forced}
        where id = ${id}
        returning *`;
      return row ? toStored(row) : null;
    },
  };
}

export type WebhookInboxStore = ReturnType<typeof createWebhookInboxStore>;
