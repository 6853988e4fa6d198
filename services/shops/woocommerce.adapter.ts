import type { ShopConfig } from '../../infra/config.ts';
import { OrderpilotError } from '../contracts/index.ts';
import type { CallMeta, ShopConnector, ShopLogPort } from './shop-connector.port.ts';

export interface WooCommerceConnectorDeps {
  shop: ShopConfig;
  timeoutMs: number;
  log: ShopLogPort;
}

const MAX_LOGGED = 20_000;

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
    const base = { shop: shop.name, orderId: meta.orderId, externalId, version: meta.version, callKey: meta.callKey, kind, method, url, request };
    let res: Response;
    let answer: string;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: auth, 'content-type': 'application/json', accept: 'application/json' },
        body: request,
        signal: AbortSignal.timeout(deps.timeoutMs),
      });
      answer = await res.text();
    } catch (err) {
      const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      const code = timeout ? 'PROVIDER_TIMEOUT' : 'PROVIDER_UNAVAILABLE';
      const message = err instanceof Error ? err.message : String(err);
      await deps.log.record({ ...base, ok: false, errorCode: code, summary: `${summary}: ${timeout ? 'no answer in time' : `unreachable (${message})`}` });
      throw new OrderpilotError(code, `shop ${shop.name}: ${method} ${path}: ${message}`, { cause: err });
    }
    const logged = answer.slice(0, MAX_LOGGED);
    if (res.ok) {
      await deps.log.record({ ...base, httpStatus: res.status, response: logged, ok: true, summary });
      return;
    }
    let wooCode = '';
    let wooMessage = '';
    try {
      const e = JSON.parse(answer) as { code?: unknown; message?: unknown };
      wooCode = typeof e.code === 'string' ? e.code : '';
      wooMessage = typeof e.message === 'string' ? e.message : '';
    } catch {
      // Not WooCommerce's error shape (a proxy's page): the status says enough.
    }
    const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
    const code = retryable ? (res.status === 429 ? 'PROVIDER_RATE_LIMITED' : 'PROVIDER_UNAVAILABLE') : 'SHOP_REJECTED';
    const why = `${res.status}${wooCode ? ` ${wooCode}` : ''}${wooMessage ? `: ${wooMessage}` : ''}`;
    await deps.log.record({ ...base, httpStatus: res.status, response: logged, ok: false, errorCode: code, summary: `${summary}: refused (${why})` });
    const retryAfter = Number(res.headers.get('retry-after'));
    throw new OrderpilotError(code, `shop ${shop.name}: ${method} ${path} answered ${why}`, Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {});
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
