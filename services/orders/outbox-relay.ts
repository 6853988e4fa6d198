import type { NatsConnection } from '@nats-io/transport-node';
import type { Envelope } from '../contracts/index.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import type { Logger } from '../../infra/logger.ts';
import { publishEnvelope } from '../../infra/nats/publish.ts';
import { withTryLock } from '../../infra/runtime/periodic.ts';
import { backoffMs, JITTER_NONE, type RetryPolicy } from '../../infra/retry-policy.ts';

/** After a failed round the leader waits 200 ms, doubling, at most 5 s (the one retry policy; exact: one relay leads). */
const RELAY_RETRY: RetryPolicy = { baseMs: 200, capMs: 5000, jitter: JITTER_NONE };

/** Advisory lock key of the relay leader (one active relay per database keeps per-order order). */
const RELAY_LOCK = 7_400_123_002;

export interface OutboxRelayOptions {
  sql: Sql;
  nc: NatsConnection;
  logger: Logger;
  pollMs: number;
  batchSize?: number;
  /** Sent outbox rows and inbox rows older than this are deleted (default 7 days). */
  retentionMs?: number;
  /**
   * The plain NATS subject order hosts publish on after a commit that queued outbox rows
   * (`names.subjects.outboxWake`); the relay wakes on it at once. Without it the relay only polls.
   */
  wakeSubject?: string;
}

export interface OutboxRelay {
  stop(): Promise<void>;
  /** Resolves when this instance holds the leader lock (tests use it). */
  readonly leader: Promise<void>;
}

interface OutboxRow {
  seq: string;
  id: string;
  subject: string;
  envelope: Envelope;
}

/**
 * Publishes outbox rows to JetStream in `seq` order with the row id as message id, then marks them
 * sent (with the statement that takes the next batch). Also fires due timers (moves them into the outbox in one statement). One leader at a time
 * (Postgres advisory lock); other instances stand by and take over when the leader's session ends.
 * Wakes on the hosts' hint after a commit (`wakeSubject`; not NOTIFY, which Postgres lets only one
 * committing transaction at a time send), and polls as a fallback should a hint be lost.
 */
export async function startOutboxRelay(o: OutboxRelayOptions): Promise<OutboxRelay> {
  const log = o.logger.child({ service: 'outbox-relay' });
  const batchSize = o.batchSize ?? 500;
  const retentionMs = o.retentionMs ?? 7 * 24 * 3600_000;
  let stopped = false;
  let wake: (() => void) | null = null;
  let pendingWake = false;
  const signal = () => {
    pendingWake = true;
    wake?.();
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (pendingWake || stopped) return resolve();
      const t = setTimeout(() => {
        wake = null;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(t);
        wake = null;
        resolve();
      };
    });

  const hints = o.wakeSubject === undefined ? null : o.nc.subscribe(o.wakeSubject, { callback: signal });
  let resolveLeader!: () => void;
  const leader = new Promise<void>((r) => (resolveLeader = r));

  async function fireTimers(): Promise<number> {
    const fired = await o.sql`
      with due as (
        delete from timers where id in (
          select id from timers where fire_at <= now() order by fire_at limit ${batchSize} for update skip locked)
        returning id, order_id, subject, envelope)
      insert into outbox (id, order_id, subject, envelope)
      select id || ':' || extract(epoch from now())::bigint, order_id, subject,
             jsonb_set(envelope, '{occurredAt}', to_jsonb(to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
      from due`;
    return fired.count;
  }

  /**
   * Rows published but not yet marked sent. They are marked by the next round's statement, the one
   * that also takes the next batch, so a round costs one statement (one commit) instead of two. A
   * crash before that mark republishes them; the stream's duplicate window drops the copies, as it
   * does for a crash between publish and mark anyway.
   */
  let unmarked: string[] = [];

  /** Marks what the last round published and takes the next batch, in ONE statement. */
  async function takeBatch(): Promise<OutboxRow[]> {
    const marking = unmarked;
    const rows = await o.sql<OutboxRow[]>`
      with marked as (update outbox set sent_at = now() where seq = any(${marking}::bigint[]) returning 1)
      select seq, id, subject, envelope from outbox
      where sent_at is null and seq <> all(${marking}::bigint[]) order by seq limit ${batchSize}`;
    unmarked = [];
    return rows;
  }

  async function publishBatch(): Promise<number> {
    const rows = await takeBatch();
    if (rows.length === 0) return 0;
    // One connection keeps publish order; awaiting all at once pipelines the acks.
    const results = await Promise.allSettled(
      rows.map((r) => publishEnvelope(o.nc, r.subject, { ...r.envelope, id: r.id }, r.id)),
    );
    const firstFailure = results.findIndex((r) => r.status === 'rejected');
    const sent = firstFailure === -1 ? rows : rows.slice(0, firstFailure);
    unmarked = sent.map((r) => r.seq);
    if (firstFailure !== -1) {
      const reason = (results[firstFailure] as PromiseRejectedResult).reason;
      // Later rows may have been published too; the stream's duplicate window drops them on retry.
      throw reason instanceof Error ? reason : new Error(String(reason));
    }
    return sent.length;
  }

  /** Marks the last round's rows before leadership is given up (best effort: see `unmarked`). */
  async function markPublished(): Promise<void> {
    if (unmarked.length === 0) return;
    await o.sql`update outbox set sent_at = now() where seq = any(${unmarked}::bigint[])`;
    unmarked = [];
  }

  let lastCleanup = 0;
  let lastTimerCheck = 0;
  let lastLockCheck = 0;
  async function cleanup(): Promise<void> {
    if (Date.now() - lastCleanup < 10 * 60_000) return;
    lastCleanup = Date.now();
    const before = new Date(Date.now() - retentionMs);
    await o.sql`delete from outbox where sent_at is not null and sent_at < ${before}`;
    await o.sql`delete from processed_messages where processed_at < ${before}`;
  }

  /**
   * Leads for as long as this instance holds the lock: a transaction holding the transaction-level
   * advisory lock, taken with the simple protocol so the idle transaction pins no snapshot
   * (`withTryLock`). If the session ends (a Postgres restart), the transaction is rejected, the
   * relay campaigns again, and this round stops at its next turn (`held()`).
   * Resolves null when another instance leads.
   */
  function lead(): Promise<true | null> {
    return withTryLock(o.sql, RELAY_LOCK, async (lock, held) => {
      log.info('outbox relay is leader');
      resolveLeader();
      let failures = 0;
      // `held()`: once the lock's session has ended this round stops (the loop below campaigns again).
      while (!stopped && held()) {
        pendingWake = false;
        try {
          // Timers are due on the clock, not on commits: check them once per poll interval.
          if (Date.now() - lastTimerCheck >= o.pollMs) {
            lastTimerCheck = Date.now();
            await fireTimers();
          }
          let n = await publishBatch();
          while (n === batchSize && !stopped) n = await publishBatch();
          await cleanup();
          failures = 0;
        } catch (err) {
          failures++;
          log.warn({ err: err instanceof Error ? err.message : String(err), failures }, 'outbox publish failed; will retry');
          await new Promise((r) => setTimeout(r, backoffMs(RELAY_RETRY, failures)));
          continue;
        }
        // Check the lock's session is alive (a broken session has lost the lock) once per poll
        // interval, not after every wake-up: under load a round follows every commit.
        if (Date.now() - lastLockCheck >= o.pollMs && held()) {
          lastLockCheck = Date.now();
          await lock.unsafe('select 1').simple();
        }
        await sleep(o.pollMs);
      }
      await markPublished().catch(() => {});
      return true as const;
    });
  }

  const loop = (async () => {
    while (!stopped) {
      try {
        if ((await lead()) === null) {
          await sleep(o.pollMs);
          pendingWake = false;
        }
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'outbox relay lost its connection; retrying');
        // The lock may be gone: another leader publishes (and marks) these rows, the copies dropped.
        unmarked = [];
        await new Promise((r) => setTimeout(r, o.pollMs));
      }
    }
  })();

  return {
    leader,
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      hints?.unsubscribe();
    },
  };
}
