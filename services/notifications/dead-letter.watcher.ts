import type { Sql } from '../../infra/db/postgres.ts';
import type { Logger } from '../../infra/logger.ts';
import type { NotificationStore } from './notification.store.ts';
import type { ChannelName } from './notification.types.ts';

interface DeadLetterRow {
  id: string;
  consumer: string;
  subject: string;
  message_id: string | null;
  order_id: string | null;
  external_id: string | null;
  error_code: string;
  error_message: string;
  deliveries: number;
}

/** Inbox key: a dead letter surfaced once is never surfaced again (by any instance). */
export const DEAD_LETTER_INBOX = 'notifications:dead-letters';

/**
 * Turns new rows of `dead_letters` (written by every consumer when it gives up on a message) into
 * critical notifications. Safe with several instances: the inbox row decides who surfaces a row.
 * Looks back 6 days: the relay prunes inbox rows after 7, so an old dead letter is never surfaced twice.
 * Returns how many it surfaced.
 */
export async function surfaceDeadLetters(
  sql: Sql,
  store: NotificationStore,
  channels: readonly ChannelName[],
  logger: Logger,
): Promise<number> {
  const rows = await sql<DeadLetterRow[]>`
    select d.id, d.consumer, d.subject, d.message_id, d.order_id, o.external_id, d.error_code, d.error_message, d.deliveries
    from dead_letters d left join orders o on o.id = d.order_id
    where d.replayed_at is null and d.created_at > now() - interval '6 days'
      and not exists (select 1 from processed_messages p where p.consumer = ${DEAD_LETTER_INBOX} and p.message_id = d.id::text)
    order by d.id limit 200`;
  let surfaced = 0;
  for (const r of rows) {
    const created = await sql.begin(async (tx) => {
      if (!(await store.firstTime(tx, DEAD_LETTER_INBOX, String(r.id)))) return null;
      return store.record(
        tx,
        {
          kind: 'dead-letter',
          severity: 'critical',
          code: r.error_code,
          orderId: r.order_id,
          externalId: r.external_id,
          message: `A message was dead-lettered by ${r.consumer} after ${r.deliveries} deliveries (${r.subject}${r.message_id ? `, id ${r.message_id}` : ''}): ${r.error_code}: ${r.error_message}`,
          source: `dead-letter:${r.id}`,
        },
        channels,
      );
    });
    if (created) {
      surfaced++;
      logger.warn({ deadLetterId: r.id, consumer: r.consumer, code: r.error_code, orderId: r.order_id }, 'dead letter surfaced as a notification');
    }
  }
  return surfaced;
}
