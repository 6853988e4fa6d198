import type { Logger } from '../../infra/logger.ts';
import { ADMIN_EVENT_TYPES, type AdminEventType } from '../../machines/order/index.ts';
import type { TransitionReport } from './order-host.ts';

/** The notification kinds (raised by the order machine) that an applied admin event settles. */
export const SETTLED_BY: Record<AdminEventType, readonly string[]> = {
  RELEASE: ['order.held'],
  MARK_SHIPPED: ['order.held'],
  CANCEL: ['order.held', 'payment.after-cancel'],
  ISSUE_DOCUMENT: ['document.failed'],
  RETRY_DOCUMENT: ['document.failed'],
  RESEND_TO_KSEF: ['document.ksef-rejected', 'correction.ksef-rejected'],
  UPDATE_SHIPPING_ADDRESS: ['order.held'],
  UPDATE_BUYER: ['document.failed'],
  ATTACH_DOCUMENT: ['document.failed'],
  RESEND_DOCUMENT_EMAIL: ['document.failed'],
  REFUND: ['refund.failed'],
};

const isAdminEvent = (type: string): type is AdminEventType => (ADMIN_EVENT_TYPES as readonly string[]).includes(type);

/**
 * An observer of committed transitions that settles an order's open notifications once an admin
 * event was **applied** (never when it was ignored, refused or dropped), by that admin: the admin has
 * acted on the problem, and if it comes back (a release that fails again) it notifies anew instead
 * of only counting up. Runs after the commit; if this process dies in between, the notification
 * merely stays open (never settled by an event that did not happen).
 */
export function createAdminSettlement(deps: {
  logger: Logger;
  acknowledge: (orderId: string, by: string, kinds: readonly string[]) => Promise<string[]>;
}): (r: TransitionReport) => void {
  return (r) => {
    if (r.outcome !== 'applied' || !isAdminEvent(r.event.type)) return;
    const by = r.event.actor ?? 'admin';
    void deps.acknowledge(r.orderId, by, SETTLED_BY[r.event.type]).then(
      (ids) => {
        if (ids.length > 0) deps.logger.info({ orderId: r.orderId, type: r.event.type, by, acknowledged: ids }, 'admin event settled notifications');
      },
      (err: unknown) => deps.logger.warn({ orderId: r.orderId, err: err instanceof Error ? err.message : String(err) }, 'could not settle the order notifications'),
    );
  };
}
