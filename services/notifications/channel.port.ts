import type { ChannelName, StoredNotification } from './notification.types.ts';

/**
 * A way to reach admins. `send` gets one batch (one notification, or a digest of many) and either
 * delivers all of it or throws; a retryable error (OrderpilotError with retryable, or a network
 * error) makes the dispatcher try the batch again later.
 */
export interface NotificationChannel {
  readonly name: ChannelName;
  send(batch: readonly StoredNotification[]): Promise<void>;
  close(): Promise<void>;
}
