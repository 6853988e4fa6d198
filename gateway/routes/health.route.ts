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

/** `/healthz`: the process answers. `/readyz`: Postgres and NATS are reachable (503 naming which is not). */
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
  app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.header('content-type', ctx.metrics.registry.contentType).send(body);
  });
};
