export { orderMachine, ORDER_MACHINE_VERSION, READABLE_MACHINE_VERSIONS, MANUAL_DOCUMENT_PROVIDER, refundableAmount, correctableAmount } from './order.machine.ts';
export { orderStatus, documentStatus, restoreOrderSnapshot, allowedAdminEvents, awaitedEffects, type OrderSnapshot } from './order.state.ts';
export * from './order.types.ts';
