import type { OrderData } from '../../machines/order/index.ts';
import type { Logger } from '../../infra/logger.ts';
import {
  COMMAND_PAYLOADS,
  isOrderpilotError,
  isWarehouseRejectionCode,
  OrderpilotError,
  validate,
  type Envelope,
  type Shipment,
  type ShipmentRequest,
} from '../contracts/index.ts';
import type { LogisticsOutPort } from './order-events.port.ts';
import { catchUpEvents } from './warehouse-status.mapping.ts';
import type { WarehouseLogPort, WarehousePort } from './warehouse.port.ts';

export interface SubmitShipmentDeps {
  warehouse: WarehousePort;
  log: WarehouseLogPort;
  out: LogisticsOutPort;
  logger: Logger;
}

/** What the consumer runner tells a handler about this delivery. */
export interface Delivery {
  deliveryCount: number;
  /** The last allowed delivery: a transient failure now ends in SHIPMENT_REJECTED WAREHOUSE_UNREACHABLE. */
  lastAttempt: boolean;
}

/** Our order's recipient and shipping address as the warehouse contract has them. */
export function shipmentAddressOf(order: OrderData): { recipient: ShipmentRequest['recipient']; address: ShipmentRequest['address'] } {
  const a = order.shippingAddress;
  return {
    recipient: { name: a.name, email: order.customer.email, phone: a.phone ?? order.billingAddress.phone ?? null },
    address: { line1: a.line1, line2: a.line2 ?? null, city: a.city, postalCode: a.postalCode, country: a.country },
  };
}

/** Our order as the warehouse contract's shipment (one item per SKU). */
export function shipmentRequestOf(order: OrderData): ShipmentRequest {
  const quantities = new Map<string, number>();
  for (const l of order.lines) quantities.set(l.sku, (quantities.get(l.sku) ?? 0) + l.quantity);
  return { reference: order.orderId, ...shipmentAddressOf(order), items: [...quantities].map(([sku, quantity]) => ({ sku, quantity })) };
}

/**
 * `submit-shipment`: hands the order to the warehouse and reports SHIPMENT_ACCEPTED or
 * SHIPMENT_REJECTED. Idempotent: on a redelivery, a RELEASE or a known shipment id it looks the
 * reference up first (a submit whose answer was lost must not make a second parcel), and the
 * warehouse itself de-duplicates by reference (`Idempotency-Key`).
 *
 * Errors: a warehouse rejection (422) or any other permanent failure → SHIPMENT_REJECTED with its
 * code (the order is held, the machine notifies an admin); a transient failure is thrown so the
 * runner naks it with backoff, and on the last attempt it becomes SHIPMENT_REJECTED
 * WAREHOUSE_UNREACHABLE. Report ids derive from the command id: stable across redeliveries, new
 * for each RELEASE.
 */
export function createSubmitShipmentHandler(deps: SubmitShipmentDeps) {
  const log = deps.logger.child({ handler: 'submit-shipment' });

  async function reject(env: Envelope, orderId: string, code: string, message: string, delivery: Delivery): Promise<void> {
    await deps.log.record({
      orderId,
      reference: orderId,
      direction: 'note',
      kind: 'rejected',
      status: code,
      errorCode: code,
      raw: JSON.stringify({ code, message, attempts: delivery.deliveryCount }),
      timeline: true,
      summary: `Shipment rejected: ${code}: ${message}`,
      orderEvent: 'SHIPMENT_REJECTED',
    });
    await deps.out.orderEvent({ id: `shipment-rejected:${env.id}`, orderId, type: 'SHIPMENT_REJECTED', payload: { code, message: message.slice(0, 2000) }, cause: env });
    log.warn({ orderId, code, message, deliveryCount: delivery.deliveryCount }, 'shipment rejected; the order will be held');
  }

  return async function handleSubmitShipment(env: Envelope, delivery: Delivery): Promise<void> {
    // A malformed command is permanent: the runner dead-letters it (admins see dead letters).
    const cmd = validate(COMMAND_PAYLOADS.submitShipment, env.payload, 'submit-shipment payload');
    const orderId = cmd.order.orderId;
    if (env.orderId !== null && env.orderId !== orderId) {
      throw new OrderpilotError('MALFORMED_MESSAGE', `submit-shipment for ${env.orderId} carries order ${orderId}`);
    }
    const lookFirst = delivery.deliveryCount > 1 || cmd.reason === 'release' || cmd.shipmentId !== null;
    let shipment: Shipment | null = null;
    let existing = false;
    try {
      if (lookFirst) {
        shipment = await deps.warehouse.findByReference(orderId);
        existing = shipment !== null;
      }
      if (shipment === null) {
        const r = await deps.warehouse.submit(shipmentRequestOf(cmd.order));
        shipment = r.shipment;
        existing = !r.created;
      }
    } catch (err) {
      if (!isOrderpilotError(err)) throw err; // database trouble: the runner retries / dead-letters
      if (isWarehouseRejectionCode(err.code)) return reject(env, orderId, err.code, err.message, delivery);
      if (!err.retryable) return reject(env, orderId, err.code, err.message, delivery);
      if (!delivery.lastAttempt) {
        log.info({ orderId, code: err.code, err: err.message, deliveryCount: delivery.deliveryCount }, 'warehouse transient failure; will retry');
        throw err;
      }
      return reject(env, orderId, 'WAREHOUSE_UNREACHABLE', `gave up after ${delivery.deliveryCount} attempts; last error ${err.code}: ${err.message}`, delivery);
    }

    await deps.out.orderEvent({ id: `shipment-accepted:${env.id}`, orderId, type: 'SHIPMENT_ACCEPTED', payload: { shipmentId: shipment.shipmentId }, cause: env });
    if (existing) {
      // The warehouse already had it (a lost answer, a RELEASE): bring the order up to its state.
      const events = catchUpEvents(shipment);
      await deps.log.record({
        orderId,
        reference: orderId,
        shipmentId: shipment.shipmentId,
        direction: 'note',
        kind: 're-read',
        status: shipment.status,
        raw: JSON.stringify(shipment),
        timeline: cmd.reason === 'release',
        summary: `Warehouse already has shipment ${shipment.shipmentId} (${shipment.status})${events.length > 0 ? `: reported ${events.map((e) => e.type).join(', ')}` : ''}`,
        orderEvent: events.map((e) => e.type).join(',') || null,
      });
      for (const e of events) {
        await deps.out.orderEvent({ id: `warehouse-sync:${env.id}:${e.type}`, orderId, type: e.type, payload: e.payload, cause: env });
      }
    }
    log.info({ orderId, shipmentId: shipment.shipmentId, existing, reason: cmd.reason }, 'shipment accepted by the warehouse');
  };
}
