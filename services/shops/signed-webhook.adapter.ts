import type { ShopConfig } from '../../infra/config.ts';
import { OrderpilotError, ORDERPILOT_SIGNATURE_HEADER, signOrderpilotWebhook } from '../contracts/index.ts';
import type { ShopConnector, ShopLogPort } from './shop-connector.port.ts';
import { shopHttpCall } from './shop-http.ts';

export interface SignedWebhookConnectorDeps {
  shop: ShopConfig;
  timeoutMs: number;
  log: ShopLogPort;
  now?: () => Date;
}

/**
 * The generic connector for any other shop: each change is one JSON event POSTed to
 * `SHOP_<NAME>_URL`, signed with `SHOP_<NAME>_WEBHOOK_SECRET` (`Orderpilot-Signature: t=…,v1=…`,
 * see services/contracts/shops.ts). Body: `{ id, type, created, data: { shop, orderId, externalId,
 * version, status, change } }`; `id` is stable across retries (the receiver de-duplicates by it).
 * 2xx → delivered; timeout, connection error, 408, 429 or 5xx → retried; any other 4xx → refused.
 * Every delivery and its answer go to the shop log.
 */
export function createSignedWebhookConnector(deps: SignedWebhookConnectorDeps): ShopConnector {
  const { shop } = deps;
  const now = deps.now ?? (() => new Date());
  const unsupported = async (): Promise<void> => {
    throw new OrderpilotError('SHOP_REJECTED', `shop ${shop.name} takes events only (its mapping must name an event per change)`);
  };
  return {
    kind: 'webhook',
    shop: shop.name,
    pushStatus: unsupported,
    addNote: unsupported,
    async sendEvent(externalId, event, meta) {
      const created = Math.floor(now().getTime() / 1000);
      const body = JSON.stringify({
        id: meta.callKey,
        type: event.type,
        created,
        data: { shop: shop.name, orderId: meta.orderId, externalId, version: meta.version, status: event.status, change: event.change },
      });
      const summary = `Event ${event.type}${event.status ? ` (${event.status})` : ''}`;
      await shopHttpCall({
        shop: shop.name,
        method: 'POST',
        url: shop.url,
        headers: { 'content-type': 'application/json', [ORDERPILOT_SIGNATURE_HEADER]: signOrderpilotWebhook(shop.webhookSecret, body, created), 'user-agent': 'orderpilot-webhooks/1' },
        body,
        timeoutMs: deps.timeoutMs,
        log: deps.log,
        entry: { shop: shop.name, orderId: meta.orderId, externalId, version: meta.version, callKey: meta.callKey, kind: 'event', method: 'POST', url: shop.url, request: body },
        summary,
        what: event.type,
      });
    },
  };
}
