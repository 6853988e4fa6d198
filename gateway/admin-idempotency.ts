/**
 * Admin idempotency that means it: an admin's `Idempotency-Key` is bound to the first request that
 * used it — (admin, order, event type, body) — and to the answer it got (`admin_idempotency`,
 * migration 011b).
 *
 * - first use: the key is claimed (insert-once); the caller decides, answers, and records the answer;
 * - a repeat of the same request gets the recorded answer, whatever the order's state is now (ten
 *   concurrent repeats: one claims, nine wait for its answer — all ten get the same one);
 * - the same key with another order, event type or body → 422 `IDEMPOTENCY_KEY_REUSED`;
 * - a first request that failed transiently (NATS or Postgres down) releases its claim, so a retry
 *   with the same key is tried anew instead of replaying a 503.
 */
import { createHash } from 'node:crypto';
import type { Sql } from '../infra/db/postgres.ts';
import { OrderpilotError, type Envelope } from '../services/contracts/index.ts';

export interface IdempotentScope {
  admin: string;
  key: string;
  orderId: string;
  eventType: string;
  /** The request body as it matters (validated, unknown fields dropped). */
  body: unknown;
}

export interface RecordedAnswer {
  status: number;
  /** The JSON body, serialized once: a repeat gets the very same bytes. */
  body: string;
  /** The event published (accepted requests): kept for the admin-event recheck. */
  sent?: { subject: string; envelope: Envelope };
}

export type IdempotencyClaim = { kind: 'claimed'; messageId: string } | { kind: 'repeat'; answer: RecordedAnswer };

/** `Idempotency-Key` values we accept (anything else is a 422, not silently ignored). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\w.:-]{1,100}$/;

/** JSON with sorted keys and without undefined fields: the same body in another key order hashes the same. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function scopeHash(s: IdempotentScope): string {
  return createHash('sha256').update(canonicalJson([s.orderId, s.eventType, s.body])).digest('hex');
}

/** The message id an admin's keyed event is published with (stable, so JetStream drops a re-publish). */
function messageIdOf(admin: string, key: string): string {
  return `admin:${admin}:${key}`;
}

export function createAdminIdempotency(deps: { sql: Sql; waitMs?: number; pollMs?: number }) {
  const { sql } = deps;
  const waitMs = deps.waitMs ?? 15_000;
  const pollMs = deps.pollMs ?? 50;
  /** A claim with no answer after this long belongs to a request that died (far longer than any decision takes). */
  const abandonedAfterS = 60;

  async function claim(s: IdempotentScope): Promise<IdempotencyClaim> {
    const hash = scopeHash(s);
    const messageId = messageIdOf(s.admin, s.key);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const inserted = await sql`
        insert into admin_idempotency (admin, key, order_id, event_type, scope_hash, message_id)
        values (${s.admin}, ${s.key}, ${s.orderId}, ${s.eventType}, ${hash}, ${messageId})
        on conflict (admin, key) do nothing returning 1`;
      if (inserted.length === 1) return { kind: 'claimed', messageId };
      const [row] = await sql<{ scope_hash: string; order_id: string; event_type: string; status: number | null; response: string | null; abandoned: boolean }[]>`
        select scope_hash, order_id, event_type, status, response, created_at < now() - make_interval(secs => ${abandonedAfterS}) as abandoned
        from admin_idempotency where admin = ${s.admin} and key = ${s.key}`;
      if (row === undefined) continue; // released between our insert and select: claim again
      if (row.scope_hash !== hash) {
        throw new OrderpilotError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key "${s.key}" was already used for another request (${row.event_type} on order ${row.order_id}); use a new key for a new request`);
      }
      if (row.status !== null) return { kind: 'repeat', answer: { status: row.status, body: row.response ?? '' } };
      if (row.abandoned) {
        // Its first request died without answering (a crash): take the claim over. The event's
        // message id is stable, so a publish it may already have made is dropped downstream.
        const taken = await sql`update admin_idempotency set created_at = now()
          where admin = ${s.admin} and key = ${s.key} and status is null and created_at < now() - make_interval(secs => ${abandonedAfterS}) returning 1`;
        if (taken.length === 1) return { kind: 'claimed', messageId };
        continue;
      }
      // The first request with this key is still deciding: its answer is ours.
      if (Date.now() > deadline) {
        throw new OrderpilotError('IDEMPOTENCY_IN_PROGRESS', `a request with Idempotency-Key "${s.key}" is still in progress; try again`, { retryAfterMs: 1000 });
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** Records the answer of a claimed key (every later repeat gets it). */
  async function answer(admin: string, key: string, a: RecordedAnswer): Promise<void> {
    await sql`update admin_idempotency set status = ${a.status}, response = ${a.body}, answered_at = now(),
        subject = ${a.sent?.subject ?? null}, envelope = ${a.sent ? sql.json(a.sent.envelope as never) : null}
      where admin = ${admin} and key = ${key} and status is null`;
  }

  /** Gives a claimed key back (the first request failed transiently): the next try decides anew. */
  async function release(admin: string, key: string): Promise<void> {
    await sql`delete from admin_idempotency where admin = ${admin} and key = ${key} and status is null`;
  }

  return { claim, answer, release };
}

/**
 * Deletes keys answered before `olderThan` and claims never answered that were made before it (a
 * request that died and was never repeated), in batches; returns how many. A key deleted is free
 * again: a request with it is a new request. The admin-event recheck looks only at recent answers.
 */
export async function pruneAdminIdempotency(sql: Sql, olderThan: Date, batch = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await sql`delete from admin_idempotency where (admin, key) in (
        select admin, key from admin_idempotency where coalesce(answered_at, created_at) < ${olderThan} limit ${batch})
      returning 1`;
    total += deleted.length;
    if (deleted.length < batch) return total;
  }
}

export type AdminIdempotency = ReturnType<typeof createAdminIdempotency>;
