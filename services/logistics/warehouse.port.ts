import type { Shipment, ShipmentAddressChange, ShipmentRequest } from '../contracts/index.ts';

/**
 * What the logistics service needs from a warehouse / 3PL. `http-warehouse.adapter.ts` speaks our
 * documented contract; an adapter for another 3PL implements the same port.
 *
 * Errors are `OrderpilotError`s:
 * - a rejection of the shipment → code ADDRESS_INVALID | OUT_OF_STOCK | SKU_UNKNOWN | REJECTED
 *   (permanent; the order is held with that reason and the warehouse's message);
 * - timeouts, 5xx, 429, connection errors → PROVIDER_TIMEOUT / PROVIDER_UNAVAILABLE /
 *   PROVIDER_RATE_LIMITED (retryable);
 * - any other unexpected answer → WAREHOUSE_ERROR (permanent).
 */
export interface WarehousePort {
  /**
   * Submits a shipment; idempotent by `reference` (our order id). `created` is false when the
   * warehouse already had a shipment with that reference and returned it.
   */
  submit(request: ShipmentRequest): Promise<{ created: boolean; shipment: Shipment }>;
  /** The shipment with this reference, or null when the warehouse has none. */
  findByReference(reference: string): Promise<Shipment | null>;
  /**
   * Cancels a shipment that has not left the warehouse; idempotent (a cancelled one answers again).
   * `tooLate`: a carrier has it (the shipment is returned as the warehouse sees it).
   */
  cancel(shipmentId: string, reference: string): Promise<{ outcome: 'cancelled' | 'tooLate'; message: string }>;
  /**
   * Gives a shipment that has not left the warehouse a corrected recipient and address. `tooLate`: a
   * carrier has it; `invalid`: the warehouse cannot deliver there (ADDRESS_INVALID).
   */
  changeAddress(shipmentId: string, reference: string, change: ShipmentAddressChange): Promise<{ outcome: 'changed' | 'tooLate' | 'invalid'; message: string }>;
}

/** One raw message to or from the warehouse, as the warehouse log stores it. */
export interface WarehouseExchange {
  orderId: string | null;
  reference: string | null;
  shipmentId?: string | null;
  direction: 'out' | 'in' | 'note';
  /** e.g. submit-request, submit-response, lookup-request, lookup-response, webhook, rejected. */
  kind: string;
  /** Warehouse status, HTTP status text or our own verdict. */
  status: string | null;
  httpStatus?: number | null;
  raw: string;
  headers?: Record<string, string> | null;
  errorCode?: string | null;
  /** Webhooks: the warehouse's event id, the dedupe key (a redelivery is logged once), whether it matched an order. */
  eventId?: string | null;
  dedupeKey?: string | null;
  matched?: boolean | null;
  /** The order event this message led to. */
  orderEvent?: string | null;
  /** When the warehouse says it happened. */
  occurredAt?: string | null;
  /** Shown in the admin's filtered timeline. */
  timeline?: boolean;
  summary?: string | null;
}

/** Where every raw warehouse message goes (the `warehouse_log` table). */
export interface WarehouseLogPort {
  /** Stores one entry; false when an entry with the same dedupe key is already stored. */
  record(entry: WarehouseExchange): Promise<boolean>;
}
