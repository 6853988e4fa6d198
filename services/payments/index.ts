/**
 * The payments service's entry point (refunds): how to start it and its read model of refunds.
 * Other services and the gateway import only this file.
 */
export { startPaymentsService, refundProvidersFromConfig, type PaymentsServiceOptions } from './main.ts';
export { refundsOfOrder, type RefundRow } from './refund.store.ts';
