import type { Sql, TxSql } from '../../infra/db/postgres.ts';
import { dedupeKey, type ChannelName, type NewNotification, type Severity, type StoredNotification } from './notification.types.ts';

/** A `notifications` row as the store and the read model (`notification.queries.ts`) select it. */
export interface NotificationRow {
  id: string;
  kind: string;
  severity: Severity;
  code: string;
  order_id: string | null;
  external_id: string | null;
  message: string;
  occurrences: number;
  created_at: Date;
}

export function toStored(r: NotificationRow): StoredNotification {
  return {
    id: String(r.id),
    kind: r.kind,
    severity: r.severity,
    code: r.code,
    orderId: r.order_id,
    externalId: r.external_id,
    message: r.message,
    occurrences: r.occurrences,
    createdAt: r.created_at.toISOString(),
  };
}

/** Advisory lock keys of the per-channel claimers (arbitrary constants, unique in orderpilot). */
const CLAIM_LOCK_EMAIL = 7_400_123_051;
const CLAIM_LOCK_WEBHOOK = 7_400_123_052;

export interface RecordResult {
  id: string;
  /** False when an unacknowledged notification with the same key existed (only its count went up). */
  created: boolean;
}

export interface ClaimedBatch {
  batchId: string;
  notifications: StoredNotification[];
  /** Highest attempt number in the batch (for the give-up decision). */
  attempts: number;
}

/** Postgres access of the notifications service (the admin API reads them through `notification.queries.ts`). */
export function createNotificationStore(sql: Sql) {
  /**
   * Upserts by the dedupe key while unacknowledged, inside the caller's transaction; a new row also
   * gets one pending delivery per channel.
   */
  async function record(tx: TxSql, n: NewNotification, channels: readonly ChannelName[]): Promise<RecordResult> {
    const [row] = await tx<{ id: string; created: boolean }[]>`
      insert into notifications (kind, severity, code, order_id, external_id, message, dedupe_key, source)
      values (${n.kind}, ${n.severity}, ${n.code}, ${n.orderId}, ${n.externalId}, ${n.message.slice(0, 4000)}, ${dedupeKey(n)}, ${n.source})
      on conflict (dedupe_key) where acknowledged_at is null
      do update set occurrences = notifications.occurrences + 1, last_seen_at = now()
      returning id, (xmax = 0) as created`;
    if (!row) throw new Error('notification upsert returned no row');
    if (row.created && channels.length > 0) {
      const rows = channels.map((channel) => ({ notification_id: row.id, channel }));
      await tx`insert into notification_deliveries ${tx(rows, 'notification_id', 'channel')}`;
    }
    return { id: String(row.id), created: row.created };
  }

  /** Inbox check inside a transaction: true the first time `consumer` sees `messageId`. */
  async function firstTime(tx: TxSql, consumer: string, messageId: string): Promise<boolean> {
    const r = await tx`insert into processed_messages (consumer, message_id) values (${consumer}, ${messageId}) on conflict do nothing returning 1`;
    return r.length === 1;
  }

  /**
   * Whether a channel's pending deliveries should go out now: after `windowMs` of quiet since the
   * newest, or `maxWaitMs` after the oldest (a steady trickle still gets out), or a stale claim.
   */
  async function due(channel: ChannelName, windowMs: number, maxWaitMs: number): Promise<boolean> {
    const [r] = await sql<{ ready: boolean }[]>`
      select coalesce(bool_or(status = 'sending'), false)
          or coalesce(max(created_at) filter (where status = 'pending') <= now() - make_interval(secs => ${windowMs / 1000}), false)
          or coalesce(min(created_at) filter (where status = 'pending') <= now() - make_interval(secs => ${maxWaitMs / 1000}), false)
          or coalesce(bool_or(status = 'pending' and attempts > 0), false) as ready
      from notification_deliveries
      where channel = ${channel}
        and ((status = 'pending' and next_attempt_at <= now()) or (status = 'sending' and claimed_until < now()))`;
    return r?.ready ?? false;
  }

  /**
   * Claims every due delivery of a channel as one batch (acknowledged ones are skipped, not sent).
   * One claimer per channel at a time (transaction advisory lock), so a burst is never split
   * between instances; a claim expires after `leaseMs` if its sender dies.
   */
  async function claim(channel: ChannelName, batchId: string, leaseMs: number, limit: number): Promise<ClaimedBatch | null> {
    return sql.begin(async (tx) => {
      const [lock] = await tx<{ ok: boolean }[]>`select pg_try_advisory_xact_lock(${channel === 'email' ? CLAIM_LOCK_EMAIL : CLAIM_LOCK_WEBHOOK}::bigint) as ok`;
      if (!lock?.ok) return null;
      await tx`update notification_deliveries d set status = 'skipped', claimed_until = null
        from notifications n
        where n.id = d.notification_id and n.acknowledged_at is not null
          and d.channel = ${channel} and d.status in ('pending', 'sending')`;
      const claimed = await tx<{ notification_id: string; attempts: number }[]>`
        with picked as (
          select id from notification_deliveries
          where channel = ${channel}
            and ((status = 'pending' and next_attempt_at <= now()) or (status = 'sending' and claimed_until < now()))
          order by id limit ${limit}
          for update skip locked)
        update notification_deliveries d
        set status = 'sending', attempts = d.attempts + 1, batch_id = ${batchId},
            claimed_until = now() + make_interval(secs => ${leaseMs / 1000})
        from picked where d.id = picked.id
        returning d.notification_id, d.attempts`;
      if (claimed.length === 0) return null;
      const rows = await tx<NotificationRow[]>`
        select id, kind, severity, code, order_id, external_id, message, occurrences, created_at
        from notifications where id = any(${claimed.map((c) => c.notification_id)}) order by id`;
      return { batchId, notifications: rows.map(toStored), attempts: Math.max(...claimed.map((c) => c.attempts)) };
    });
  }

  async function markSent(batchId: string): Promise<void> {
    await sql`update notification_deliveries set status = 'sent', sent_at = now(), claimed_until = null, error = null
      where batch_id = ${batchId} and status = 'sending'`;
  }

  /** Puts a failed batch back (after `retryInMs`), or gives up on it when `giveUp`. */
  async function markFailed(batchId: string, error: string, giveUp: boolean, retryInMs: number): Promise<void> {
    await sql`update notification_deliveries
      set status = ${giveUp ? 'failed' : 'pending'}, claimed_until = null, error = ${error.slice(0, 2000)},
          next_attempt_at = now() + make_interval(secs => ${retryInMs / 1000})
      where batch_id = ${batchId} and status = 'sending'`;
  }

  return { record, firstTime, due, claim, markSent, markFailed };
}

export type NotificationStore = ReturnType<typeof createNotificationStore>;
