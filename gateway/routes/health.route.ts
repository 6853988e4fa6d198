import { sameSecret } from '../admin-auth.ts';
import { sendError } from '../errors.ts';
import type { GatewayRoute } from '../gateway.types.ts';

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `/healthz`: the process answers. `/readyz`: Postgres and NATS are reachable (503 naming which is not).
 * `/metrics`: Prometheus text; with METRICS_TOKEN set it needs that token as a Bearer token.
 */
export const healthRoute: GatewayRoute = async (app, ctx) => {
  const { sql, nc } = ctx.deps;
  app.get('/healthz', { schema: { hide: true }, logLevel: 'warn' }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) => {
    const checks = await Promise.allSettled([
      withTimeout(sql`select 1`, 2000, 'Postgres'),
      withTimeout(nc.isClosed() ? Promise.reject(new Error('NATS connection closed')) : nc.flush(), 2000, 'NATS'),
    ]);
    const [pg, nats] = checks;
    const status = {
      postgres: pg?.status === 'fulfilled' ? 'ok' : String((pg as PromiseRejectedResult).reason?.message ?? 'down'),
      nats: nats?.status === 'fulfilled' ? 'ok' : String((nats as PromiseRejectedResult).reason?.message ?? 'down'),
    };
    const ready = status.postgres === 'ok' && status.nats === 'ok';
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', ...status });
  });
  const metricsToken = ctx.deps.config.metricsToken;
  app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (request, reply) => {
    // METRICS_TOKEN: Prometheus sends it as `authorization: Bearer …` (its scrape config's `authorization`).
    if (metricsToken !== undefined) {
      const presented = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (presented === undefined) return sendError(reply.header('www-authenticate', 'Bearer realm="orderpilot-metrics"'), 'UNAUTHENTICATED', 'metrics need Authorization: Bearer <METRICS_TOKEN>');
      if (!sameSecret(presented, metricsToken)) return sendError(reply, 'FORBIDDEN', 'that is not the metrics token');
    }
    const body = await ctx.metrics.registry.metrics();
    return reply.header('content-type', ctx.metrics.registry.contentType).send(body);
  });
};
