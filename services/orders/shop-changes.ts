import { orderStatus, type OrderSnapshot } from '../../machines/order/index.ts';
import type { ShopChange } from '../contracts/index.ts';

type Snap = Pick<OrderSnapshot, 'value' | 'context'>;

/**
 * What one committed transition changed that the order's shop should show, in the order it
 * happened: pure, read from the snapshots before and after (the machine stays unaware of shops).
 * `before` is null for a new order (nothing to tell the shop: it placed it).
 */
export function shopChanges(before: Snap | null, after: Snap): ShopChange[] {
  if (before === null) return [];
  const out: ShopChange[] = [];
  const b = before.context;
  const a = after.context;
  const from = orderStatus(before.value);
  const to = orderStatus(after.value);
  if (b.payment === null && a.payment !== null) out.push({ kind: 'paid' });
  if (a.document !== null && a.document.number !== b.document?.number) out.push({ kind: 'documentIssued', number: a.document.number, ...(a.document.pdfUrl ? { pdfUrl: a.document.pdfUrl } : {}) });
  if (to === 'held' && a.hold !== null && (from !== 'held' || a.hold.since !== b.hold?.since)) {
    out.push({ kind: 'held', code: a.hold.code, message: a.hold.message });
  }
  if (from === 'held' && (to === 'processing' || to === 'inShipment')) out.push({ kind: 'released' });
  if (a.trackingNumber !== null && a.trackingNumber !== b.trackingNumber) out.push({ kind: 'shipped', trackingNumber: a.trackingNumber, carrier: a.carrier });
  if (to === 'closed' && from !== 'closed') out.push({ kind: 'closed' });
  if (to === 'cancelled' && from !== 'cancelled') out.push({ kind: 'cancelled', reason: a.cancellation?.note ?? a.cancellation?.reason ?? null });
  return out;
}
