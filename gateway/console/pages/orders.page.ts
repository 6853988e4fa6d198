import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GatewayRoute } from '../../gateway.types.ts';
import type { OrderListItem } from '../admin-api.client.ts';
import { one, type Form } from '../console-form.ts';
import { adminApi, frame, sendPage } from '../console-render.ts';
import * as views from '../console.pages.ts';

/** Rows a CSV export holds at most (a larger export is refused with a hint to narrow the filter). */
const CSV_MAX_ROWS = 10_000;

type ListQuery = { state?: string; q?: string; from?: string; to?: string; sort?: string; limit?: number; cursor?: string };

/** The filter from the query string, defaults filled in; null when a value is malformed. */
function readFilter(q: Form): { filter: views.OrdersFilter; problem: string | null } {
  const sortIn = one(q['sort']);
  const limitIn = one(q['limit']);
  const filter: views.OrdersFilter = {
    q: one(q['q']).slice(0, 200),
    state: one(q['state']),
    from: one(q['from']),
    to: one(q['to']),
    sort: ['newest', 'oldest', 'updated'].includes(sortIn) ? sortIn : 'newest',
    limit: (views.PAGE_SIZES as readonly string[]).includes(limitIn) ? limitIn : '50',
    tz: /^-?\d{1,4}$/.test(one(q['tz'])) ? one(q['tz']) : '0',
  };
  const valid = (d: string) => d === '' || /^\d{4}-\d{2}-\d{2}$/.test(d);
  return { filter, problem: valid(filter.from) && valid(filter.to) ? null : 'Dates must be YYYY-MM-DD.' };
}

/** The operator's calendar day `date` (YYYY-MM-DD, in the browser's zone `tz`) as the UTC instant it starts, plus `days`. */
function dayStart(date: string, tzOffsetMinutes: string, days = 0): string {
  const utcMidnight = Date.parse(`${date}T00:00:00Z`) + days * 86_400_000;
  return new Date(utcMidnight + Number(tzOffsetMinutes) * 60_000).toISOString();
}

function apiQuery(f: views.OrdersFilter): ListQuery {
  return {
    state: f.state || undefined,
    q: f.q || undefined,
    from: f.from ? dayStart(f.from, f.tz) : undefined,
    to: f.to ? dayStart(f.to, f.tz, 1) : undefined,
    sort: f.sort,
  };
}

const csvCell = (v: string | number | null): string => {
  const s = v === null ? '' : String(v);
  // Quote always; a leading = + - @ is neutralised so a spreadsheet never runs it as a formula.
  return `"${(/^[=+\-@\t\r]/.test(s) ? `'${s}` : s).replace(/"/g, '""')}"`;
};

const CSV_COLUMNS: Array<[string, (o: OrderListItem) => string | number | null]> = [
  ['order_id', (o) => o.id],
  ['external_id', (o) => o.externalId],
  ['state', (o) => o.state],
  ['hold_code', (o) => o.holdCode],
  ['document_state', (o) => o.documentState],
  ['document_number', (o) => o.documentNumber],
  ['tracking_number', (o) => o.trackingNumber],
  ['customer_name', (o) => o.customerName],
  ['customer_email', (o) => o.customerEmail],
  ['total', (o) => (o.total / 100).toFixed(2)],
  ['currency', (o) => o.currency],
  ['created_at', (o) => o.createdAt],
  ['updated_at', (o) => o.updatedAt],
];

async function everyRow(app: FastifyInstance, request: FastifyRequest, q: ListQuery): Promise<{ rows: OrderListItem[]; more: boolean } | { error: string }> {
  const rows: OrderListItem[] = [];
  let cursor: string | undefined;
  for (;;) {
    const res = await adminApi(app, request).listOrders({ ...q, limit: 200, cursor });
    if (!res.ok) return { error: res.error.message };
    rows.push(...res.value.items);
    cursor = res.value.nextCursor ?? undefined;
    if (!cursor) return { rows, more: false };
    if (rows.length >= CSV_MAX_ROWS) return { rows, more: true };
  }
}

/**
 * `GET /admin/orders` — search (name, e-mail, external id, order id, document and tracking number),
 * state, the operator's own days, sort and page size, over the admin API; `GET /admin/orders.csv` —
 * the same filter as CSV (every matching row up to 10,000).
 */
export const ordersPage: GatewayRoute = async (app) => {
  app.get('/admin/orders', { schema: { hide: true } }, async (request, reply) => {
    const q = request.query as Form;
    const { filter, problem } = readFilter(q);
    const csv = `/admin/orders.csv?${new URLSearchParams({ ...filter }).toString()}`;
    const page = (items: OrderListItem[], next: string | null, flash?: { kind: 'error'; text: string }) =>
      sendPage(request, reply, frame(request, { title: 'Orders', nav: 'orders', live: flash ? null : '/admin/live', ...(flash ? { flash } : {}) }), views.ordersPage({ items, filter, next, csv }));
    if (problem) return page([], null, { kind: 'error', text: problem });
    const cursor = one(q['cursor']) || undefined;
    const res = await adminApi(app, request).listOrders({ ...apiQuery(filter), limit: Number(filter.limit), cursor });
    if (!res.ok) return page([], null, { kind: 'error', text: res.error.message });
    const next = res.value.nextCursor ? `/admin/orders?${new URLSearchParams({ ...filter, cursor: res.value.nextCursor }).toString()}` : null;
    return page(res.value.items, next);
  });

  app.get('/admin/orders.csv', { schema: { hide: true } }, async (request, reply) => {
    const { filter, problem } = readFilter(request.query as Form);
    if (problem) return reply.code(400).type('text/plain; charset=utf-8').send(problem);
    const all = await everyRow(app, request, apiQuery(filter));
    if ('error' in all) return reply.code(400).type('text/plain; charset=utf-8').send(all.error);
    if (all.more) return reply.code(413).type('text/plain; charset=utf-8').send(`More than ${CSV_MAX_ROWS} orders match: narrow the filter (dates, state) and export again.`);
    const lines = [CSV_COLUMNS.map(([name]) => name).join(','), ...all.rows.map((o) => CSV_COLUMNS.map(([, get]) => csvCell(get(o))).join(','))];
    request.log.info({ admin: request.consoleSession?.name, rows: all.rows.length }, 'orders exported as CSV');
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
    return reply
      .header('content-disposition', `attachment; filename="orders-${stamp}.csv"`)
      .header('cache-control', 'no-store')
      .type('text/csv; charset=utf-8')
      .send(`${lines.join('\r\n')}\r\n`);
  });
};
