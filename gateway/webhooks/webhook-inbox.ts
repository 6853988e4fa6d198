/**
 * The webhook inbox: every webhook request is stored raw (exact bytes, headers, provider, signature
 * verdict, dedupe key), insert-once on the dedupe key, and the messages it leads to are published to
 * NATS with stable message ids — after the insert, or alongside it for messages that do not name the
 * row (`storeAndPublish`); only when both are done does the route answer.
 * The table and its batched writes live in `webhook-inbox.store.ts`; this file receives and replays.
 *
 * How to use it from a webhook route (see warehouse-webhook.route.ts / payment-webhook.route.ts),
 * with the provider's `WebhookProcessor` (pure data in, data out):
 *
 *   const decision = await processor.decide({ headers, body, replay: false }); // dedupe key, verdict, order…
 *   const stored = await ctx.inbox.store({ provider, headers: request.headers, body, ...decision });
 *   await ctx.inbox.publish(stored, processor.messages(decision, stored.id));   // the row id is data here
 *   // stored.isNew === false: a repeat of a stored event; nothing new is published.
 *
 * A message that does not name the row (a verified payment forwarded to its order) need not wait
 * for the insert's commit: `storeAndPublish` inserts and publishes at once and answers when both are
 * done (see there what a failure of either leaves):
 *
 *   const { stored, messageIds } = await ctx.inbox.storeAndPublish({ provider, headers, body, ...decision }, forward);
 *
 * Message ids: a message without an explicit id gets `<dedupeKey>` (first message) or
 * `<dedupeKey>#<n>`, so a republish is de-duplicated by JetStream and by the consumers' inboxes.
 * A request whose signature is invalid never claims the provider's event id: its dedupe key is
 * derived from the body hash (`invalidDedupeKey`), so a forged request cannot block the genuine event.
 *
 * Providers register their processor (`inbox.registerProcessor`) so an admin can replay a stored
 * webhook (`POST /admin/api/webhooks/:id/replay`): the processor decides again on the stored bytes.
 */
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { publishEnvelope } from '../../infra/nats/publish.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import type { Logger } from '../../infra/logger.ts';
import { makeEnvelope, OrderpilotError, type Envelope } from '../../services/contracts/index.ts';
import { storableText } from '../hostile-text.ts';
import { createWebhookInboxStore } from './webhook-inbox.store.ts';
import type { AlongsideWriter, Headers, ListFilter, StoredReceipt, StoredWebhook, WebhookDecision, WebhookInput, WebhookMessage, WebhookProcessor, WebhookReceipt, WebhookVerdict } from './webhook-inbox.types.ts';

export * from './webhook-inbox.types.ts';

/**
 * Headers worth keeping (no cookies or auth), lower-cased, arrays joined. Their text is made storable
 * where it is stored (`insertOnce`), not here: verification reads them as they came.
 */
export function keepHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const key = k.toLowerCase();
    if (v === undefined || key === 'cookie' || key === 'authorization') continue;
    out[key] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** The dedupe key of a request whose signature failed: its body hash, never the provider's event id. */
export function invalidDedupeKey(provider: string, body: Buffer): string {
  return `${provider}:invalid:${createHash('sha256').update(body).digest('hex')}`;
}

export interface WebhookInboxDeps {
  sql: Sql;
  nc: NatsConnection;
  logger: Logger;
  /** Called for each published message (metrics). */
  onPublished?: (env: Envelope) => void;
  onReceived?: (provider: string, verdict: WebhookVerdict, isNew: boolean) => void;
}

export type WebhookInbox = ReturnType<typeof createWebhookInbox>;

export function createWebhookInbox(deps: WebhookInboxDeps) {
  const { nc } = deps;
  const log = deps.logger.child({ component: 'webhook-inbox' });
  const rows = createWebhookInboxStore({ sql: deps.sql, logger: deps.logger });
  /** Per provider: decide again on stored bytes and name the messages for the (known) row id. */
  const processors = new Map<string, (input: WebhookInput, webhookId: string, redeliver: boolean) => Promise<{ decision: WebhookDecision; messages: WebhookMessage[] }>>();

  function withIds(dedupeKey: string, messages: readonly WebhookMessage[], suffix = ''): Array<{ subject: string; envelope: Envelope }> {
    return messages.map((m, i) => ({
      subject: m.subject,
      envelope: makeEnvelope({
        // A message id chosen by the caller stays; else the dedupe key (first) or key#n.
        id: `${m.id ?? `${dedupeKey}${i === 0 ? '' : `#${i}`}`}${suffix}`,
        type: m.type,
        orderId: m.orderId,
        payload: m.payload,
        actor: m.actor,
        ...(m.occurredAt === undefined ? {} : { occurredAt: m.occurredAt }),
      }),
    }));
  }

  /**
   * `msgIdSuffix`: a new NATS message id for the same envelope (the stream's duplicate window would
   * drop the old one); `now`: written at once, not at the event loop's turn (`publishEnvelope`).
   */
  async function publishAll(messages: ReadonlyArray<{ subject: string; envelope: Envelope }>, o: { msgIdSuffix?: string; now?: boolean } = {}): Promise<void> {
    try {
      await Promise.all(messages.map((m) => publishEnvelope(nc, m.subject, m.envelope, `${m.envelope.id}${o.msgIdSuffix ?? ''}`, { now: o.now === true })));
    } catch (err) {
      throw new OrderpilotError('NATS_UNAVAILABLE', 'could not publish the webhook to NATS; it is stored, retry later', {
        cause: err,
        retryAfterMs: 1000,
      });
    }
    for (const m of messages) deps.onPublished?.(m.envelope);
  }

  /**
   * Stores the request once (by dedupe key). On a repeat of a stored key nothing new is stored, and
   * `toPublish` says whether the first attempt left its messages unpublished (then the caller
   * publishes the same ones again, same ids, which JetStream and the consumers de-duplicate).
   */
  async function store(receipt: WebhookReceipt): Promise<StoredReceipt> {
    // The store makes every text column storable (no NUL, no lone surrogate); the exact bytes are in
    // `body`. The dedupe key is made so here too: it is also looked up and names the messages.
    const r: WebhookReceipt = { ...receipt, dedupeKey: storableText(receipt.dedupeKey) };
    const inserted = await rows.insertOnce({
      provider: r.provider,
      dedupe_key: r.dedupeKey,
      event_type: r.eventType ?? null,
      signature: r.signature,
      verdict: r.verdict,
      detail: r.detail ?? null,
      order_id: r.orderId ?? null,
      external_ref: r.externalRef ?? null,
      headers: keepHeaders(r.headers),
      body: r.body,
    }, r.alongside);
    const insertedId = inserted.id;
    if (insertedId === null) {
      const existing = await rows.findByKey(r.dedupeKey);
      if (existing === null) throw new OrderpilotError('DB_CONFLICT', 'webhook row vanished during insert', { retryable: true });
      deps.onReceived?.(r.provider, existing.verdict, false);
      log.debug({ provider: r.provider, dedupeKey: r.dedupeKey }, 'webhook already stored');
      // The first attempt stored it but may not have published (crash, NATS down): finish its work.
      const toPublish = !existing.published && existing.verdict === r.verdict && r.verdict !== 'invalid';
      return { id: existing.id, dedupeKey: r.dedupeKey, provider: r.provider, isNew: false, verdict: existing.verdict, toPublish, messageIds: existing.messageIds, alongside: false, settled: false };
    }
    deps.onReceived?.(r.provider, r.verdict, true);
    // What is published for it is logged by `publish`; a row that leads nowhere is logged here.
    const fields = { webhookId: insertedId, provider: r.provider, verdict: r.verdict, eventType: r.eventType, orderId: r.orderId, detail: r.detail };
    if (r.verdict === 'invalid' || r.verdict === 'malformed') log.info(fields, 'webhook stored');
    else log.debug(fields, 'webhook stored');
    return { id: insertedId, dedupeKey: r.dedupeKey, provider: r.provider, isNew: true, verdict: r.verdict, toPublish: r.verdict !== 'invalid', messageIds: [], alongside: inserted.alongside, settled: inserted.settled };
  }

  /**
   * Publishes a stored row's messages (when `stored.toPublish`), then marks the row published.
   * Returns the message ids. Throws NATS_UNAVAILABLE (503, retryable) when publishing fails: the row
   * stays unpublished, and a provider retry completes it.
   */
  async function publish(stored: StoredReceipt, messages: readonly WebhookMessage[]): Promise<string[]> {
    if (!stored.toPublish) return stored.messageIds;
    if (messages.length === 0) {
      // Its work was done by the insert itself (the row written alongside): nothing for a retry to
      // finish. Marked published by the insert already when its writer said so (`settled`).
      if (stored.alongside && !stored.settled) rows.markPublished(stored.id, []);
      return stored.messageIds;
    }
    const out = withIds(stored.dedupeKey, messages);
    await publishAll(out);
    const ids = out.map((m) => m.envelope.id);
    rows.markPublished(stored.id, ids);
    log.info({ webhookId: stored.id, provider: stored.provider, verdict: stored.verdict, messageIds: ids }, 'webhook stored and published');
    return ids;
  }

  /**
   * Stores the request and publishes `messages` at the same time: for messages that do not depend on
   * the row (a verified payment forwarded to its order, under the dedupe key as id), so the insert's
   * commit is not on the event's way. Answers once both are done, and fails as either alone would: the
   * database failing (nothing stored) → the provider's retry stores it and publishes the same ids
   * again, which JetStream and the order host's inbox drop; NATS failing → NATS_UNAVAILABLE, the row
   * stays unpublished and a retry publishes. A repeat publishes the same ids again (dropped likewise);
   * a repeat of a row stored with another verdict (`unmatched`: the order did not exist yet) reaches
   * the order now, and its row records the forward (verdict, order, message ids).
   */
  async function storeAndPublish(receipt: WebhookReceipt, messages: readonly WebhookMessage[]): Promise<{ stored: StoredReceipt; messageIds: string[] }> {
    const out = withIds(storableText(receipt.dedupeKey), messages);
    // The payment leaves now, not at the event loop's turn: its order host waits for it.
    const [inserted, published] = await Promise.allSettled([store(receipt), publishAll(out, { now: true })]);
    if (inserted.status === 'rejected') throw inserted.reason;
    const stored = inserted.value;
    if (published.status === 'rejected') throw published.reason;
    const ids = out.map((m) => m.envelope.id);
    const fields = { webhookId: stored.id, provider: stored.provider, messageIds: ids };
    if (stored.isNew || stored.toPublish) {
      rows.markPublished(stored.id, ids);
      log.info({ ...fields, verdict: receipt.verdict }, 'webhook stored and published');
      return { stored, messageIds: ids };
    }
    if (stored.verdict === receipt.verdict || ids.every((id) => stored.messageIds.includes(id))) return { stored, messageIds: stored.messageIds };
    await rows.flush(); // the first attempt's "published" mark may still wait: written first, kept
    await rows.recordForward(stored.id, { verdict: receipt.verdict, orderId: receipt.orderId ?? null, detail: receipt.detail ?? null, messageIds: ids });
    log.info({ ...fields, before: stored.verdict, verdict: receipt.verdict, orderId: receipt.orderId }, 'repeat of a stored webhook forwarded: stored before with another verdict');
    return { stored: { ...stored, verdict: receipt.verdict, messageIds: [...stored.messageIds, ...ids] }, messageIds: ids };
  }

  /**
   * Replays a stored webhook: its provider's processor decides again on the stored bytes (order now
   * known? secret fixed?), the row takes the new verdict, and its messages are published with ids
   * suffixed `#replay-<n>` so they are delivered again (the order machine ignores what does not apply).
   * `redeliver`: the same messages under the same ids (a new NATS message id), for one that never
   * arrived — the order's inbox drops it should the first arrive after all.
   */
  async function replay(id: string, by: string, opts: { force?: boolean; note?: string; redeliver?: boolean } = {}): Promise<{ webhook: StoredWebhook; messageIds: string[] }> {
    const stored = await rows.get(id);
    if (!stored) throw new OrderpilotError('NOT_FOUND', `no webhook ${id}`);
    const processor = processors.get(stored.provider);
    if (!processor) throw new OrderpilotError('VALIDATION_FAILED', `webhooks of provider "${stored.provider}" cannot be replayed`);
    const note = opts.note?.trim() || null;
    const force = opts.force === true;
    // A request rejected on arrival (bad or stale signature) is not replayed into effect by accident.
    if (stored.signature === 'invalid' && !force) {
      throw new OrderpilotError('REPLAY_NEEDS_FORCE', `webhook ${id} was rejected on arrival (${stored.detail ?? 'invalid signature'}); replay it only with "force": true and a note saying why it is genuine`);
    }
    if (force && note === null) throw new OrderpilotError('VALIDATION_FAILED', 'a forced replay needs a note (who vouched for the request, and why)');
    const receivedAt = new Date(stored.receivedAt);
    const decided = await processor({ headers: stored.headers, body: stored.body, replay: true, receivedAt, force }, id, opts.redeliver === true);
    const { decision } = decided;
    const n = stored.replayCount + 1;
    const messages = withIds(stored.dedupeKey, decided.messages, opts.redeliver ? '' : `#replay-${n}`);
    if (messages.length > 0) await publishAll(messages, { msgIdSuffix: opts.redeliver ? `#redelivery-${n}` : '' });
    const ids = messages.map((m) => m.envelope.id);
    const webhook = await rows.recordReplay(id, {
      verdict: decision.verdict,
      signature: decision.signature,
      detail: decision.detail ?? null,
      orderId: decision.orderId ?? null,
      eventType: decision.eventType ?? null,
      messageIds: ids,
      count: n,
      by,
      note,
      forced: force && stored.signature === 'invalid',
    });
    if (!webhook) throw new OrderpilotError('NOT_FOUND', `no webhook ${id}`);
    log.info({ webhookId: id, by, force, note, verdict: decision.verdict, messageIds: ids }, force ? 'webhook replayed by force' : 'webhook replayed');
    return { webhook, messageIds: ids };
  }

  return {
    store,
    publish,
    storeAndPublish,
    replay,
    get: (id: string) => rows.get(id),
    list: (f: ListFilter) => rows.list(f),
    /** Writes the pending "published" marks (call on shutdown; also runs every 20 ms by itself). */
    flush: () => rows.flush(),
    /** Deletes rejected webhooks (bad signature, unreadable) received before `olderThan`. */
    pruneRejected: (olderThan: Date) => rows.pruneRejected(olderThan),
    /** Lets this provider's receipts carry a row of another owner's table, written in the inbox's own statement. */
    registerAlongside<T>(provider: string, writer: AlongsideWriter<T>): void {
      rows.registerAlongside(provider, writer);
    },
    /** Lets an admin replay this provider's stored webhooks (the route registers its own processor). */
    registerProcessor<D extends WebhookDecision>(provider: string, processor: WebhookProcessor<D>): void {
      processors.set(provider, async (input, webhookId, redeliver) => {
        const decision = await processor.decide(input);
        if (decision.verdict === 'invalid') return { decision, messages: [] };
        return { decision, messages: redeliver && processor.redelivery ? processor.redelivery(decision, webhookId) : processor.messages(decision, webhookId) };
      });
    },
  };
}
