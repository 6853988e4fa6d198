import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { GatewayRoute } from '../gateway.types.ts';
import { CONSOLE_CSS, CONSOLE_JS } from './console.assets.ts';
import { consoleCsrfHook, consoleSessionHook, createConsoleSessions } from './console-session.ts';
import { attentionPage } from './pages/attention.page.ts';
import { bulkActionPage } from './pages/bulk-action.page.ts';
import { deadLettersPage } from './pages/dead-letters.page.ts';
import { inspectorPage } from './pages/inspector.page.ts';
import { webhooksPage } from './pages/webhooks.page.ts';
import { liveStream } from './pages/live.page.ts';
import { loginRoutes, logoutRoute } from './pages/login.page.ts';
import { machinesPage } from './pages/machines.page.ts';
import { notificationsPage } from './pages/notifications.page.ts';
import { orderPage } from './pages/order.page.ts';
import { ordersPage } from './pages/orders.page.ts';

/**
 * Every page that needs a signed-in admin, one plugin each (`pages/<page>.page.ts`). To add a page:
 * write its plugin (render with `console-render.ts`, views in `console.pages.ts`) and list it here.
 */
export const CONSOLE_PAGES: readonly GatewayRoute[] = [
  attentionPage,
  ordersPage,
  orderPage,
  bulkActionPage,
  notificationsPage,
  deadLettersPage,
  webhooksPage,
  machinesPage,
  inspectorPage,
  liveStream,
];

/**
 * The admin console at /admin: server-rendered pages over the admin API, signed in with an admin
 * token once; the HttpOnly, SameSite=Strict cookie then holds a random session id (stored hashed, revoked at sign-out); every action is a POST carrying a CSRF token.
 * Live updates come over SSE from NATS `orderChanged` hints. This plugin only wires: the assets and
 * sign-in need no session; the session and CSRF hooks wrap every page in CONSOLE_PAGES.
 */
export const consoleRoute: GatewayRoute = async (app, ctx) => {
  await app.register(cookie);
  await app.register(formbody);

  app.get('/admin/assets/console.css', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=300').send(CONSOLE_CSS),
  );
  app.get('/admin/assets/console.js', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=300').send(CONSOLE_JS),
  );
  const sessions = createConsoleSessions(ctx.deps.sql, ctx.deps.config.consoleSessionHours);
  await app.register(loginRoutes(sessions), ctx);

  await app.register(async (authed) => {
    authed.addHook('onRequest', consoleSessionHook(sessions, ctx.deps.config.adminTokens));
    authed.addHook('preHandler', consoleCsrfHook);
    await authed.register(logoutRoute(sessions), ctx);
    for (const page of CONSOLE_PAGES) await authed.register(page, ctx);
  });
};
