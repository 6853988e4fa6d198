import Type from 'typebox';
import { publishEnvelope } from '../../infra/nats/publish.ts';
import { makeEnvelope, OrderpilotError, type ShopUpdate } from '../../services/contracts/index.ts';
import { findOrder } from '../../services/orders/index.ts';
import { givenUpShopUpdates, shopLog } from '../../services/shops/index.ts';
import { adminAuthHook } from '../admin-auth.ts';
import type { GatewayRoute } from '../gateway.types.ts';

const security = [{ adminToken: [] }];
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });

/**
 * `/admin/api/orders/:id/shop`: every request to the order's shop and its answer (the shop log), and
 * the replay of the updates the shops service gave up (once the shop is fixed): each is sent again
 * on the order's shop-update partition, marked as a replay of its original message.
 */
export const adminShopsRoute: GatewayRoute = async (app, ctx) => {
  const { sql, nc, names } = ctx.deps;
  app.addHook('onRequest', adminAuthHook(ctx.deps.config.adminTokens));

  async function orderIdOf(id: string): Promise<string> {
    const order = await findOrder(sql, id);
    if (!order) throw new OrderpilotError('NOT_FOUND', `no order ${id}`);
    return order.id;
  }

  app.get(
    '/admin/api/orders/:id/shop',
    { schema: { summary: "The order's shop log: every request to its shop and the answer", tags: ['admin'], security, params: IdParams } },
    async (request) => ({ items: await shopLog(sql, await orderIdOf(request.params.id)) }),
  );

  app.post(
    '/admin/api/orders/:id/shop/replay',
    {
      schema: {
        summary: 'Send the shop updates that were given up again',
        description: 'Calls already made are not made again; an update older than what the shop has adds its notes only (never an older status).',
        tags: ['admin'],
        security,
        params: IdParams,
      },
    },
    async (request, reply) => {
      const orderId = await orderIdOf(request.params.id);
      const given = await givenUpShopUpdates(sql, orderId);
      const at = Date.now();
      for (const g of given) {
        const payload: ShopUpdate = { ...g.update, replayOf: g.messageId };
        const env = makeEnvelope({ id: `${g.messageId}#replay-${at}`, type: 'shop-update', orderId, payload, actor: request.adminName ?? 'admin' });
        await publishEnvelope(nc, names.subjects.shopUpdate(orderId), env);
      }
      request.log.info({ orderId, admin: request.adminName, replayed: given.length }, 'shop updates replayed');
      return reply.code(202).send({ replayed: given.map((g) => ({ messageId: g.messageId, version: g.update.version, changes: g.update.changes.map((c) => c.kind) })) });
    },
  );
};
