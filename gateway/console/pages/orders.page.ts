import type { GatewayRoute } from '../../gateway.types.ts';
import type { OrderListItem } from '../admin-api.client.ts';
import { one, type Form } from '../console-form.ts';
import { adminApi, frame, sendPage } from '../console-render.ts';
import * as views from '../console.pages.ts';

/** `GET /admin/orders` — search (external id, e-mail, order id), state and date range, over the admin API. */
export const ordersPage: GatewayRoute = async (app) => {
  app.get('/admin/orders', { schema: { hide: true } }, async (request, reply) => {
    const q = request.query as Form;
    const filter = { q: one(q['q']), state: one(q['state']), from: one(q['from']), to: one(q['to']) };
    const valid = (d: string) => d === '' || /^\d{4}-\d{2}-\d{2}$/.test(d);
    if (!valid(filter.from) || !valid(filter.to)) {
      return sendPage(request, reply, frame(request, { title: 'Orders', nav: 'orders', live: null, flash: { kind: 'error', text: 'Dates must be YYYY-MM-DD.' } }), views.ordersPage({ items: [], filter, next: null }));
    }
    const from = filter.from ? Date.parse(`${filter.from}T00:00:00Z`) : null;
    const to = filter.to ? Date.parse(`${filter.to}T00:00:00Z`) + 86_400_000 : null;
    // The admin API pages newest first by (created, id); a date range is a window over those pages.
    const items: OrderListItem[] = [];
    let cursor: string | undefined = one(q['cursor']) || undefined;
    let next: string | null = null;
    for (let page = 0; page < 20 && items.length < 100; page++) {
      const res = await adminApi(app, request).listOrders({ state: filter.state || undefined, q: filter.q || undefined, limit: 200, cursor });
      if (!res.ok) {
        return sendPage(request, reply, frame(request, { title: 'Orders', nav: 'orders', live: null, flash: { kind: 'error', text: res.error.message } }), views.ordersPage({ items: [], filter, next: null }));
      }
      let older = false;
      for (const o of res.value.items) {
        const at = Date.parse(o.createdAt);
        if (to !== null && at >= to) continue;
        if (from !== null && at < from) {
          older = true;
          break;
        }
        items.push(o);
      }
      cursor = res.value.nextCursor ?? undefined;
      if (older || !cursor) break;
    }
    if (cursor && items.length >= 100) {
      const p = new URLSearchParams({ ...filter, cursor });
      next = `/admin/orders?${p.toString()}`;
    }
    return sendPage(request, reply, frame(request, { title: 'Orders', nav: 'orders', live: '/admin/live' }), views.ordersPage({ items, filter, next }));
  });
};
