export { orderMachine, ORDER_MACHINE_VERSION, MANUAL_DOCUMENT_PROVIDER } from './order.machine.ts';
export { orderStatus, documentStatus, restoreOrderSnapshot, allowedAdminEvents, type OrderSnapshot } from './order.state.ts';
export * from './order.types.ts';
