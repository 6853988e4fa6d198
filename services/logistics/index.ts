/**
 * The logistics service's entry point: its read model over `warehouse_log` (an order's warehouse
 * timeline, the raw log, unmatched messages) and how to start it. Others import only this file.
 */
export {
  unmatchedWarehouseMessages,
  warehouseLog,
  warehouseTimeline,
  type WarehouseLogEntry,
  type WarehouseTimelineEntry,
} from './warehouse-timeline.ts';
export type { WarehousePort } from './warehouse.port.ts';
export { logArrivals, settledArrivals, warehouseArrival, type WarehouseArrival } from './warehouse-arrival.ts';
export { readShipmentOutcomes } from './shipment-metrics.read.ts';
export { startLogisticsService, type LogisticsServiceOptions } from './main.ts';
