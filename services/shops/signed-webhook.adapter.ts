import type { ShopConfig } from '../../infra/config.ts';
import { OrderpilotError, ORDERPILOT_SIGNATURE_HEADER, signOrderpilotWebhook } from '../contracts/index.ts';
import type { ShopConnector, ShopLogPort } from './shop-connector.port.ts';

export interface SignedWebhookConnectorDeps {
  shop: ShopConfig;
  timeoutMs: number;
  log: ShopLogPort;
  now?: () => Date;
}

const MAX_LOGGED = 20_000;

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
      const base = { shop: shop.name, orderId: meta.orderId, externalId, version: meta.version, callKey: meta.callKey, kind: 'event' as const, method: 'POST', url: shop.url, request: body };
      let res: Response;
      let answer: string;
      try {
        res = await fetch(shop.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [ORDERPILOT_SIGNATURE_HEADER]: signOrderpilotWebhook(shop.webhookSecret, body, created), 'user-agent': 'orderpilot-webhooks/1' },
          body,
          signal: AbortSignal.timeout(deps.timeoutMs),
        });
        answer = await res.text();
      } catch (err) {
        const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
        const code = timeout ? 'PROVIDER_TIMEOUT' : 'PROVIDER_UNAVAILABLE';
        const message = err instanceof Error ? err.message : String(err);
        await deps.log.record({ ...base, ok: false, errorCode: code, summary: `${summary}: ${timeout ? 'no answer in time' : `unreachable (${message})`}` });
        throw new OrderpilotError(code, `shop ${shop.name}: ${event.type}: ${message}`, { cause: err });
      }
      const logged = answer.slice(0, MAX_LOGGED);
      if (res.ok) {
        await deps.log.record({ ...base, httpStatus: res.status, response: logged, ok: true, summary });
        return;
      }
      const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
      const code = retryable ? (res.status === 429 ? 'PROVIDER_RATE_LIMITED' : 'PROVIDER_UNAVAILABLE') : 'SHOP_REJECTED';
      await deps.log.record({ ...base, httpStatus: res.status, response: logged, ok: false, errorCode: code, summary: `${summary}: answered ${res.status}` });
      const retryAfter = Number(res.headers.get('retry-after'));
      throw new OrderpilotError(code, `shop ${shop.name}: ${event.type} answered ${res.status}`, Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {});
    },
  };
}
