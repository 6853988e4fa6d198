import { COMMAND_PAYLOADS, OrderpilotError, validate, type Envelope } from '../contracts/index.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import type { Logger } from '../../infra/logger.ts';
import type { NotificationStore } from './notification.store.ts';
import type { ChannelName } from './notification.types.ts';

export interface NotifyHandlerDeps {
  sql: Sql;
  store: NotificationStore;
  logger: Logger;
  /** Channels a new notification is delivered to. */
  channels: readonly ChannelName[];
  /** Inbox key in processed_messages. */
  consumer: string;
  /** Called after a commit that created a new notification (wakes the dispatcher). */
  onCreated?: () => void;
}

/**
 * Handles one `notify` command: validate, store (de-duplicated while unacknowledged), schedule its
 * deliveries, all in one transaction with the inbox row, so a redelivery changes nothing.
 */
export function createNotifyHandler(d: NotifyHandlerDeps) {
  return async function handleNotify(env: Envelope): Promise<void> {
    if (env.type !== 'notify') throw new OrderpilotError('MALFORMED_MESSAGE', `notify queue got a "${env.type}" message`);
    const p = validate(COMMAND_PAYLOADS.notify, env.payload, 'notify payload');
    const result = await d.sql.begin(async (tx) => {
      if (!(await d.store.firstTime(tx, d.consumer, env.id))) return null;
      return d.store.record(
        tx,
        { kind: p.kind, severity: p.severity, code: p.code, orderId: p.orderId ?? env.orderId, externalId: p.externalId, message: p.message, source: env.id },
        d.channels,
      );
    });
    if (result === null) {
      d.logger.debug({ messageId: env.id }, 'notify command already processed');
      return;
    }
    d.logger.info(
      { notificationId: result.id, kind: p.kind, code: p.code, orderId: p.orderId, repeated: !result.created },
      result.created ? 'notification stored' : 'notification repeated while unacknowledged; counted, not re-sent',
    );
    if (result.created) d.onCreated?.();
  };
}
