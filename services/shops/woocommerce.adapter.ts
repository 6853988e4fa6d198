import type { ShopConfig } from '../../infra/config.ts';
import type { CallMeta, ShopConnector, ShopLogPort } from './shop-connector.port.ts';
import { shopHttpCall } from './shop-http.ts';

export interface WooCommerceConnectorDeps {
  shop: ShopConfig;
  timeoutMs: number;
  log: ShopLogPort;
}

/**
 * WooCommerce REST v3: `PUT /wp-json/wc/v3/orders/{id}` with `{ status }` and
 * `POST /wp-json/wc/v3/orders/{id}/notes` with `{ note, customer_note }`, Basic auth with the
 * consumer key and secret (HTTPS). Every request and its answer go to the shop log. A timeout, a
 * connection error, 408, 429 (Retry-After honoured) or 5xx is retryable; any other 4xx is
 * SHOP_REJECTED with WooCommerce's error code (`{ code, message, data: { status } }`).
 */
export function createWooCommerceConnector(deps: WooCommerceConnectorDeps): ShopConnector {
  const { shop } = deps;
  const auth = `Basic ${Buffer.from(`${shop.key}:${shop.secret}`).toString('base64')}`;

  async function call(method: 'PUT' | 'POST', path: string, body: unknown, kind: 'status' | 'note', externalId: string, meta: CallMeta, summary: string): Promise<void> {
    const url = `${shop.url}/wp-json/wc/v3${path}`;
    const request = JSON.stringify(body);
    await shopHttpCall({
      shop: shop.name,
      method,
      url,
      headers: { authorization: auth, 'content-type': 'application/json', accept: 'application/json' },
      body: request,
      timeoutMs: deps.timeoutMs,
      log: deps.log,
      entry: { shop: shop.name, orderId: meta.orderId, externalId, version: meta.version, callKey: meta.callKey, kind, method, url, request },
      summary,
      what: `${method} ${path}`,
      // WooCommerce's error body: { code, message, data: { status } }.
      describeError: (answer) => {
        const e = JSON.parse(answer) as { code?: unknown; message?: unknown };
        return [typeof e.code === 'string' ? e.code : '', typeof e.message === 'string' ? e.message : ''].filter(Boolean).join(': ');
      },
    });
  }

  const orderPath = (externalId: string) => `/orders/${encodeURIComponent(externalId)}`;
  return {
    kind: 'woocommerce',
    shop: shop.name,
    pushStatus: (externalId, status, meta) => call('PUT', orderPath(externalId), { status }, 'status', externalId, meta, `Status → ${status}`),
    addNote: (externalId, note, meta) =>
      call('POST', `${orderPath(externalId)}/notes`, { note: note.text, customer_note: note.customer }, 'note', externalId, meta, `${note.customer ? 'Customer note' : 'Private note'}: ${note.text}`),
  };
}
