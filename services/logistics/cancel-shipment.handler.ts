import type { Logger } from '../../infra/logger.ts';
import { COMMAND_PAYLOADS, isOrderpilotError, validate, type Envelope } from '../contracts/index.ts';
import type { LogisticsOutPort } from './order-events.port.ts';
import type { Delivery } from './submit-shipment.handler.ts';
import type { WarehouseLogPort, WarehousePort } from './warehouse.port.ts';

export interface CancelShipmentDeps {
  warehouse: WarehousePort;
  log: WarehouseLogPort;
  out: LogisticsOutPort;
  logger: Logger;
}

/**
 * `cancel-shipment` (an admin cancelled a paid order before hand-off):
 * 1. find the shipment (by the id the order knows, else by reference): none → SHIPMENT_CANCELLED
 *    `existed: false` (a rejected submit left nothing to cancel);
 * 2. `POST /shipments/{id}/cancel`: cancelled (or cancelled before: the warehouse answers the same)
 *    → SHIPMENT_CANCELLED; a carrier has it → SHIPMENT_CANCEL_REFUSED CANCEL_TOO_LATE (the order is
 *    held for a human, nothing is refunded).
 * Idempotent (the warehouse's cancel is); report ids derive from the command id. A transient failure
 * throws (the runner naks with backoff); the last attempt reports SHIPMENT_CANCEL_REFUSED
 * WAREHOUSE_UNREACHABLE, so the order is held instead of refunding money for goods that may ship.
 */
export function createCancelShipmentHandler(deps: CancelShipmentDeps) {
  const log = deps.logger.child({ handler: 'cancel-shipment' });
  return async function handleCancelShipment(env: Envelope, delivery: Delivery): Promise<void> {
    const cmd = validate(COMMAND_PAYLOADS.cancelShipment, env.payload, 'cancel-shipment payload');
    const { orderId } = cmd;
    const report = async (type: 'SHIPMENT_CANCELLED' | 'SHIPMENT_CANCEL_REFUSED', payload: Record<string, unknown>, summary: string) => {
      await deps.log.record({ orderId, reference: orderId, direction: 'note', kind: type === 'SHIPMENT_CANCELLED' ? 'cancelled' : 'cancel-refused', status: type, raw: JSON.stringify(payload), timeline: true, summary, orderEvent: type });
      await deps.out.orderEvent({ id: `${type.toLowerCase()}:${env.id}`, orderId, type, payload, cause: env });
    };
    try {
      const shipmentId = cmd.shipmentId ?? (await deps.warehouse.findByReference(orderId))?.shipmentId ?? null;
      if (shipmentId === null) {
        await report('SHIPMENT_CANCELLED', { existed: false }, 'Cancel: the warehouse has no shipment for this order');
        log.info({ orderId }, 'nothing to cancel at the warehouse');
        return;
      }
      const r = await deps.warehouse.cancel(shipmentId, orderId);
      if (r.outcome === 'cancelled') {
        await report('SHIPMENT_CANCELLED', { existed: true }, `Cancel: ${r.message}`);
        log.info({ orderId, shipmentId }, 'shipment cancelled at the warehouse');
      } else {
        await report('SHIPMENT_CANCEL_REFUSED', { code: 'CANCEL_TOO_LATE', message: r.message.slice(0, 2000) }, `Cancel refused: ${r.message}`);
        log.warn({ orderId, shipmentId, message: r.message }, 'too late to cancel the shipment; the order will be held');
      }
    } catch (err) {
      if (!isOrderpilotError(err)) throw err;
      if (err.retryable && !delivery.lastAttempt) throw err;
      const code = err.retryable ? 'WAREHOUSE_UNREACHABLE' : err.code;
      await report('SHIPMENT_CANCEL_REFUSED', { code, message: `the warehouse did not cancel the shipment: ${err.message}`.slice(0, 2000) }, `Cancel failed: ${code}: ${err.message}`);
      log.warn({ orderId, code, err: err.message }, 'could not cancel the shipment; the order will be held');
    }
  };
}
