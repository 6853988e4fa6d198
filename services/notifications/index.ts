/**
 * The notifications service's entry point: its read model over `notifications` (list, count,
 * acknowledge) and how to start it. Other services and the gateway import only this file.
 */
export {
  acknowledgeNotifications,
  acknowledgeOrderNotifications,
  countOpenNotifications,
  listNotifications,
  type NotificationFilter,
} from './notification.queries.ts';
export type { NotificationView, Severity } from './notification.types.ts';
export { readOpenNotificationCounts } from './notification-metrics.read.ts';
export { startNotificationsService, type NotificationsServiceOptions } from './main.ts';
