import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AdminToken } from '../../infra/config.ts';
import { matchAdminToken } from '../admin-auth.ts';
import { one, type Form } from './console-form.ts';
import { errorPageFor } from './console-render.ts';
import { loginPage } from './console.pages.ts';

/** The console's session cookie: the admin token itself, HttpOnly, SameSite=Strict, scoped to /admin. */
export const SESSION_COOKIE = 'orderpilot_admin';

declare module 'fastify' {
  interface FastifyRequest {
    /** Console session: the signed-in admin's name and token (set by the console's auth hook). */
    consoleSession?: { name: string; token: string; csrf: string };
  }
}

/** CSRF token bound to the admin's token: a cross-site page can neither read nor compute it. */
function csrfFor(token: string): string {
  return createHmac('sha256', token).update('orderpilot-console-csrf-v1').digest('base64url');
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * `onRequest` of every signed-in page: a valid session cookie sets `request.consoleSession`; without
 * one a page view goes to the sign-in page, anything else (a partial refresh, a POST) gets 401.
 */
export function consoleSessionHook(tokens: readonly AdminToken[]) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const token = request.cookies[SESSION_COOKIE];
    const name = token ? matchAdminToken(tokens, token) : null;
    if (!token || name === null) {
      if (request.method === 'GET' && request.headers['x-console-partial'] === undefined) {
        return reply.redirect(`/admin/login?next=${encodeURIComponent(request.url)}`, 303);
      }
      return reply.code(401).type('text/html; charset=utf-8').send(loginPage('Your session has ended; sign in again.', '/admin').value);
    }
    request.consoleSession = { name, token, csrf: csrfFor(token) };
    request.adminName = name;
  };
}

/** `preHandler` of every signed-in page: a POST must carry the session's CSRF token and no foreign Origin. */
export async function consoleCsrfHook(request: FastifyRequest, reply: FastifyReply) {
  if (request.method !== 'POST') return;
  const s = request.consoleSession;
  const sent = one(((request.body ?? {}) as Form)['_csrf']);
  // SameSite=Strict already keeps the cookie off cross-site requests; the token is the second lock.
  const origin = request.headers.origin;
  const host = request.headers.host;
  const originOk = origin === undefined || origin === 'null' ? origin === undefined : host !== undefined && new URL(origin).host === host;
  if (!s || !sent || !sameString(sent, s.csrf) || !originOk) {
    request.log.warn({ admin: s?.name, url: request.url }, 'console action refused: CSRF check failed');
    return reply.code(403).type('text/html; charset=utf-8').send(errorPageFor(request, 'This form has expired or did not come from the console. Reload the page and try again.'));
  }
}
