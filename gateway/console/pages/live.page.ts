import type { GatewayRoute } from '../../gateway.types.ts';
import { one, type Form } from '../console-form.ts';
import { createLiveStreams } from '../live.ts';

/** `GET /admin/live[?order=]` — server-sent "changed" events for open pages (one order, or all). */
export const liveStream: GatewayRoute = async (app, ctx) => {
  const { nc, names } = ctx.deps;
  const live = createLiveStreams(nc, names.subjects.liveListening);
  app.addHook('preClose', async () => live.closeAll());
  app.get('/admin/live', { schema: { hide: true } }, async (request, reply) => {
    const order = one((request.query as Form)['order']);
    const subject = order ? names.subjects.orderChanged(order) : names.subjects.orderChangedAll;
    if (order && /[\s*>]/.test(order)) return reply.code(400).send('bad order id');
    live.open(subject, request, reply);
  });
};
