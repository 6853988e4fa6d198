import { MACHINES } from '../../../machines/machine-graph.ts';
import { countsPerStateNode } from '../../../services/orders/index.ts';
import { shopHealth } from '../../../services/shops/index.ts';
import type { GatewayRoute } from '../../gateway.types.ts';
import { frame, sendPage } from '../console-render.ts';
import * as views from '../console.pages.ts';
import { statechartView } from '../statechart.view.ts';

/** `GET /admin/machines` — every statechart drawn from its definition, the order machine with live counts per state, and the connected shops' health. */
export const machinesPage: GatewayRoute = async (app, ctx) => {
  const { sql, config } = ctx.deps;
  app.get('/admin/machines', { schema: { hide: true } }, async (request, reply) => {
    const machines = await Promise.all(
      MACHINES.map(async (m) => ({
        title: `${m.title} (${m.machine.id})`,
        view: statechartView(m.machine, m.name === 'order' ? { counts: await countsPerStateNode(sql, m.machine.id) } : {}),
      })),
    );
    const health = await shopHealth(sql, config.shops.map((s) => s.name)).catch(() => []);
    const shops = config.shops.map((s) => ({ name: s.name, kind: s.kind, host: new URL(s.url).host, ...(health.find((h) => h.shop === s.name) ?? null) }));
    return sendPage(request, reply, frame(request, { title: 'Machines', nav: 'machines', live: '/admin/live' }), views.machinesPage(machines, shops));
  });
};
