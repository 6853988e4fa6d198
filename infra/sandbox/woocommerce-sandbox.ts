import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { signWooCommerceBody } from '../../services/contracts/index.ts';
import { listenHttp } from './http-listen.ts';
import { persistInOrder } from './persist-in-order.ts';

/**
 * A sandbox WooCommerce shop: a real HTTP server on loopback with the REST v3 order resource the
 * shops service uses (`GET|PUT /wp-json/wc/v3/orders/{id}`, `GET|POST …/orders/{id}/notes`, Basic
 * auth with a consumer key and secret) and WooCommerce's error shapes (`{ code, message, data: {
 * status } }`, e.g. `woocommerce_rest_shop_order_invalid_id`, `rest_invalid_param`). A status
 * change adds the system note WooCommerce writes ("Order status changed from Pending payment to
 * Processing.") and sends `order.updated`. Orders created here (`createOrder`) are sent as signed
 * webhooks (`X-WC-Webhook-Signature`: base64 HMAC-SHA256 of the body with the webhook secret).
 * Faults: REST answers 5xx (`failNext`, `down`), slow answers (`slowMs`), webhooks with a wrong
 * signature (`wrongSignatureNext`), every webhook delivered twice (`duplicateDeliveries`).
 */

export const WOO_STATUSES = ['pending', 'processing', 'on-hold', 'completed', 'cancelled', 'refunded', 'failed', 'checkout-draft'] as const;
const LABELS: Record<string, string> = {
  pending: 'Pending payment',
  processing: 'Processing',
  'on-hold': 'On hold',
  completed: 'Completed',
  cancelled: 'Cancelled',
  refunded: 'Refunded',
  failed: 'Failed',
  'checkout-draft': 'Draft',
};

export interface WooNote {
  id: number;
  date_created_gmt: string;
  note: string;
  customer_note: boolean;
  /** `system` for WooCommerce's own notes, else the API user. */
  author: string;
}

export type WooOrder = Record<string, unknown> & { id: number; status: string; date_modified_gmt: string };

export interface WooSentWebhook {
  topic: string;
  deliveryId: number;
  orderId: number;
  status: number | null;
  signatureValid: boolean;
}

export interface WooCommerceSandboxOptions {
  consumerKey: string;
  consumerSecret: string;
  webhookSecret: string;
  webhookUrl?: string;
  port?: number;
  /** Send `order.updated` after a REST status change, as WooCommerce does (default true). */
  webhookOnRestUpdate?: boolean;
  /** Orders (with their notes) the shop already has: a restarted demo's shop still knows them. */
  initialOrders?: ReadonlyArray<{ order: WooOrder; notes: WooNote[] }>;
  /** Called after every change of an order, in order (the demo keeps the shop in Postgres). */
  persist?: (order: WooOrder, notes: WooNote[]) => void | Promise<void>;
  /** How many REST requests and sent webhooks `requests` / `sent` keep (oldest dropped); default all. */
  keep?: number;
}

const nowGmt = () => new Date().toISOString().slice(0, 19);

function wooError(res: ServerResponse, status: number, code: string, message: string, extra: Record<string, unknown> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify({ code, message, data: { status, ...extra } }));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startWooCommerceSandbox(o: WooCommerceSandboxOptions) {
  const orders = new Map<number, WooOrder>();
  const notes = new Map<number, WooNote[]>();
  const sent: WooSentWebhook[] = [];
  /** Every REST request as it arrived (method, path, status answered). */
  const requests: Array<{ method: string; path: string; status: number; body: string }> = [];
  let webhookUrl = o.webhookUrl;
  for (const { order, notes: kept } of o.initialOrders ?? []) {
    orders.set(order.id, order);
    notes.set(order.id, kept);
  }
  let nextOrderId = Math.max(1000, ...[...orders.keys()].map((id) => id + 1));
  let nextNoteId = Math.max(1, ...[...notes.values()].flat().map((n) => n.id + 1));
  const inOrder = persistInOrder();
  /** Hands the order's state and notes as they are now to `persist`. */
  const save = (id: number) => {
    const order = orders.get(id);
    const persist = o.persist;
    if (!order || !persist) return;
    const snapshot = structuredClone(order);
    const kept = [...(notes.get(id) ?? [])];
    inOrder(() => persist(snapshot, kept));
  };
  const keep = o.keep ?? Infinity;
  const trim = (list: unknown[]) => {
    if (list.length > keep) list.splice(0, list.length - keep);
  };
  let nextDeliveryId = 1;
  // Each order's modification stamp grows by one second per change, so two changes never share one.
  let clock = Date.now();
  const faults = { failNext: 0, failStatus: 503, down: false, slowMs: 0, wrongSignatureNext: 0, duplicateDeliveries: false };

  const stamp = () => {
    clock = Math.max(clock + 1000, Date.now());
    return new Date(clock).toISOString().slice(0, 19);
  };
  const addNote = (id: number, note: string, customer: boolean, author: string): WooNote => {
    const n: WooNote = { id: nextNoteId++, date_created_gmt: nowGmt(), note, customer_note: customer, author };
    notes.set(id, [...(notes.get(id) ?? []), n]);
    return n;
  };

  async function deliver(topic: string, order: WooOrder): Promise<void> {
    if (webhookUrl === undefined) return;
    const body = JSON.stringify(order);
    const wrong = faults.wrongSignatureNext > 0;
    if (wrong) faults.wrongSignatureNext--;
    const deliveryId = nextDeliveryId++;
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'WooCommerce/9.4.0 Hookshot (WordPress/6.7)',
      'x-wc-webhook-source': `${server.url}/`,
      'x-wc-webhook-topic': topic,
      'x-wc-webhook-resource': 'order',
      'x-wc-webhook-event': topic.split('.')[1] ?? '',
      'x-wc-webhook-signature': signWooCommerceBody(wrong ? 'not-the-secret' : o.webhookSecret, body),
      'x-wc-webhook-id': '1',
      'x-wc-webhook-delivery-id': String(deliveryId),
    };
    const times = faults.duplicateDeliveries ? 2 : 1;
    for (let i = 0; i < times; i++) {
      let status: number | null = null;
      try {
        const res = await fetch(webhookUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(30_000) });
        status = res.status;
        await res.text();
      } catch {
        status = null;
      }
      sent.push({ topic, deliveryId, orderId: order.id, status, signatureValid: !wrong });
      trim(sent);
    }
  }

  function setStatus(order: WooOrder, status: string): boolean {
    if (order.status === status) return false;
    addNote(order.id, `Order status changed from ${LABELS[order.status] ?? order.status} to ${LABELS[status] ?? status}.`, false, 'system');
    order.status = status;
    if ((status === 'processing' || status === 'completed') && !order['date_paid_gmt']) order['date_paid_gmt'] = stamp();
    if (status === 'completed') order['date_completed_gmt'] = stamp();
    order.date_modified_gmt = stamp();
    return true;
  }

  function authorized(req: IncomingMessage, url: URL): 'ok' | 'none' | 'wrong' {
    const h = req.headers.authorization;
    let key: string | null = url.searchParams.get('consumer_key');
    let secret: string | null = url.searchParams.get('consumer_secret');
    if (h?.startsWith('Basic ')) {
      const [k, ...s] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
      key = k ?? null;
      secret = s.join(':');
    }
    if (key === null) return 'none';
    return key === o.consumerKey && secret === o.consumerSecret ? 'ok' : 'wrong';
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const m = /^\/wp-json\/wc\/v3\/orders\/(\d+)(\/notes)?\/?$/.exec(url.pathname);
    const method = req.method ?? 'GET';
    const write = method !== 'GET';
    if (!m) return wooError(res, 404, 'rest_no_route', 'No route was found matching the URL and request method.');
    const auth = authorized(req, url);
    if (auth === 'wrong') return wooError(res, 401, 'woocommerce_rest_authentication_error', 'Consumer key is invalid.');
    if (auth === 'none') {
      return write
        ? wooError(res, 401, 'woocommerce_rest_cannot_edit', 'Sorry, you are not allowed to edit this resource.')
        : wooError(res, 401, 'woocommerce_rest_cannot_view', 'Sorry, you cannot view this resource.');
    }
    const id = Number(m[1]);
    const order = orders.get(id);
    const json = (status: number, v: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify(v));
    };
    let input: Record<string, unknown> = {};
    if (write && body !== '') {
      try {
        input = JSON.parse(body) as Record<string, unknown>;
      } catch {
        return wooError(res, 400, 'rest_invalid_json', 'Invalid JSON body passed.');
      }
    }
    if (m[2] === '/notes') {
      if (!order) return wooError(res, 404, 'woocommerce_rest_order_invalid_id', 'Invalid order ID.');
      if (method === 'GET') return json(200, [...(notes.get(id) ?? [])].reverse());
      if (method !== 'POST') return wooError(res, 404, 'rest_no_route', 'No route was found matching the URL and request method.');
      if (typeof input['note'] !== 'string' || input['note'] === '') {
        return wooError(res, 400, 'rest_missing_callback_param', 'Missing parameter(s): note', { params: ['note'] });
      }
      const n = addNote(id, input['note'], input['customer_note'] === true, 'orderpilot');
      return json(201, { id: n.id, author: n.author, date_created_gmt: n.date_created_gmt, note: n.note, customer_note: n.customer_note });
    }
    if (!order) return wooError(res, 404, 'woocommerce_rest_shop_order_invalid_id', 'Invalid ID.');
    if (method === 'GET') return json(200, order);
    if (method !== 'PUT' && method !== 'POST' && method !== 'PATCH') return wooError(res, 404, 'rest_no_route', 'No route was found matching the URL and request method.');
    const status = input['status'];
    if (status !== undefined && (typeof status !== 'string' || !(WOO_STATUSES as readonly string[]).includes(status.replace(/^wc-/, '')))) {
      return wooError(res, 400, 'rest_invalid_param', 'Invalid parameter(s): status', {
        params: { status: `status is not one of ${WOO_STATUSES.slice(0, -1).join(', ')}, and ${WOO_STATUSES.at(-1)}.` },
      });
    }
    const changed = typeof status === 'string' && setStatus(order, status.replace(/^wc-/, ''));
    json(200, order);
    if (changed && o.webhookOnRestUpdate !== false) void deliver('order.updated', structuredClone(order));
  }

  const httpServer = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (faults.slowMs > 0) await new Promise((r) => setTimeout(r, faults.slowMs));
      if (faults.down || faults.failNext > 0) {
        if (!faults.down) faults.failNext--;
        requests.push({ method: req.method ?? 'GET', path, status: faults.failStatus, body });
        res.writeHead(faults.failStatus, { 'content-type': 'text/html' });
        return res.end('<html><body><h1>Service Unavailable</h1></body></html>');
      }
      await handle(req, res, body);
      requests.push({ method: req.method ?? 'GET', path, status: res.statusCode, body });
      trim(requests);
      const changed = req.method !== 'GET' && res.statusCode < 300 ? /^\/wp-json\/wc\/v3\/orders\/(\d+)/.exec(path) : null;
      if (changed) save(Number(changed[1]));
    })().catch(() => {
      if (!res.headersSent) wooError(res, 500, 'internal_server_error', 'There has been a critical error on this website.');
    });
  });
  const server = await listenHttp(httpServer, o.port ?? 0);

  return {
    url: server.url,
    faults,
    sent,
    requests,
    setWebhookUrl(u: string) {
      webhookUrl = u;
    },
    /** A new order as a checkout makes it (pending), sent as `order.created`. */
    async createOrder(over: Partial<WooOrder> = {}): Promise<WooOrder> {
      const id = nextOrderId++;
      const created = nowGmt();
      const order: WooOrder = {
        id,
        parent_id: 0,
        number: String(id),
        order_key: `wc_order_${id}`,
        created_via: 'checkout',
        status: 'pending',
        currency: 'PLN',
        date_created_gmt: created,
        date_modified_gmt: stamp(),
        date_paid_gmt: null,
        date_completed_gmt: null,
        discount_total: '0.00',
        discount_tax: '0.00',
        shipping_total: '12.20',
        shipping_tax: '2.80',
        cart_tax: '9.35',
        total: '65.00',
        total_tax: '12.15',
        prices_include_tax: true,
        customer_id: 0,
        billing: { first_name: 'Anna', last_name: 'Nowak', company: 'Nowak Sp. z o.o.', address_1: 'ul. Prosta 1', address_2: '', city: 'Warszawa', state: '', postcode: '00-001', country: 'PL', email: 'anna@example.com', phone: '+48500100200' },
        shipping: { first_name: 'Anna', last_name: 'Nowak', company: '', address_1: 'ul. Krzywa 2', address_2: 'm. 3', city: 'Kraków', state: '', postcode: '30-001', country: 'PL', phone: '' },
        payment_method: 'bacs',
        payment_method_title: 'Direct bank transfer',
        transaction_id: '',
        customer_note: '',
        meta_data: [{ id: 1, key: '_billing_nip', value: '5260250274' }],
        line_items: [{ id: 1, name: 'Kubek', product_id: 11, variation_id: 0, quantity: 2, tax_class: '', subtotal: '20.33', subtotal_tax: '4.67', total: '20.33', total_tax: '4.67', sku: 'MUG-1', price: 10.165 },
          { id: 2, name: 'Koszulka', product_id: 12, variation_id: 0, quantity: 1, tax_class: '', subtotal: '20.32', subtotal_tax: '4.68', total: '20.32', total_tax: '4.68', sku: 'TSHIRT-1', price: 20.32 }],
        shipping_lines: [{ id: 3, method_title: 'Kurier', method_id: 'flat_rate', total: '12.20', total_tax: '2.80' }],
        fee_lines: [],
        coupon_lines: [],
        refunds: [],
        ...over,
      };
      orders.set(id, order);
      save(id);
      await deliver('order.created', structuredClone(order));
      return order;
    },
    /** The customer pays through the shop's payment plugin: processing, date_paid, `order.updated`. */
    async markPaid(id: number, transactionId = `tx_${id}`): Promise<void> {
      const order = orders.get(id);
      if (!order) throw new Error(`no order ${id}`);
      order['transaction_id'] = transactionId;
      setStatus(order, 'processing');
      save(id);
      await deliver('order.updated', structuredClone(order));
    },
    /** The shop's admin (or the customer) cancels the order at the shop: status cancelled, `order.updated`. */
    async cancel(id: number): Promise<void> {
      const order = orders.get(id);
      if (!order) throw new Error(`no order ${id}`);
      setStatus(order, 'cancelled');
      save(id);
      await deliver('order.updated', structuredClone(order));
    },
    /** Sends the order's current state again as a webhook (a shop's retry). */
    resend: (id: number, topic = 'order.updated') => {
      const order = orders.get(id);
      if (!order) throw new Error(`no order ${id}`);
      return deliver(topic, structuredClone(order));
    },
    order: (id: number) => orders.get(id),
    /** The order's notes, oldest first (the REST API lists newest first). */
    notes: (id: number) => [...(notes.get(id) ?? [])],
    close: () => server.close(),
  };
}

export type WooCommerceSandbox = Awaited<ReturnType<typeof startWooCommerceSandbox>>;
