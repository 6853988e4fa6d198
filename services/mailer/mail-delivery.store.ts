import { randomUUID } from 'node:crypto';
import { createGroupedWrites } from '../../infra/db/grouped-writes.ts';
import type { Sql } from '../../infra/db/postgres.ts';

/** How long a claim to send one document's e-mail blocks other instances (a crashed sender's claim expires). */
const CLAIM_LEASE_SECONDS = 300;

export type Claim =
  | { kind: 'claimed'; claimId: string }
  | { kind: 'sent'; recipient: string; messageId: string }
  | { kind: 'busy'; leaseLeftMs: number };

/**
 * The mailer's idempotency table (`mail_deliveries`), keyed by the document: a document's e-mail is
 * sent once, however often the command is delivered or repeated. Fenced: a claim gets its own id and
 * every later change is conditional on it — a sender whose lease ran out (and was taken over) can
 * neither renew, mark "sent" nor give back the new holder's claim.
 */
export interface MailDeliveryStore {
  /** Claims the right to send (or learns it was sent, or that another instance is sending now). */
  claim(key: string, orderId: string, recipient: string): Promise<Claim>;
  /** Extends the claim's lease while the send is under way; false when the claim is no longer ours. */
  renew(key: string, claimId: string): Promise<boolean>;
  /** Records the send; false when the claim was taken over meanwhile (the row is not touched). */
  markSent(key: string, claimId: string, messageId: string): Promise<boolean>;
  /**
   * Gives the claim back after a failed send, so a retry may send: `failed` (nothing went out) or
   * `sent-unknown` (the connection broke after the message was handed over: it may have arrived).
   */
  release(key: string, claimId: string, error: string, status?: 'failed' | 'sent-unknown'): Promise<void>;
}

/** Most claims, or "sent" marks, in one statement (one statement of each in flight; more wait and go together). */
const GROUP_MAX = 100;

export function createMailDeliveryStore(sql: Sql, leaseSeconds = CLAIM_LEASE_SECONDS): MailDeliveryStore {
  // Claims and "sent" marks of several senders share a statement (and its commit) when they meet:
  // each is still conditional on its own row exactly as alone, and one statement holds one item
  // per document (an upsert may touch a row once per statement).
  const claimRows = createGroupedWrites<{ key: string; orderId: string; recipient: string; claimId: string }, boolean>({
    maxBatch: GROUP_MAX,
    key: (c) => c.key,
    async write(batch) {
      const rows = await sql<{ idempotency_key: string }[]>`
        insert into mail_deliveries (idempotency_key, order_id, recipient, status, attempts, claimed_at, claim_id)
        select v.key, v.order_id, v.recipient, 'sending', 1, now(), v.claim_id
          from unnest(${batch.map((c) => c.key)}::text[], ${batch.map((c) => c.orderId)}::text[], ${batch.map((c) => c.recipient)}::text[],
                      ${batch.map((c) => c.claimId)}::text[]) as v(key, order_id, recipient, claim_id)
        on conflict (idempotency_key) do update set status = 'sending', claimed_at = now(), claim_id = excluded.claim_id,
            attempts = mail_deliveries.attempts + 1, recipient = excluded.recipient
          where mail_deliveries.status <> 'sent'
            and (mail_deliveries.claimed_at is null or mail_deliveries.claimed_at < now() - make_interval(secs => ${leaseSeconds}))
        returning idempotency_key`;
      const claimed = new Set(rows.map((r) => r.idempotency_key));
      return batch.map((c) => claimed.has(c.key));
    },
  });
  const markRows = createGroupedWrites<{ key: string; claimId: string; messageId: string }, boolean>({
    maxBatch: GROUP_MAX,
    key: (m) => m.key,
    async write(batch) {
      const rows = await sql<{ idempotency_key: string }[]>`
        update mail_deliveries m set status = 'sent', message_id = v.message_id, sent_at = now(), claimed_at = null, last_error = null
          from unnest(${batch.map((m) => m.key)}::text[], ${batch.map((m) => m.claimId)}::text[], ${batch.map((m) => m.messageId)}::text[])
               as v(key, claim_id, message_id)
         where m.idempotency_key = v.key and m.claim_id = v.claim_id and m.status = 'sending'
        returning m.idempotency_key`;
      const marked = new Set(rows.map((r) => r.idempotency_key));
      return batch.map((m) => marked.has(m.key));
    },
  });
  return {
    async claim(key, orderId, recipient) {
      const claimId = randomUUID();
      if (await claimRows({ key, orderId, recipient, claimId })) return { kind: 'claimed', claimId };
      const [row] = await sql<{ status: string; recipient: string; message_id: string | null; lease_left_ms: number | null }[]>`
        select status, recipient, message_id,
               (extract(epoch from (claimed_at + make_interval(secs => ${leaseSeconds}) - now())) * 1000)::int as lease_left_ms
          from mail_deliveries where idempotency_key = ${key}`;
      if (row?.status === 'sent') return { kind: 'sent', recipient: row.recipient, messageId: row.message_id ?? '' };
      return { kind: 'busy', leaseLeftMs: Math.max(0, row?.lease_left_ms ?? 0) };
    },
    async renew(key, claimId) {
      const r = await sql`update mail_deliveries set claimed_at = now()
        where idempotency_key = ${key} and claim_id = ${claimId} and status = 'sending' returning 1`;
      return r.length > 0;
    },
    markSent(key, claimId, messageId) {
      return markRows({ key, claimId, messageId });
    },
    async release(key, claimId, error, status = 'failed') {
      await sql`update mail_deliveries set status = ${status}, claimed_at = null, last_error = ${error.slice(0, 2000)},
          uncertain_sends = uncertain_sends + ${status === 'sent-unknown' ? 1 : 0}
        where idempotency_key = ${key} and claim_id = ${claimId} and status = 'sending'`;
    },
  };
}
