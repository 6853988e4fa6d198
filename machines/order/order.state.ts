import type { SnapshotFrom, StateValue } from 'xstate';
import { documentRequestOut, orderMachine } from './order.machine.ts';
import { ADMIN_EVENT_TYPES, DOCUMENT_STATUSES, type AdminEventType, type DocumentStatus, type OrderEffect, type OrderEvent, type OrderStatus } from './order.types.ts';

export type OrderSnapshot = SnapshotFrom<typeof orderMachine>;

function region(value: StateValue, name: string): string | undefined {
  if (typeof value !== 'object') return undefined;
  const processing = value['processing'];
  if (typeof processing !== 'object' || processing === null) return undefined;
  const r = (processing as Record<string, StateValue>)[name];
  return typeof r === 'string' ? r : undefined;
}

/** The one-word state people see: the fulfilment region's state once the order is being processed. */
export function orderStatus(value: StateValue): OrderStatus {
  if (typeof value === 'string') {
    if (value === 'pending' || value === 'paid' || value === 'cancelled') return value;
    throw new Error(`unknown order state value ${value}`);
  }
  const f = region(value, 'fulfilment');
  switch (f) {
    case 'submitting':
    case 'accepted':
      return 'processing';
    case 'inShipment':
    case 'held':
    case 'closed':
    case 'cancelling':
      return f;
    default:
      throw new Error(`unknown order state value ${JSON.stringify(value)}`);
  }
}

export function documentStatus(value: StateValue): DocumentStatus {
  const d = region(value, 'document');
  return d !== undefined && (DOCUMENT_STATUSES as readonly string[]).includes(d) ? (d as DocumentStatus) : 'none';
}

/** Rebuilds a live snapshot from what the host stored (`value` + `context`). */
export function restoreOrderSnapshot(stored: { value: StateValue; context: unknown }): OrderSnapshot {
  return orderMachine.resolveState({ value: stored.value, context: stored.context as OrderSnapshot['context'] });
}

/**
 * The admin events the machine accepts now, asked of the machine itself (guards included, with a
 * placeholder note and tracking number since those are the admin's to type).
 */
export function allowedAdminEvents(snapshot: OrderSnapshot): AdminEventType[] {
  const at = new Date(0).toISOString();
  const note = 'note';
  const sample = (type: AdminEventType): OrderEvent => {
    switch (type) {
      case 'MARK_SHIPPED':
        return { type, trackingNumber: 'TRACKING', note, at };
      case 'UPDATE_SHIPPING_ADDRESS':
        return { type, shippingAddress: snapshot.context.order.shippingAddress, note, at };
      case 'UPDATE_BUYER':
        return { type, customer: { name: snapshot.context.order.customer.name }, note, at };
      case 'REFUND':
        return { type, amount: 1, reason: 'reason', note, at };
      case 'ATTACH_DOCUMENT':
        return { type, number: 'NUMBER', issueDate: '2000-01-01', note, at };
      default:
        return { type, note, at };
    }
  };
  // RESEND_TO_KSEF may also mean a correction KSeF refused (the event names it).
  const rejectedCorrections = (snapshot.context.corrections ?? []).filter((c) => c.status === 'ksefRejected').map((c) => c.correctionId);
  return ADMIN_EVENT_TYPES.filter(
    (type) => snapshot.can(sample(type)) || (type === 'RESEND_TO_KSEF' && rejectedCorrections.some((correctionId) => snapshot.can({ type, correctionId, note, at }))),
  );
}

/**
 * What the order waits for from a service now, as the effects that asked for it (the commands the
 * host would send again to ask once more): a submit, a shipment cancel or address change, the
 * document or its e-mail (a cancelled paid order's document too, when its request was still out),
 * each refund and correction still under way. Waiting on the outside world
 * (a payment, a carrier, an admin, KSeF's verdict, which the invoicing service polls) is not in it.
 * `order-redrive.ts` re-sends these for an order that has waited too long; every service answers a
 * repeated command idempotently (the submit looks its reference up, the document its order, …).
 */
export function awaitedEffects(snapshot: Pick<OrderSnapshot, 'value' | 'context'>): OrderEffect[] {
  const { value, context: c } = snapshot;
  const out: OrderEffect[] = [];
  const fulfilment = region(value, 'fulfilment');
  if (fulfilment === 'submitting') out.push({ type: 'submitToWarehouse', params: { reason: c.warehouseSubmissions > 1 ? 'release' : 'payment' } });
  if ((fulfilment === 'cancelling' || value === 'cancelled') && c.shipmentCancel?.status === 'requested') out.push({ type: 'cancelShipment' });
  if ((fulfilment === 'accepted' || fulfilment === 'held') && c.pendingShippingAddress && c.shipmentId) out.push({ type: 'changeShipmentAddress' });
  const document = region(value, 'document');
  if (document === 'requested') out.push({ type: 'requestDocument', params: { reason: c.documentRequests > 1 ? 'admin' : 'payment' } });
  if (document === 'issued' && c.document) out.push({ type: 'emailDocument', params: { to: c.documentEmailTo ?? null, resend: false } });
  // Cancelled while its document was still asked for (a paid order held and cancelled at once): the
  // cancel ends the document region, not the request. A paid order is owed its document (the
  // cancelled order keeps a late one and tells an admin to correct it), so it is asked again.
  if (value === 'cancelled' && c.payment !== null && documentRequestOut(c)) {
    out.push({ type: 'requestDocument', params: { reason: c.documentRequests > 1 ? 'admin' : 'payment' } });
  }
  for (const r of c.refunds ?? []) if (r.status === 'requested') out.push({ type: 'refundPayment', params: { refundId: r.refundId } });
  for (const k of c.corrections ?? []) {
    if (k.status === 'requested') out.push({ type: 'issueCorrection', params: { correctionId: k.correctionId } });
    if (k.status === 'issued') out.push({ type: 'emailCorrection', params: { correctionId: k.correctionId } });
  }
  return out;
}
