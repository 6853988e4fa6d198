import type { Logger } from '../../infra/logger.ts';
import { COMMAND_PAYLOADS, isOrderpilotError, validate, type Envelope } from '../contracts/index.ts';
import type { LogisticsOutPort } from './order-events.port.ts';
import { shipmentAddressOf, type Delivery } from './submit-shipment.handler.ts';
import type { WarehouseLogPort, WarehousePort } from './warehouse.port.ts';

export interface ChangeShipmentAddressDeps {
  warehouse: WarehousePort;
  log: WarehouseLogPort;
  out: LogisticsOutPort;
  logger: Logger;
}

/**
 * `change-shipment-address` (an admin corrected the address of an order the warehouse accepted and
 * no carrier has yet): `POST /shipments/{id}/address` → SHIPMENT_ADDRESS_CHANGED (the order takes the
 * new address), or SHIPMENT_ADDRESS_REFUSED with ADDRESS_CHANGE_TOO_LATE / ADDRESS_INVALID (the order
 * keeps the old one, an admin is told). Idempotent: setting the same address twice is harmless;
 * report ids derive from the command id. A transient failure throws (the runner naks with backoff);
 * the last attempt reports SHIPMENT_ADDRESS_REFUSED WAREHOUSE_UNREACHABLE.
 */
export function createChangeShipmentAddressHandler(deps: ChangeShipmentAddressDeps) {
  const log = deps.logger.child({ handler: 'change-shipment-address' });
  return async function handleChangeShipmentAddress(env: Envelope, delivery: Delivery): Promise<void> {
    const cmd = validate(COMMAND_PAYLOADS.changeShipmentAddress, env.payload, 'change-shipment-address payload');
    const orderId = cmd.order.orderId;
    const report = async (type: 'SHIPMENT_ADDRESS_CHANGED' | 'SHIPMENT_ADDRESS_REFUSED', payload: Record<string, unknown>, summary: string) => {
      await deps.log.record({ orderId, reference: orderId, shipmentId: cmd.shipmentId, direction: 'note', kind: type === 'SHIPMENT_ADDRESS_CHANGED' ? 'address-changed' : 'address-refused', status: type, raw: JSON.stringify(payload), timeline: true, summary, orderEvent: type });
      await deps.out.orderEvent({ id: `${type.toLowerCase()}:${env.id}`, orderId, type, payload, cause: env });
    };
    try {
      const r = await deps.warehouse.changeAddress(cmd.shipmentId, orderId, shipmentAddressOf({ ...cmd.order, shippingAddress: cmd.shippingAddress }));
      if (r.outcome === 'changed') {
        await report('SHIPMENT_ADDRESS_CHANGED', { address: cmd.shippingAddress }, `Address changed: ${r.message}`);
        log.info({ orderId, shipmentId: cmd.shipmentId }, 'shipment address changed at the warehouse');
        return;
      }
      const code = r.outcome === 'tooLate' ? 'ADDRESS_CHANGE_TOO_LATE' : 'ADDRESS_INVALID';
      await report('SHIPMENT_ADDRESS_REFUSED', { code, message: r.message.slice(0, 2000), address: cmd.shippingAddress }, `Address change refused: ${code}: ${r.message}`);
      log.warn({ orderId, code, message: r.message }, 'the warehouse did not take the new address');
    } catch (err) {
      if (!isOrderpilotError(err)) throw err;
      if (err.retryable && !delivery.lastAttempt) throw err;
      const code = err.retryable ? 'WAREHOUSE_UNREACHABLE' : err.code;
      await report('SHIPMENT_ADDRESS_REFUSED', { code, message: err.message.slice(0, 2000), address: cmd.shippingAddress }, `Address change failed: ${code}: ${err.message}`);
    }
  };
}
