import type { GatewayRoute } from '../gateway.types.ts';

/** `/`: a person who opens the gateway's address in a browser lands on the admin console. */
export const rootRoute: GatewayRoute = async (app) => {
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/admin', 302));
};
