import { orderMachine } from '../../../machines/order/index.ts';
import { findOrder, recentTransitions, type RecentTransition } from '../../../services/orders/index.ts';
import type { GatewayRoute } from '../../gateway.types.ts';
import { one, type Form } from '../console-form.ts';
import { frame, sendErrorPage, sendPage } from '../console-render.ts';
import { badge, localTime, orderLink } from '../console.pages.ts';
import { html, type Html } from '../html.ts';
import { statechartView } from '../statechart.view.ts';

const NEWEST = 30;

function transitionsTable(list: readonly RecentTransition[], showOrder: boolean): Html {
  if (list.length === 0) return html`<p class="muted">No transitions yet.</p>`;
  return html`<table class="transitions"><thead><tr><th>When</th>${showOrder ? html`<th>Order</th>` : ''}<th>Event</th><th>From → to</th><th>By</th><th>Payload</th></tr></thead><tbody>
${list.map(
  (t) => html`<tr data-transition="${t.id}" data-event="${t.type}">
<td>${localTime(t.at)}</td>
${showOrder ? html`<td><a href="/admin/inspector?order=${encodeURIComponent(t.orderId)}">${t.externalId}</a></td>` : ''}
<td class="mono">${t.type}</td><td>${t.from ?? '∅'} → ${badge(t.to)}</td><td>${t.actor ?? 'system'}</td>
<td><details><summary>payload</summary><pre class="raw">${JSON.stringify(t.payload, null, 2)}</pre></details></td></tr>`,
)}</tbody></table>`;
}

/**
 * `/admin/inspector` — a live inspector that needs no internet: with `?order=<id>` it follows one
 * order (its statechart with the current states, every transition with its payload, updated over
 * SSE as the host commits); without, the newest transitions of every order. The Stately inspector
 * (`ORDERPILOT_INSPECT=1`) stays an option for developers who are online.
 */
export const inspectorPage: GatewayRoute = async (app, ctx) => {
  const { sql } = ctx.deps;
  app.get('/admin/inspector', { schema: { hide: true } }, async (request, reply) => {
    const orderId = one((request.query as Form)['order']);
    if (orderId === '') {
      const list = await recentTransitions(sql, { limit: NEWEST });
      const body = html`<h1>Inspector</h1>
<p class="muted">The newest ${NEWEST} transitions of every order, live. Pick an order to follow its statechart.</p>
<form method="get" action="/admin/inspector" class="filters" data-key="inspect"><label>Follow order <input type="text" name="order" maxlength="128" placeholder="order id or external id"></label><button class="secondary" type="submit">Follow</button></form>
${transitionsTable(list, true)}`;
      return sendPage(request, reply, frame(request, { title: 'Inspector', nav: 'inspector', live: '/admin/live' }), body);
    }
    // The transitions first, then the order: the statechart is then never behind the list (a commit
    // between the two reads shows in the chart, and in the list on the next refresh).
    const byExternal = orderId.startsWith('ord_') ? null : await findOrder(sql, orderId);
    const list = await recentTransitions(sql, { limit: 200, orderId: byExternal?.id ?? orderId });
    const order = await findOrder(sql, byExternal?.id ?? orderId);
    if (!order) return sendErrorPage(request, reply, 404, `No order ${orderId}.`);
    const body = html`<h1>Inspector: ${orderLink(order.id, order.externalId)} ${badge(order.state)}</h1>
<p class="muted">Live: each transition appears as the order host commits it. <a href="/admin/inspector">All orders</a></p>
${statechartView(orderMachine, { value: order.value })}
<h2>Transitions</h2>
${transitionsTable(list, false)}`;
    return sendPage(request, reply, frame(request, { title: `Inspector ${order.externalId}`, nav: 'inspector', live: `/admin/live?order=${encodeURIComponent(order.id)}` }), body);
  });
};
