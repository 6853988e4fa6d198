/**
 * The webhook inbox: every webhook request is stored raw (exact bytes, headers, provider, signature
 * verdict, dedupe key) BEFORE anything is published, insert-once on the dedupe key; then the messages
 * it leads to are published to NATS with stable message ids; only then does the route answer.
 *
 * How to use it from a webhook route (see stripe.route.ts / payu.route.ts):
 *
 *   const result = await ctx.inbox.receive({
 *     provider: 'warehouse',
 *     dedupeKey: `warehouse:${eventId}`,            // provider + the provider's event id
 *     signature: ok ? 'valid' : 'invalid',
 *     verdict: ok ? 'accepted' : 'invalid',
 *     eventType, orderId, externalRef, detail,
 *     headers: request.headers, body: request.rawBody,  // rawBody: the exact bytes (gateway/raw-body.ts)
 *     messages: (webhookId) => [{ subject, envelope }],  // built once the row id is known
 *   });
 *   // result.isNew === false: a replay of a stored event; nothing new was published.
 *
 * Message ids: a message without an explicit envelope id gets `<dedupeKey>` (first message) or
 * `<dedupeKey>#<n>`, so a republish is de-duplicated by JetStream and by the consumers' inboxes.
 * A request whose signature is invalid never claims the provider's event id: its dedupe key is
 * derived from the body hash, so a forged request cannot block the genuine event.
 *
 * Providers register a processor (`inbox.registerProcessor`) so an admin can replay a stored
 * webhook (`POST /admin/api/webhooks/:id/replay`): the processor re-reads the stored bytes.
 */
import { storableText } from '../hostile-text.ts';
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { publishEnvelope } from '../../infra/nats/publish.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import type { Logger } from '../../infra/logger.ts';
import { makeEnvelope, OrderpilotError, type Envelope } from '../../services/contracts/index.ts';

interface Outgoing {
  subject: string;
  envelope: Envelope;
}

/** `unchecked`: the body was not JSON, so no provider's signature check was run on it. */
export type SignatureVerdict = 'valid' | 'invalid' | 'unchecked';
/**
 * accepted: led to an event/command; recorded: valid but nothing to do (other event types, pending
 * statuses); invalid: bad signature; unmatched: no such order; mismatch: amount/currency differ;
 * malformed: the body was not JSON (stored, answered 400).
 */
export type WebhookVerdict = 'accepted' | 'recorded' | 'invalid' | 'unmatched' | 'mismatch' | 'malformed';
export const WEBHOOK_VERDICTS: readonly WebhookVerdict[] = ['accepted', 'recorded', 'invalid', 'unmatched', 'mismatch', 'malformed'];

/** One message a webhook leads to; the inbox wraps it in an envelope (id defaults as described above). */
export interface WebhookMessage {
  subject: string;
  type: string;
  orderId: string | null;
  payload: unknown;
  /** Explicit message id; default `<dedupeKey>` / `<dedupeKey>#<n>`. */
  id?: string;
  actor?: string;
}

export type Headers = Record<string, string | string[] | undefined>;

export interface WebhookReceipt {
  provider: string;
  dedupeKey: string;
  signature: SignatureVerdict;
  verdict: WebhookVerdict;
  eventType?: string | null | undefined;
  orderId?: string | null | undefined;
  externalRef?: string | null | undefined;
  detail?: string | null | undefined;
  headers: Headers;
  body: Buffer;
  /** What to publish for it; called with the stored row id. Never called for `invalid`. */
  messages?: ((webhookId: string) => WebhookMessage[]) | undefined;
}

export interface ReceiveResult {
  id: string;
  /** False when the dedupe key was already stored (a provider retry or replay): nothing new happens. */
  isNew: boolean;
  verdict: WebhookVerdict;
  messageIds: string[];
}

export interface StoredWebhook {
  id: string;
  provider: string;
  dedupeKey: string;
  eventType: string | null;
  signature: SignatureVerdict;
  verdict: WebhookVerdict;
  detail: string | null;
  orderId: string | null;
  externalRef: string | null;
  headers: Record<string, string>;
  body: Buffer;
  messageIds: string[];
  receivedAt: string;
  publishedAt: string | null;
  replayCount: number;
  replayedAt: string | null;
  replayedBy: string | null;
}

/** What a provider's processor decides for stored bytes (used for admin replay). */
export type WebhookDecision = Omit<WebhookReceipt, 'headers' | 'body' | 'provider'>;
export type WebhookProcessor = (input: { headers: Record<string, string>; body: Buffer; replay: boolean }) => Promise<WebhookDecision>;

/** Headers worth keeping (no cookies or auth), lower-cased, arrays joined. */
export function keepHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const key = k.toLowerCase();
    if (v === undefined || key === 'cookie' || key === 'authorization') continue;
    out[storableText(key)] = storableText(Array.isArray(v) ? v.join(', ') : v);
  }
  return out;
}

export function invalidDedupeKey(provider: string, body: Buffer): string {
  return `${provider}:invalid:${createHash('sha256').update(body).digest('hex')}`;
}

interface InboxRow {
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

interface Row extends InboxRow {
  id: string;
  message_ids: string[];
  received_at: Date;
  published_at: Date | null;
  replay_count: number;
  replayed_at: Date | null;
  replayed_by: string | null;
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
  };
}

export interface WebhookInboxDeps {
  sql: Sql;
  nc: NatsConnection;
  logger: Logger;
  /** Called for each published message (metrics). */
  onPublished?: (env: Envelope) => void;
  onReceived?: (provider: string, verdict: WebhookVerdict, isNew: boolean) => void;
}

export interface ListFilter {
  verdict?: WebhookVerdict | undefined;
  provider?: string | undefined;
  orderId?: string | undefined;
  limit: number;
  /** Rows with id below this (newest first). */
  before?: string | undefined;
}

export type WebhookInbox = ReturnType<typeof createWebhookInbox>;

export function createWebhookInbox(deps: WebhookInboxDeps) {
  const { sql, nc } = deps;
  const log = deps.logger.child({ component: 'webhook-inbox' });
  const processors = new Map<string, WebhookProcessor>();

  // "Published" marks are written in batches off the request path (one UPDATE for many rows): a mark
  // lost in a crash only means a provider retry publishes the same message ids again (de-duplicated).
  let pendingMarks: Array<{ id: string; ids: string[] }> = [];
  let flushTimer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> = Promise.resolve();
  function flushMarks(): Promise<void> {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = null;
    const batch = pendingMarks;
    pendingMarks = [];
    if (batch.length === 0) return flushing;
    // `id = any(...)` keeps this an index lookup (a join against a set-returning function may not).
    const ids = batch.map((m) => m.id);
    const byId = Object.fromEntries(batch.map((m) => [m.id, m.ids]));
    flushing = flushing.then(() =>
      sql`update webhook_inbox w set published_at = now(),
            message_ids = array(select jsonb_array_elements_text(${sql.json(byId)}::jsonb -> (w.id::text)))
          where w.id = any(${ids}::bigint[]) and w.published_at is null`.then(
        () => undefined,
        (err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err), rows: batch.length }, 'could not mark webhooks published (a retry republishes them)'),
      ),
    );
    return flushing;
  }
  // Inserts are grouped: while a few INSERTs are in flight, new rows wait and go together in the next
  // multi-row INSERT (one commit, one WAL flush for many webhooks). At low load a row goes at once.
  const MAX_INSERTS_IN_FLIGHT = 4;
  const MAX_BATCH = 200;
  let insertQueue: Array<{ row: InboxRow; resolve: (id: string | null) => void; reject: (err: unknown) => void }> = [];
  let insertsInFlight = 0;
  function pumpInserts(): void {
    while (insertsInFlight < MAX_INSERTS_IN_FLIGHT && insertQueue.length > 0) {
      const batch = insertQueue.slice(0, MAX_BATCH);
      insertQueue = insertQueue.slice(MAX_BATCH);
      insertsInFlight++;
      void insertBatch(batch).finally(() => {
        insertsInFlight--;
        pumpInserts();
      });
    }
  }
  async function insertBatch(batch: typeof insertQueue): Promise<void> {
    try {
      const rows = batch.map((b) => ({ ...b.row, headers: sql.json(b.row.headers) }));
      const inserted = await sql<{ id: string; dedupe_key: string }[]>`
        insert into webhook_inbox ${sql(rows as never, 'provider', 'dedupe_key', 'event_type', 'signature', 'verdict', 'detail', 'order_id', 'external_ref', 'headers', 'body')}
        on conflict (dedupe_key) do nothing
        returning id, dedupe_key`;
      // Within one batch a key is inserted once; only its first waiter gets the id.
      const byKey = new Map(inserted.map((x) => [x.dedupe_key, String(x.id)]));
      for (const b of batch) {
        const id = byKey.get(b.row.dedupe_key);
        byKey.delete(b.row.dedupe_key);
        b.resolve(id ?? null);
      }
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }
  /** Inserts the row unless its dedupe key exists; resolves with the new id, or null for a repeat. */
  function insertOnce(raw: InboxRow): Promise<string | null> {
    // Postgres text cannot hold NUL; one such value must not fail the whole batch.
    const clean = (v: string | null) => (v === null ? null : v.replace(/\u0000/g, ''));
    const row: InboxRow = { ...raw, event_type: clean(raw.event_type), detail: clean(raw.detail), order_id: clean(raw.order_id), external_ref: clean(raw.external_ref) };
    return new Promise((resolve, reject) => {
      insertQueue.push({ row, resolve, reject });
      pumpInserts();
    });
  }

  function markPublished(id: string, ids: string[]): void {
    pendingMarks.push({ id, ids });
    if (pendingMarks.length >= 500) void flushMarks();
    else flushTimer ??= setTimeout(() => void flushMarks(), 20);
  }

  function withIds(dedupeKey: string, messages: WebhookMessage[], suffix = ''): Outgoing[] {
    return messages.map((m, i) => ({
      subject: m.subject,
      envelope: makeEnvelope({
        // A message id chosen by the caller stays; else the dedupe key (first) or key#n.
        id: `${m.id ?? `${dedupeKey}${i === 0 ? '' : `#${i}`}`}${suffix}`,
        type: m.type,
        orderId: m.orderId,
        payload: m.payload,
        actor: m.actor,
      }),
    }));
  }

  async function publishAll(messages: Outgoing[]): Promise<void> {
    try {
      await Promise.all(messages.map((m) => publishEnvelope(nc, m.subject, m.envelope)));
    } catch (err) {
      throw new OrderpilotError('NATS_UNAVAILABLE', 'could not publish the webhook to NATS; it is stored, retry later', {
        cause: err,
        retryAfterMs: 1000,
      });
    }
    for (const m of messages) deps.onPublished?.(m.envelope);
  }

  /**
   * Stores the request once (by dedupe key), then publishes its messages. On a repeat of a stored
   * key nothing new is stored; if the first attempt had not finished publishing, the same messages
   * (same ids) are published again, which JetStream and the consumers de-duplicate.
   * Throws NATS_UNAVAILABLE (503, retryable) when publishing fails: the row stays, a retry completes it.
   */
  async function receive(receipt: WebhookReceipt): Promise<ReceiveResult> {
    // Text columns hold what Postgres can store; the exact bytes are in `body`.
    const text = (v: string | null | undefined) => (v === undefined || v === null ? null : storableText(v));
    const r: WebhookReceipt = { ...receipt, dedupeKey: storableText(receipt.dedupeKey) };
    const headers = keepHeaders(r.headers);
    const insertedId = await insertOnce({
      provider: r.provider,
      dedupe_key: r.dedupeKey,
      event_type: text(r.eventType),
      signature: r.signature,
      verdict: r.verdict,
      detail: text(r.detail),
      order_id: text(r.orderId),
      external_ref: text(r.externalRef),
      headers,
      body: r.body,
    });
    if (insertedId === null) {
      const [existing] = await sql<{ id: string; verdict: WebhookVerdict; published_at: Date | null; message_ids: string[] }[]>`
        select id, verdict, published_at, message_ids from webhook_inbox where dedupe_key = ${r.dedupeKey}`;
      if (existing === undefined) throw new OrderpilotError('DB_CONFLICT', 'webhook row vanished during insert', { retryable: true });
      deps.onReceived?.(r.provider, existing.verdict, false);
      if (existing.published_at === null && r.messages && existing.verdict === r.verdict && r.verdict !== 'invalid') {
        // The first attempt stored it but may not have published (crash, NATS down): finish its work.
        const messages = withIds(r.dedupeKey, r.messages(String(existing.id)));
        await publishAll(messages);
        markPublished(String(existing.id), messages.map((m) => m.envelope.id));
      }
      log.debug({ provider: r.provider, dedupeKey: r.dedupeKey }, 'webhook already stored');
      return { id: String(existing.id), isNew: false, verdict: existing.verdict, messageIds: existing.message_ids };
    }
    const id = insertedId;
    deps.onReceived?.(r.provider, r.verdict, true);
    const messages = r.verdict === 'invalid' || !r.messages ? [] : withIds(r.dedupeKey, r.messages(id));
    if (messages.length > 0) {
      await publishAll(messages);
      const ids = messages.map((m) => m.envelope.id);
      markPublished(id, ids);
      log.info({ webhookId: id, provider: r.provider, verdict: r.verdict, eventType: r.eventType, orderId: r.orderId, messageIds: ids }, 'webhook stored and published');
      return { id, isNew: true, verdict: r.verdict, messageIds: ids };
    }
    log.info({ webhookId: id, provider: r.provider, verdict: r.verdict, eventType: r.eventType, detail: r.detail }, 'webhook stored');
    return { id, isNew: true, verdict: r.verdict, messageIds: [] };
  }

  async function get(id: string): Promise<StoredWebhook | null> {
    if (!/^\d{1,18}$/.test(id)) return null;
    const [row] = await sql<Row[]>`select * from webhook_inbox where id = ${id}`;
    return row ? toStored(row) : null;
  }

  async function list(f: ListFilter): Promise<StoredWebhook[]> {
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
  }

  /**
   * Replays a stored webhook: its provider's processor decides again on the stored bytes (order now
   * known? secret fixed?), the row takes the new verdict, and its messages are published with ids
   * suffixed `#replay-<n>` so they are delivered again (the order machine ignores what does not apply).
   */
  async function replay(id: string, by: string): Promise<{ webhook: StoredWebhook; messageIds: string[] }> {
    const stored = await get(id);
    if (!stored) throw new OrderpilotError('NOT_FOUND', `no webhook ${id}`);
    const processor = processors.get(stored.provider);
    if (!processor) throw new OrderpilotError('VALIDATION_FAILED', `webhooks of provider "${stored.provider}" cannot be replayed`);
    const decision = await processor({ headers: stored.headers, body: stored.body, replay: true });
    const n = stored.replayCount + 1;
    const messages = decision.verdict === 'invalid' || !decision.messages ? [] : withIds(stored.dedupeKey, decision.messages(id), `#replay-${n}`);
    if (messages.length > 0) await publishAll(messages);
    const ids = messages.map((m) => m.envelope.id);
    const [row] = await sql<Row[]>`
      update webhook_inbox set
        verdict = ${decision.verdict}, signature = ${decision.signature}, detail = ${decision.detail ?? null},
        order_id = coalesce(${decision.orderId ?? null}, order_id), event_type = coalesce(${decision.eventType ?? null}, event_type),
        message_ids = message_ids || ${ids}::text[],
        published_at = case when ${ids.length > 0} then now() else published_at end,
        replay_count = ${n}, replayed_at = now(), replayed_by = ${by}
      where id = ${id}
      returning *`;
    if (!row) throw new OrderpilotError('NOT_FOUND', `no webhook ${id}`);
    log.info({ webhookId: id, by, verdict: decision.verdict, messageIds: ids }, 'webhook replayed');
    return { webhook: toStored(row), messageIds: ids };
  }

  return {
    receive,
    get,
    list,
    replay,
    /** Writes the pending "published" marks (call on shutdown; also runs every 20 ms by itself). */
    flush: flushMarks,
    /** Lets an admin replay this provider's stored webhooks (the route registers its own processor). */
    registerProcessor(provider: string, processor: WebhookProcessor): void {
      processors.set(provider, processor);
    },
  };
}
