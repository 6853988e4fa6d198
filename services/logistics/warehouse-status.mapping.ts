import {
  isWarehouseStatus,
  type OrderEventPayload,
  type Shipment,
  type WarehouseStatus,
  type WarehouseWebhook,
} from '../contracts/index.ts';

/**
 * Warehouse status → order event, as data. The one place that decides what a warehouse status does
 * to an order and whether an admin sees it in the warehouse timeline. Pure; unit-tested.
 *
 * - `log`: stored in the warehouse log only (chatter: ACCEPTED, PICKING, PACKED, IN_TRANSIT);
 * - `handedToCarrier`: HANDED_TO_CARRIER (tracking number and carrier saved) → order `inShipment`;
 * - `delivered`: DELIVERED → order `closed`;
 * - `hold`: SHIPMENT_PROBLEM with the status as the reason code → order `held`.
 */
export type StatusEffect = 'log' | 'handedToCarrier' | 'delivered' | 'hold';

export interface StatusRule {
  readonly effect: StatusEffect;
  /** Shown in the admin's filtered warehouse timeline. */
  readonly timeline: boolean;
  /** How the timeline names it. */
  readonly label: string;
}

export const WAREHOUSE_STATUS_MAPPING: Readonly<Record<WarehouseStatus, StatusRule>> = Object.freeze({
  ACCEPTED: { effect: 'log', timeline: false, label: 'Accepted by the warehouse' },
  PICKING: { effect: 'log', timeline: false, label: 'Picking' },
  PACKED: { effect: 'log', timeline: false, label: 'Packed' },
  HANDED_TO_CARRIER: { effect: 'handedToCarrier', timeline: true, label: 'Handed to carrier' },
  IN_TRANSIT: { effect: 'log', timeline: false, label: 'In transit' },
  DELIVERED: { effect: 'delivered', timeline: true, label: 'Delivered' },
  DELIVERY_FAILED: { effect: 'hold', timeline: true, label: 'Delivery failed' },
  RETURNED: { effect: 'hold', timeline: true, label: 'Returned' },
  LOST: { effect: 'hold', timeline: true, label: 'Lost' },
  ON_HOLD: { effect: 'hold', timeline: true, label: 'On hold at the warehouse' },
  CANCELLED: { effect: 'hold', timeline: true, label: 'Cancelled by the warehouse' },
});

/** Hold reason when a HANDED_TO_CARRIER status comes without a tracking number. */
export const TRACKING_MISSING = 'TRACKING_MISSING';

export type MappedOrderEvent =
  | { type: 'HANDED_TO_CARRIER'; payload: OrderEventPayload<'HANDED_TO_CARRIER'> }
  | { type: 'DELIVERED'; payload: OrderEventPayload<'DELIVERED'> }
  | { type: 'SHIPMENT_PROBLEM'; payload: OrderEventPayload<'SHIPMENT_PROBLEM'> };

export interface MappedStatus {
  /** The order event to publish, or null when the status is only logged. */
  event: MappedOrderEvent | null;
  /** Worth an admin's time (filtered timeline). */
  timeline: boolean;
  /** One line for the timeline / logs. */
  summary: string;
  /** A status this mapping does not know: logged, and an admin is told. */
  unknownStatus: boolean;
}

function nonEmpty(s: string | null | undefined): string | null {
  return typeof s === 'string' && s.trim() !== '' ? s.trim() : null;
}

/** Maps one status (from a webhook or a look-up) to what it does to the order. */
export function mapWarehouseStatus(s: {
  status: string;
  reason?: string | null | undefined;
  trackingNumber?: string | null | undefined;
  carrier?: string | null | undefined;
}): MappedStatus {
  if (!isWarehouseStatus(s.status)) {
    return { event: null, timeline: true, summary: `Unknown warehouse status "${s.status}"`, unknownStatus: true };
  }
  const rule = WAREHOUSE_STATUS_MAPPING[s.status];
  const reason = nonEmpty(s.reason);
  const tracking = nonEmpty(s.trackingNumber);
  const carrier = nonEmpty(s.carrier);
  switch (rule.effect) {
    case 'log':
      return { event: null, timeline: rule.timeline, summary: rule.label, unknownStatus: false };
    case 'handedToCarrier':
      if (tracking === null) {
        // The order cannot be tracked: a human must look (any error holds the order).
        return {
          event: { type: 'SHIPMENT_PROBLEM', payload: { code: TRACKING_MISSING, message: 'Warehouse reported HANDED_TO_CARRIER without a tracking number' } },
          timeline: true,
          summary: `${rule.label} without a tracking number`,
          unknownStatus: false,
        };
      }
      return {
        event: { type: 'HANDED_TO_CARRIER', payload: { trackingNumber: tracking, carrier } },
        timeline: rule.timeline,
        summary: `${rule.label}${carrier ? ` ${carrier}` : ''}, tracking ${tracking}`,
        unknownStatus: false,
      };
    case 'delivered':
      return { event: { type: 'DELIVERED', payload: {} }, timeline: rule.timeline, summary: rule.label, unknownStatus: false };
    case 'hold':
      return {
        event: { type: 'SHIPMENT_PROBLEM', payload: { code: s.status, message: reason ?? rule.label } },
        timeline: rule.timeline,
        summary: `${rule.label}${reason ? `: ${reason}` : ''}`,
        unknownStatus: false,
      };
  }
}

/** Maps a status webhook. */
export function mapWarehouseWebhook(w: WarehouseWebhook): MappedStatus {
  return mapWarehouseStatus(w);
}

/**
 * The order events that bring an order up to a shipment's current state when it is re-read (after a
 * RELEASE, when the warehouse already has the shipment): a delivered parcel also reports its hand-off
 * (when the tracking number is known), a problem status holds the order again.
 */
export function catchUpEvents(shipment: Shipment): MappedOrderEvent[] {
  const mapped = mapWarehouseStatus(shipment);
  if (mapped.event === null) return [];
  if (mapped.event.type === 'DELIVERED') {
    const tracking = nonEmpty(shipment.trackingNumber);
    return tracking === null
      ? [mapped.event]
      : [{ type: 'HANDED_TO_CARRIER', payload: { trackingNumber: tracking, carrier: nonEmpty(shipment.carrier) } }, mapped.event];
  }
  return [mapped.event];
}
