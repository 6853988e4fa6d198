/**
 * The shops service's entry point: the pure intake mapping the gateway uses for shop webhooks, the
 * shop log read model, and how to start it. Others import only this file.
 */
export { mapWooCommerceOrder, type WooIncomingOptions } from './woocommerce.incoming.ts';
export { shopCancel, type IncomingOrder, type ShopConnector } from './shop-connector.port.ts';
export { DEFAULT_MAPPINGS, mappingFor, planShopCalls, type ShopMapping } from './shop-mapping.ts';
export { givenUpShopUpdates, shopHealth, shopLog, shopTimeline, type ShopHealth, type ShopLogEntry } from './shop-timeline.ts';
export { startShopsService } from './main.ts';
