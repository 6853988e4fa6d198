import { countOpenDeadLetters, listDeadLetters } from '../../../infra/db/dead-letters.ts';
import { warehouseTimeline } from '../../../services/logistics/index.ts';
import { countOpenNotifications } from '../../../services/notifications/index.ts';
import { ksefDocumentsNeedingAttention } from '../../../services/invoicing/index.ts';
import { attentionFacts, countsPerState, failedDocuments, heldOrders, problemCounts } from '../../../services/orders/index.ts';
import type { GatewayRoute } from '../../gateway.types.ts';
import { csrfOf, frame, sendPage } from '../console-render.ts';
import * as views from '../console.pages.ts';

/** Rows per section; the section heading says how many there are in all and links to the rest. */
const PAGE = 50;

/**
 * `GET /admin` — needs attention as a work queue: one row per problem (held order, failed document,
 * KSeF rejection or long wait, dead letter, webhook for no known order), each with who, how much and
 * what, why in words, and what may be done now. Totals are never capped silently.
 */
export const attentionPage: GatewayRoute = async (app, ctx) => {
  const { sql, config } = ctx.deps;
  app.get('/admin', { schema: { hide: true } }, async (request, reply) => {
    const [held, failedDocs, ksefDocs, counts, open, totals, deadLetters, deadCounts, unmatched] = await Promise.all([
      heldOrders(sql, PAGE),
      failedDocuments(sql, PAGE),
      ksefDocumentsNeedingAttention(sql, config.ksef.attentionMs),
      countsPerState(sql),
      countOpenNotifications(sql),
      problemCounts(sql),
      listDeadLetters(sql, { open: true, limit: 10 }),
      countOpenDeadLetters(sql),
      ctx.inbox.list({ verdict: 'unmatched', limit: PAGE }),
    ]);
    const [withWarehouse, facts] = await Promise.all([
      Promise.all(held.map(async (o) => ({ ...o, lastWarehouse: (await warehouseTimeline(sql, o.id, { limit: 500 }).catch(() => [])).at(-1) }))),
      attentionFacts(sql, [...new Set([...held.map((o) => o.id), ...failedDocs.map((o) => o.id), ...ksefDocs.map((k) => k.orderId)])]),
    ]);
    const openCount = Object.values(open).reduce((a, b) => a + b, 0);
    return sendPage(
      request,
      reply,
      frame(request, { title: 'Needs attention', nav: 'attention', live: '/admin/live', openNotifications: openCount }),
      views.attentionPage({
        csrf: csrfOf(request),
        held: withWarehouse,
        failedDocs,
        ksefDocs,
        deadLetters: deadLetters.map((d) => ({ ...d, created_at: d.created_at.toISOString() })),
        unmatched,
        totals: { ...totals, deadLetters: deadCounts.reduce((a, c) => a + c.count, 0) },
        facts,
        openNotifications: openCount,
        counts,
      }),
    );
  });
};
