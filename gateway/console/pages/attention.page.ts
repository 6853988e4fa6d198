import { warehouseTimeline } from '../../../services/logistics/index.ts';
import { countOpenNotifications, listNotifications } from '../../../services/notifications/index.ts';
import { ksefDocumentsNeedingAttention } from '../../../services/invoicing/index.ts';
import { countsPerState, failedDocuments, heldOrders } from '../../../services/orders/index.ts';
import type { GatewayRoute } from '../../gateway.types.ts';
import { csrfOf, frame, sendPage } from '../console-render.ts';
import * as views from '../console.pages.ts';

/** `GET /admin` — needs attention: orders per state, held orders, failed documents, KSeF rejections and long waits, open notifications. */
export const attentionPage: GatewayRoute = async (app, ctx) => {
  const { sql, config } = ctx.deps;
  app.get('/admin', { schema: { hide: true } }, async (request, reply) => {
    const [held, failedDocs, ksefDocs, notifications, counts, open] = await Promise.all([
      heldOrders(sql),
      failedDocuments(sql),
      ksefDocumentsNeedingAttention(sql, config.ksef.attentionMs),
      listNotifications(sql, { status: 'open', limit: 200 }),
      countsPerState(sql),
      countOpenNotifications(sql),
    ]);
    const withWarehouse = await Promise.all(
      held.map(async (o) => ({ ...o, lastWarehouse: (await warehouseTimeline(sql, o.id, { limit: 500 }).catch(() => [])).at(-1) })),
    );
    const openCount = Object.values(open).reduce((a, b) => a + b, 0);
    return sendPage(
      request,
      reply,
      frame(request, { title: 'Needs attention', nav: 'attention', live: '/admin/live', openNotifications: openCount }),
      views.attentionPage({ csrf: csrfOf(request), held: withWarehouse, failedDocs, ksefDocs, notifications, counts }),
    );
  });
};
