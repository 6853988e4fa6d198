import type { ShopConfig } from '../../infra/config.ts';
import { OrderpilotError } from '../contracts/index.ts';
import type { CallMeta, ShopConnector, ShopLogPort } from './shop-connector.port.ts';
import { shopHttpCall } from './shop-http.ts';

export interface MagentoClientDeps {
  shop: ShopConfig;
  timeoutMs: number;
  log: ShopLogPort;
}

/**
 * Magento 2 REST (`/rest/V1`, `Authorization: Bearer <integration access token>`): the orders search
 * the poller reads, and the calls back — `POST /V1/orders/{id}/comments` (a status travels on a
 * comment), `/hold`, `/unhold`, `/cancel`, `POST /V1/order/{id}/ship` with the order's remaining
 * item quantities and a track. Errors: Magento's `{ message, parameters }`; timeout, connection
 * error, 408, 429 and 5xx are retryable, another 4xx is SHOP_REJECTED.
 */
export function createMagentoClient(deps: MagentoClientDeps) {
  const { shop } = deps;
  async function request(method: 'GET' | 'POST', path: string, body: unknown, log: { orderId: string | null; externalId: string | null; meta: CallMeta | null; kind: 'status' | 'note' | 'action'; summary: string } | null): Promise<unknown> {
    const url = `${shop.url}/rest/V1${path}`;
    const requestText = body === undefined ? null : JSON.stringify(body);
    const answer = await shopHttpCall({
      shop: shop.name,
      method,
      url,
      headers: { authorization: `Bearer ${shop.key}`, accept: 'application/json', ...(requestText === null ? {} : { 'content-type': 'application/json' }) },
      body: requestText,
      timeoutMs: deps.timeoutMs,
      log: deps.log,
      entry: log === null ? null : { shop: shop.name, orderId: log.orderId, externalId: log.externalId, version: log.meta?.version ?? null, callKey: log.meta?.callKey ?? null, kind: log.kind, method, url, request: requestText },
      summary: log?.summary ?? `${method} ${path}`,
      what: `${method} ${path}`,
      // Magento's error body: { message, parameters } with %1-style placeholders filled from `parameters`.
      describeError: (text) => {
        const e = JSON.parse(text) as { message?: unknown; parameters?: unknown };
        let message = typeof e.message === 'string' ? e.message : '';
        const params = e.parameters;
        if (Array.isArray(params)) params.forEach((p, i) => (message = message.replace(`%${i + 1}`, String(p))));
        else if (params && typeof params === 'object') for (const [k, v] of Object.entries(params)) message = message.replace(`%${k}`, String(v));
        return message;
      },
    });
    return answer === '' ? null : (JSON.parse(answer) as unknown);
  }

  /** One page of orders updated at or after `since`, oldest first (updated_at, then entity_id). */
  async function searchUpdatedSince(since: string, page: number, pageSize: number): Promise<{ items: unknown[]; total: number }> {
    const q = new URLSearchParams({
      'searchCriteria[filter_groups][0][filters][0][field]': 'updated_at',
      'searchCriteria[filter_groups][0][filters][0][value]': since,
      'searchCriteria[filter_groups][0][filters][0][condition_type]': 'gteq',
      'searchCriteria[sortOrders][0][field]': 'updated_at',
      'searchCriteria[sortOrders][0][direction]': 'ASC',
      'searchCriteria[sortOrders][1][field]': 'entity_id',
      'searchCriteria[sortOrders][1][direction]': 'ASC',
      'searchCriteria[pageSize]': String(pageSize),
      'searchCriteria[currentPage]': String(page),
    });
    const r = (await request('GET', `/orders?${q.toString()}`, undefined, null)) as { items?: unknown[]; total_count?: number } | null;
    return { items: r?.items ?? [], total: r?.total_count ?? 0 };
  }

  const connector: ShopConnector = {
    kind: 'magento',
    shop: shop.name,
    async pushStatus(externalId, status, meta) {
      await request('POST', `/orders/${encodeURIComponent(externalId)}/comments`, { statusHistory: { comment: `Status: ${status}`, status, is_customer_notified: 0, is_visible_on_front: 0, parent_id: Number(externalId) } }, { orderId: meta.orderId, externalId, meta, kind: 'status', summary: `Status → ${status}` });
    },
    async addNote(externalId, note, meta) {
      await request('POST', `/orders/${encodeURIComponent(externalId)}/comments`, { statusHistory: { comment: note.text, is_customer_notified: note.customer ? 1 : 0, is_visible_on_front: note.customer ? 1 : 0, parent_id: Number(externalId) } }, { orderId: meta.orderId, externalId, meta, kind: 'note', summary: `${note.customer ? 'Customer comment' : 'Comment'}: ${note.text}` });
    },
    async act(externalId, call, meta) {
      const id = encodeURIComponent(externalId);
      if (call.op === 'action') {
        const ok = await request('POST', `/orders/${id}/${call.action}`, undefined, { orderId: meta.orderId, externalId, meta, kind: 'action', summary: `Order ${call.action}` });
        if (ok === false) throw new OrderpilotError('SHOP_REJECTED', `shop ${shop.name}: ${call.action} of order ${externalId} answered false`);
        return;
      }
      // A shipment of what is left to ship, with the tracking number.
      const order = (await request('GET', `/orders/${id}`, undefined, null)) as { items?: Array<{ item_id: number; qty_ordered: number; qty_shipped?: number; parent_item_id?: number | null }> };
      const items = (order.items ?? []).filter((i) => !i.parent_item_id).map((i) => ({ order_item_id: i.item_id, qty: i.qty_ordered - (i.qty_shipped ?? 0) })).filter((i) => i.qty > 0);
      // Everything shipped already (a shipment whose answer was lost): nothing left to send.
      if (items.length === 0) return;
      await request(
        'POST',
        `/order/${id}/ship`,
        { items, notify: true, appendComment: true, comment: { comment: `Shipped: ${call.carrier ?? 'carrier'} ${call.trackingNumber}`, is_visible_on_front: 1 }, tracks: [{ track_number: call.trackingNumber, title: call.carrier ?? 'Carrier', carrier_code: 'custom' }] },
        { orderId: meta.orderId, externalId, meta, kind: 'action', summary: `Shipment with tracking ${call.trackingNumber}${call.carrier ? ` (${call.carrier})` : ''}` },
      );
    },
  };
  return { connector, searchUpdatedSince };
}
