import type { FastifyRequest } from 'fastify';
import { matchAdminToken } from '../../admin-auth.ts';
import type { GatewayRoute } from '../../gateway.types.ts';
import { localPath, one, type Form } from '../console-form.ts';
import { SESSION_COOKIE, type ConsoleSessions } from '../console-session.ts';
import { loginPage } from '../console.pages.ts';

const secureCookie = (request: FastifyRequest) => request.protocol === 'https';

/**
 * `/admin/login`: sign in with a token from ADMIN_TOKENS; the cookie gets a new random session id
 * (the token itself is never put in a cookie). Needs no session.
 */
export const loginRoutes = (sessions: ConsoleSessions): GatewayRoute => async (app, ctx) => {
  const { config } = ctx.deps;

  app.get('/admin/login', { schema: { hide: true } }, async (request, reply) => {
    const next = localPath(one((request.query as Form)['next']));
    return reply.type('text/html; charset=utf-8').send(loginPage(null, next).value);
  });

  app.post('/admin/login', { schema: { hide: true } }, async (request, reply) => {
    const body = (request.body ?? {}) as Form;
    const token = one(body['token']);
    const next = localPath(one(body['next']));
    const name = token ? matchAdminToken(config.adminTokens, token) : null;
    if (name === null) {
      request.log.warn({ ip: request.ip }, 'console sign-in refused');
      return reply.code(401).type('text/html; charset=utf-8').send(loginPage('That token is not an admin token.', next).value);
    }
    request.log.info({ admin: name }, 'console sign-in');
    const sessionId = await sessions.create(name);
    reply.setCookie(SESSION_COOKIE, sessionId, { path: '/admin', httpOnly: true, sameSite: 'strict', secure: secureCookie(request), maxAge: config.consoleSessionHours * 3600 });
    return reply.redirect(next, 303);
  });
};

/** `POST /admin/logout` (signed in): the session is revoked in Postgres, not only forgotten by the browser. */
export const logoutRoute = (sessions: ConsoleSessions): GatewayRoute => async (app) => {
  app.post('/admin/logout', { schema: { hide: true } }, async (request, reply) => {
    if (request.consoleSession) await sessions.revoke(request.consoleSession.sessionHash);
    reply.clearCookie(SESSION_COOKIE, { path: '/admin' });
    request.log.info({ admin: request.consoleSession?.name }, 'console sign-out');
    return reply.redirect('/admin/login', 303);
  });
};
