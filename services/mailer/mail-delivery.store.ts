import type { Sql } from '../../infra/db/postgres.ts';

/** How long a claim to send one document's e-mail blocks other instances (a crashed sender's claim expires). */
const CLAIM_LEASE_SECONDS = 300;

export type Claim =
  | { kind: 'claimed' }
  | { kind: 'sent'; recipient: string; messageId: string }
  | { kind: 'busy'; leaseLeftMs: number };

/**
 * The mailer's idempotency table (`mail_deliveries`), keyed by the document: a document's e-mail is
 * sent once, however often the command is delivered or repeated.
 */
export interface MailDeliveryStore {
  /** Claims the right to send (or learns it was sent, or that another instance is sending now). */
  claim(key: string, orderId: string, recipient: string): Promise<Claim>;
  markSent(key: string, messageId: string): Promise<void>;
  /** Gives the claim back after a failed send, so a retry may send. */
  release(key: string, error: string): Promise<void>;
}

export function createMailDeliveryStore(sql: Sql, leaseSeconds = CLAIM_LEASE_SECONDS): MailDeliveryStore {
  return {
    async claim(key, orderId, recipient) {
      const claimed = await sql`insert into mail_deliveries (idempotency_key, order_id, recipient, status, attempts, claimed_at)
        values (${key}, ${orderId}, ${recipient}, 'sending', 1, now())
        on conflict (idempotency_key) do update set status = 'sending', claimed_at = now(), attempts = mail_deliveries.attempts + 1, recipient = excluded.recipient
          where mail_deliveries.status <> 'sent'
            and (mail_deliveries.claimed_at is null or mail_deliveries.claimed_at < now() - make_interval(secs => ${leaseSeconds}))
        returning 1`;
      if (claimed.length > 0) return { kind: 'claimed' };
      const [row] = await sql<{ status: string; recipient: string; message_id: string | null; lease_left_ms: number | null }[]>`
        select status, recipient, message_id,
               (extract(epoch from (claimed_at + make_interval(secs => ${leaseSeconds}) - now())) * 1000)::int as lease_left_ms
          from mail_deliveries where idempotency_key = ${key}`;
      if (row?.status === 'sent') return { kind: 'sent', recipient: row.recipient, messageId: row.message_id ?? '' };
      return { kind: 'busy', leaseLeftMs: Math.max(0, row?.lease_left_ms ?? 0) };
    },
    async markSent(key, messageId) {
      await sql`update mail_deliveries set status = 'sent', message_id = ${messageId}, sent_at = now(), claimed_at = null, last_error = null
        where idempotency_key = ${key}`;
    },
    async release(key, error) {
      await sql`update mail_deliveries set status = 'failed', claimed_at = null, last_error = ${error.slice(0, 2000)}
        where idempotency_key = ${key} and status <> 'sent'`;
    },
  };
}
