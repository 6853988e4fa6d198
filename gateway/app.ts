import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import { installErrorHandling, sendError, sendErrorFor } from './errors.ts';
import { findTextProblem, MAX_PARAM_LENGTH } from './hostile-text.ts';
import { startRetention } from '../infra/runtime/retention.ts';
import { pruneAdminIdempotency } from './admin-idempotency.ts';
import type { GatewayContext, GatewayDeps, GatewayRoute } from './gateway.types.ts';
import { registerBusinessMetrics } from './business-metrics.ts';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.ts';
import { BODY_LIMIT, installJsonParser } from './raw-body.ts';
import { adminDeadLettersRoute } from './routes/admin-dead-letters.route.ts';
import { createWebhookInbox, invalidDedupeKey } from './webhooks/webhook-inbox.ts';
import { createKnownOrders } from './webhooks/known-orders.ts';
import { startWebhookRecheck } from './webhook-recheck.ts';
import { startAdminEventRecheck } from './admin-event-recheck.ts';
import { publishEnvelope } from '../infra/nats/publish.ts';
import { warehouseWebhookRoute } from './routes/warehouse-webhook.route.ts';
import { shopWebhookRoute } from './routes/shop-webhook.route.ts';
import { adminShopsRoute } from './routes/admin-shops.route.ts';
import { healthRoute } from './routes/health.route.ts';
import { ordersRoute } from './routes/orders.route.ts';
import { stripeWebhookRoute } from './routes/stripe-webhook.route.ts';
import { payuWebhookRoute } from './routes/payu-webhook.route.ts';
import { adminOrdersRoute } from './routes/admin-orders.route.ts';
import { adminWebhooksRoute } from './routes/admin-webhooks.route.ts';
import { notificationsRoute } from './routes/notifications.route.ts';
import { consoleRoute } from './console/console.route.ts';
import { rootRoute } from './routes/root.route.ts';

/**
 * Every area of the HTTP surface, one plugin each. To add one: write `gateway/routes/<area>.route.ts`
 * exporting a `GatewayRoute`, and add it to this list (one line).
 */
export const GATEWAY_ROUTES: readonly GatewayRoute[] = [
  warehouseWebhookRoute,
  shopWebhookRoute,
  healthRoute,
  ordersRoute,
  stripeWebhookRoute,
  payuWebhookRoute,
  adminOrdersRoute,
  adminWebhooksRoute,
  adminDeadLettersRoute,
  adminShopsRoute,
  notificationsRoute,
  consoleRoute,
  rootRoute,
];

export interface GatewayOptions {
  /** Route plugins to register (default GATEWAY_ROUTES); tests may add their own. */
  routes?: readonly GatewayRoute[];
  /** Collect process metrics (default true). */
  defaultMetrics?: boolean;
}

/** Requests that bring new orders or payments: `/orders`, `/webhooks/payments/*`, `/webhooks/shops/*`. */
function isFrontPath(url: string): boolean {
  return url.startsWith('/webhooks/payments/') || url.startsWith('/webhooks/shops/') || url === '/orders' || url.startsWith('/orders?');
}

/** TRUST_PROXY as a hop count: trust the nearest `n` proxies (Fastify's typings lack the number form). */
const trustHops = (n: number) => (_address: string, hop: number) => hop < n;

declare module 'fastify' {
  interface FastifyInstance {
    gateway: GatewayContext;
  }
}

/**
 * Builds the gateway app (not listening: tests use `inject()`, `main.ts` calls `listen`). Uses only
 * the connections it is given; closing the app does not close them.
 */
export async function buildGateway(deps: GatewayDeps, opts: GatewayOptions = {}): Promise<FastifyInstance> {
  const metrics: GatewayMetrics = createGatewayMetrics({ defaultMetrics: opts.defaultMetrics, bulkGate: deps.bulkGate });
  registerBusinessMetrics(metrics.registry, deps);
  const inbox = createWebhookInbox({
    sql: deps.sql,
    nc: deps.nc,
    logger: deps.logger,
    onPublished: (env) => metrics.published.inc({ type: env.type }),
    onReceived: (provider, verdict, isNew) => metrics.webhooks.inc({ provider, verdict, new: String(isNew) }),
  });
  const ctx: GatewayContext = { deps, inbox, metrics, knownOrders: createKnownOrders() };
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the instance type Fastify's default.
    loggerInstance: deps.logger.child({ service: 'gateway' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    return503OnClosing: true,
    requestIdHeader: 'x-request-id',
    // TRUST_PROXY: behind a TLS-terminating proxy, request.protocol and request.ip come from X-Forwarded-*.
    trustProxy: typeof deps.config.trustProxy === 'number' ? trustHops(deps.config.trustProxy) : deps.config.trustProxy,
    ajv: { customOptions: { allErrors: false } },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // A URL the router cannot read: the project's error format, not Fastify's.
    frameworkErrors: (err, request, reply) => {
      if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendErrorFor(request, reply, 'URI_TOO_LONG', `a path segment is longer than ${MAX_PARAM_LENGTH} characters`);
      return sendErrorFor(request, reply, 'TEXT_INVALID', 'the URL is not valid percent-encoded UTF-8');
    },
  });
  app.decorate('gateway', ctx);
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  installJsonParser(app);
  installErrorHandling(app);

  // Graceful shutdown: responses finished while closing ask the client to close the connection, so a
  // kept-alive socket does not hold the server open after its in-flight request is done.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  const retentionLog = deps.logger.child({ service: 'gateway' });
  const stopRetention = [
    startRetention({ what: 'rejected webhooks', prune: inbox.pruneRejected, retentionMs: deps.config.webhookInvalidRetentionMs, logger: retentionLog }),
    startRetention({ what: 'admin idempotency keys', prune: (olderThan) => pruneAdminIdempotency(deps.sql, olderThan), retentionMs: deps.config.adminIdempotencyRetentionMs, logger: retentionLog }),
  ];
  // Every webhook accepted for an order reaches it, whatever NATS lost (gateway/webhook-recheck.ts).
  const recheckMs = deps.config.intakeRecheckMs;
  const webhookRecheck =
    recheckMs > 0
      ? startWebhookRecheck({
          sql: deps.sql,
          logger: deps.logger,
          everyMs: recheckMs,
          graceMs: recheckMs,
          replay: (id) => inbox.replay(id, 'webhook recheck', { note: 'accepted for an order that never answered it: its event was lost on the way', redeliver: true }),
        })
      : null;
  // Every admin event accepted for an order reaches it, whatever NATS lost (gateway/admin-event-recheck.ts).
  const adminEventRecheck =
    recheckMs > 0
      ? startAdminEventRecheck({
          sql: deps.sql,
          logger: deps.logger,
          everyMs: recheckMs,
          graceMs: recheckMs,
          republish: (subject, envelope, attempt) => publishEnvelope(deps.nc, subject, envelope, `${envelope.id}#recheck-${attempt}`),
        })
      : null;
  app.addHook('onClose', async () => {
    for (const stop of stopRetention) stop();
    await webhookRecheck?.stop();
    await adminEventRecheck?.stop();
    await inbox.flush();
  });
  // The hooks below run on every request: callback style (not async), so a request they let through
  // costs no promise and no extra microtask turn each. Answering from one: send, and do not call done.

  // Text Postgres cannot hold, in the query or the path: 400 before any route logic (JSON bodies are
  // checked by the parser; form bodies here).
  app.addHook('preValidation', (request, reply, done) => {
    const problem =
      findTextProblem(request.query, 'query') ??
      findTextProblem(request.params, 'params') ??
      (request.rawBody === undefined && request.body !== undefined ? findTextProblem(request.body, 'body') : null);
    if (problem !== null) return void sendErrorFor(request, reply, 'TEXT_INVALID', `${problem.field} ${problem.message}`);
    done();
  });
  // Webhooks of a known provider whose body cannot be read are stored raw (provider = the route's
  // last path segment) and answered 4xx before any route logic runs: not processed, but never lost.
  // An unknown provider is a 404 and stores nothing.
  app.addHook('preHandler', (request, reply, done) => {
    const malformed = request.malformedWebhook;
    if (malformed === undefined || request.is404) return done();
    const provider = request.url.split('?')[0]?.split('/').filter(Boolean).at(-1) ?? 'unknown';
    const body = request.rawBody ?? Buffer.alloc(0);
    inbox
      .store({ provider, dedupeKey: invalidDedupeKey(provider, body), signature: 'unchecked', verdict: 'malformed', detail: malformed.message, headers: request.headers, body })
      .then((stored) => void sendError(reply, malformed.code, malformed.message, { webhookId: stored.id }), done);
  });
  // New orders and payments are the front (infra/runtime/bulk-gate.ts): while they come in, a late
  // event loop pauses the process's bulk consumers; warehouse statuses and admin calls do not count.
  const gate = deps.bulkGate;
  if (gate !== undefined) {
    app.addHook('onRequest', (request, _reply, done) => {
      if (request.method === 'POST' && isFrontPath(request.url)) gate.frontSeen();
      done();
    });
  }
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) request.log.warn({ method: request.method, url: request.url, status: reply.statusCode }, 'request failed');
    else request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
    done();
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'orderpilot gateway', version: '1', description: 'Order intake, payment webhooks and the admin API.' },
      components: { securitySchemes: { adminToken: { type: 'http', scheme: 'bearer' }, shopKey: { type: 'http', scheme: 'bearer', description: 'a key from SHOP_KEYS' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // Routes opt in with `config.rateLimit` (the webhook routes limit rejected requests per address).
  await app.register(rateLimit, { global: false });
  for (const route of opts.routes ?? GATEWAY_ROUTES) {
    await app.register(route, ctx);
  }
  return app;
}
