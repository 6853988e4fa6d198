import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenHttp } from './http-listen.ts';
import { persistInOrder } from './persist-in-order.ts';

/**
 * A sandbox Magento 2 shop: the REST subset orderpilot uses, on loopback, with an integration access
 * token (`Authorization: Bearer`). `GET /rest/V1/orders` with `searchCriteria` (filter groups OR'ed
 * filters, conditions eq / gt / gteq / lt / lteq, sortOrders, pageSize, currentPage — a page past the
 * end answers the last page again, as Magento does), `GET /rest/V1/orders/{id}`,
 * `POST /rest/V1/orders/{id}/comments`, `/hold`, `/unhold`, `/cancel` (each refused when the order's
 * state does not allow it), `POST /rest/V1/order/{id}/ship` (item ids must be the order's, quantities
 * at most what is left to ship). Errors in Magento's shape `{ message, parameters }`. `updated_at`
 * has second resolution like Magento's. Faults: `failNext` / `down` (5xx), `slowMs`.
 */

export type MagentoOrder = Record<string, unknown> & {
  entity_id: number;
  increment_id: string;
  state: string;
  status: string;
  updated_at: string;
  items: Array<{ item_id: number; sku: string; name: string; qty_ordered: number; qty_shipped: number; price_incl_tax: number; tax_percent: number; parent_item_id: number | null }>;
  status_histories: Array<{ entity_id: number; comment: string; status: string | null; is_customer_notified: number; created_at: string }>;
};

export interface MagentoShipment {
  entity_id: number;
  order_id: number;
  items: Array<{ order_item_id: number; qty: number }>;
  tracks: Array<{ track_number: string; title: string; carrier_code: string }>;
}

function error(res: ServerResponse, status: number, message: string, parameters: unknown = []): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ message, parameters }));
}

const fmt = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

export interface MagentoSandboxOptions {
  token: string;
  port?: number;
  /** Orders the shop already has: a restarted demo's shop still knows them. */
  initialOrders?: readonly MagentoOrder[];
  /** Called after every change of an order, in order (the demo keeps the shop in Postgres). */
  persist?: (order: MagentoOrder) => void | Promise<void>;
  /** How many requests `requests` keeps (oldest dropped); default all. */
  keep?: number;
}

export async function startMagentoSandbox(o: MagentoSandboxOptions) {
  const orders = new Map<number, MagentoOrder>((o.initialOrders ?? []).map((x) => [x.entity_id, x]));
  const shipments: MagentoShipment[] = [];
  const requests: Array<{ method: string; path: string; status: number }> = [];
  const faults = { failNext: 0, down: false, slowMs: 0 };
  const known = [...orders.values()];
  let nextId = Math.max(1, ...known.map((x) => x.entity_id + 1));
  let nextHistory = Math.max(1, ...known.flatMap((x) => x.status_histories.map((h) => h.entity_id + 1)));
  let nextItem = Math.max(1, ...known.flatMap((x) => x.items.map((i) => i.item_id + 1)));
  const inOrder = persistInOrder();
  /** Hands the order's state as it is now to `persist`. */
  const save = (id: number) => {
    const order = orders.get(id);
    const persist = o.persist;
    if (!order || !persist) return;
    const snapshot = structuredClone(order);
    inOrder(() => persist(snapshot));
  };
  const keep = o.keep ?? Infinity;
  // One second per change: Magento's updated_at has second resolution; tests need no real waiting.
  let clock = Date.now();
  const tick = () => fmt((clock = Math.max(clock + 1000, Date.now())));
  /** Several orders changed in the same second (the cursor's tie-break on entity_id). */
  const sameSecond = () => fmt(clock);

  const comment = (order: MagentoOrder, text: string, status: string | null, notified = 0) => {
    order.status_histories.unshift({ entity_id: nextHistory++, comment: text, status, is_customer_notified: notified, created_at: fmt(Date.now()) });
  };

  function matches(order: MagentoOrder, f: { field: string; value: string; condition_type: string }): boolean {
    const v = String(order[f.field] ?? '');
    const num = (x: string) => (/^-?\d+(\.\d+)?$/.test(x) ? Number(x) : x);
    const a = num(v);
    const b = num(f.value);
    switch (f.condition_type) {
      case 'eq': return a === b;
      case 'gt': return a > b;
      case 'gteq': return a >= b;
      case 'lt': return a < b;
      case 'lteq': return a <= b;
      default: return false;
    }
  }

  function search(url: URL): unknown {
    const groups = new Map<string, Map<string, { field: string; value: string; condition_type: string }>>();
    const sorts = new Map<string, { field: string; direction: string }>();
    for (const [k, v] of url.searchParams) {
      const f = /^searchCriteria\[filter_groups\]\[(\d+)\]\[filters\]\[(\d+)\]\[(field|value|condition_type)\]$/.exec(k);
      if (f) {
        const g = groups.get(f[1] as string) ?? new Map();
        const e = g.get(f[2] as string) ?? { field: '', value: '', condition_type: 'eq' };
        e[f[3] as 'field' | 'value' | 'condition_type'] = v;
        g.set(f[2] as string, e);
        groups.set(f[1] as string, g);
      }
      const s = /^searchCriteria\[sortOrders\]\[(\d+)\]\[(field|direction)\]$/.exec(k);
      if (s) {
        const e = sorts.get(s[1] as string) ?? { field: '', direction: 'ASC' };
        e[s[2] as 'field' | 'direction'] = v;
        sorts.set(s[1] as string, e);
      }
    }
    // Filters within a group are OR'ed; groups are AND'ed.
    let list = [...orders.values()].filter((order) => [...groups.values()].every((g) => [...g.values()].some((f) => matches(order, f))));
    const sortList = [...sorts.entries()].sort(([a], [b]) => Number(a) - Number(b)).map(([, s]) => s);
    list = list.sort((x, y) => {
      for (const s of sortList) {
        const a = x[s.field] as string | number;
        const b = y[s.field] as string | number;
        if (a !== b) return (a < b ? -1 : 1) * (s.direction.toUpperCase() === 'DESC' ? -1 : 1);
      }
      return x.entity_id - y.entity_id;
    });
    const pageSize = Number(url.searchParams.get('searchCriteria[pageSize]') ?? 0) || list.length || 1;
    const lastPage = Math.max(1, Math.ceil(list.length / pageSize));
    const page = Math.min(Math.max(1, Number(url.searchParams.get('searchCriteria[currentPage]') ?? 1)), lastPage);
    return { items: list.slice((page - 1) * pageSize, page * pageSize), search_criteria: { current_page: page, page_size: pageSize }, total_count: list.length };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const method = req.method ?? 'GET';
    const json = (status: number, v: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    if (req.headers.authorization !== `Bearer ${o.token}`) return error(res, 401, "The consumer isn't authorized to access %resources.", { resources: 'Magento_Sales::actions_view' });
    let input: Record<string, unknown> = {};
    if (body !== '') {
      try {
        input = JSON.parse(body) as Record<string, unknown>;
      } catch {
        return error(res, 400, 'Decoding error: \nSyntax error');
      }
    }
    if (method === 'GET' && url.pathname === '/rest/V1/orders') return json(200, search(url));
    const m = /^\/rest\/V1\/(orders|order)\/(\d+)(?:\/(comments|hold|unhold|cancel|ship))?$/.exec(url.pathname);
    if (!m) return error(res, 404, 'Request does not match any route.');
    const order = orders.get(Number(m[2]));
    if (!order) return error(res, 404, "The entity that was requested doesn't exist. Verify the entity and try again.");
    const action = m[3];
    if (method === 'GET' && action === undefined && m[1] === 'orders') return json(200, order);
    if (method !== 'POST') return error(res, 404, 'Request does not match any route.');
    if (m[1] === 'orders' && action === 'comments') {
      const h = (input['statusHistory'] ?? {}) as Record<string, unknown>;
      if (typeof h['comment'] !== 'string') return error(res, 400, '"%fieldName" is required. Enter and try again.', { fieldName: 'comment' });
      const status = typeof h['status'] === 'string' ? h['status'] : null;
      if (status) order.status = status;
      if (status === 'complete') order.state = 'complete';
      comment(order, h['comment'], status, Number(h['is_customer_notified'] ?? 0));
      order.updated_at = tick();
      return json(200, true);
    }
    if (m[1] === 'orders' && action === 'hold') {
      if (order.state === 'holded' || order.state === 'canceled' || order.state === 'complete' || order.state === 'closed') return error(res, 400, 'A hold action is not available.');
      order['hold_before_state'] = order.state;
      order['hold_before_status'] = order.status;
      order.state = 'holded';
      order.status = 'holded';
      order.updated_at = tick();
      return json(200, true);
    }
    if (m[1] === 'orders' && action === 'unhold') {
      if (order.state !== 'holded') return error(res, 400, 'You cannot remove the hold.');
      order.state = String(order['hold_before_state'] ?? 'processing');
      order.status = String(order['hold_before_status'] ?? 'processing');
      order.updated_at = tick();
      return json(200, true);
    }
    if (m[1] === 'orders' && action === 'cancel') {
      if (order.state === 'canceled' || order.state === 'complete' || order.state === 'closed' || order.state === 'holded') return json(200, false);
      order.state = 'canceled';
      order.status = 'canceled';
      order.updated_at = tick();
      return json(200, true);
    }
    if (m[1] === 'order' && action === 'ship') {
      if (order.state === 'holded' || order.state === 'canceled') return error(res, 400, 'Shipment Document Validation Error(s):\nThe order does not allow a shipment to be created.');
      const items = Array.isArray(input['items']) ? (input['items'] as Array<{ order_item_id: number; qty: number }>) : [];
      if (items.length === 0) return error(res, 400, 'Shipment Document Validation Error(s):\nYou can\'t create a shipment without products.');
      for (const it of items) {
        const line = order.items.find((l) => l.item_id === it.order_item_id);
        if (!line) return error(res, 400, 'Shipment Document Validation Error(s):\nThe order does not contain item %1.', [it.order_item_id]);
        if (!(it.qty > 0) || it.qty > line.qty_ordered - line.qty_shipped) return error(res, 400, 'Shipment Document Validation Error(s):\nYou can\'t create a shipment for more than the ordered quantity of item %1.', [it.order_item_id]);
      }
      for (const it of items) {
        const line = order.items.find((l) => l.item_id === it.order_item_id);
        if (line) line.qty_shipped += it.qty;
      }
      const tracks = Array.isArray(input['tracks']) ? (input['tracks'] as MagentoShipment['tracks']) : [];
      const shipment: MagentoShipment = { entity_id: shipments.length + 1, order_id: order.entity_id, items, tracks };
      shipments.push(shipment);
      if (order.items.every((l) => l.qty_shipped >= l.qty_ordered)) {
        order.state = order.state === 'processing' ? 'complete' : order.state;
        order.status = order.state === 'complete' ? 'complete' : order.status;
      }
      const c = input['comment'] as { comment?: string } | undefined;
      if (c?.comment) comment(order, c.comment, null, input['notify'] === true ? 1 : 0);
      order.updated_at = tick();
      return json(200, String(shipment.entity_id));
    }
    return error(res, 404, 'Request does not match any route.');
  }

  const httpServer = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks).toString('utf8');
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (faults.slowMs > 0) await new Promise((r) => setTimeout(r, faults.slowMs));
      if (faults.down || faults.failNext > 0) {
        if (!faults.down) faults.failNext--;
        requests.push({ method: req.method ?? 'GET', path, status: 503 });
        return error(res, 503, 'Service Unavailable');
      }
      await handle(req, res, body);
      requests.push({ method: req.method ?? 'GET', path, status: res.statusCode });
      if (requests.length > keep) requests.splice(0, requests.length - keep);
      const changed = req.method === 'POST' && res.statusCode < 300 ? /^\/rest\/V1\/orders?\/(\d+)/.exec(path) : null;
      if (changed) save(Number(changed[1]));
    })().catch(() => {
      if (!res.headersSent) error(res, 500, 'Internal Error. Details are available in Magento log file.');
    });
  });
  const server = await listenHttp(httpServer, o.port ?? 0);

  return {
    url: server.url,
    faults,
    requests,
    shipments,
    /** A new order as a checkout makes it (state new, status pending). `sameSecond`: updated in the second of the previous change. */
    createOrder(over: Partial<MagentoOrder> = {}, opts: { sameSecond?: boolean } = {}): MagentoOrder {
      const id = nextId++;
      const at = opts.sameSecond === true ? sameSecond() : tick();
      const address = { firstname: 'Jan', lastname: 'Kowalski', company: 'Kowalski Sp. z o.o.', street: ['ul. Długa 5', 'lok. 2'], city: 'Gdańsk', postcode: '80-001', country_id: 'PL', telephone: '+48600700800', vat_id: '5260250274' };
      const order: MagentoOrder = {
        entity_id: id,
        increment_id: String(100000000 + id),
        state: 'new',
        status: 'pending',
        created_at: at,
        updated_at: at,
        order_currency_code: 'PLN',
        customer_email: 'jan@example.com',
        customer_firstname: 'Jan',
        customer_lastname: 'Kowalski',
        grand_total: 65,
        total_paid: 0,
        shipping_incl_tax: 15,
        billing_address: address,
        payment: { method: 'checkmo' },
        items: [
          { item_id: nextItem++, sku: 'MUG-1', name: 'Kubek', qty_ordered: 2, qty_shipped: 0, price_incl_tax: 12.5, tax_percent: 23, parent_item_id: null },
          { item_id: nextItem++, sku: 'TSHIRT-1', name: 'Koszulka', qty_ordered: 1, qty_shipped: 0, price_incl_tax: 25, tax_percent: 23, parent_item_id: null },
        ],
        extension_attributes: { shipping_assignments: [{ shipping: { address: { ...address, street: ['ul. Krótka 1'] }, method: 'flatrate_flatrate' } }] },
        status_histories: [],
        ...over,
      };
      orders.set(id, order);
      save(id);
      return order;
    },
    /** An invoice is created at the shop (the payment method captured): state processing, total_paid. */
    markPaid(id: number): void {
      const order = orders.get(id);
      if (!order) throw new Error(`no order ${id}`);
      order.state = 'processing';
      order.status = 'processing';
      order['total_paid'] = order['grand_total'];
      comment(order, 'Captured amount online.', null);
      order.updated_at = tick();
      save(id);
    },
    /** The shop's admin cancels the order (state and status canceled), as `POST /V1/orders/{id}/cancel` would. */
    cancel(id: number): void {
      const order = orders.get(id);
      if (!order) throw new Error(`no order ${id}`);
      order.state = 'canceled';
      order.status = 'canceled';
      order.updated_at = tick();
      save(id);
    },
    order: (id: number) => orders.get(id),
    /** The order's comments, oldest first. */
    comments: (id: number) => [...(orders.get(id)?.status_histories ?? [])].reverse(),
    close: () => server.close(),
  };
}

export type MagentoSandbox = Awaited<ReturnType<typeof startMagentoSandbox>>;
