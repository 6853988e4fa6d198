import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AdminToken } from '../../infra/config.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import { one, type Form } from './console-form.ts';
import { errorPageFor } from './console-render.ts';
import { loginPage } from './console.pages.ts';

/**
 * The console's session cookie: a random session id (never the admin token), HttpOnly,
 * SameSite=Strict, scoped to /admin, `Secure` whenever the request came over https (behind a
 * TLS-terminating proxy with TRUST_PROXY set). Only the id's SHA-256 is stored (`console_sessions`).
 */
export const SESSION_COOKIE = 'orderpilot_session';

declare module 'fastify' {
  interface FastifyRequest {
    /** Console session: the signed-in admin's name, token (from ADMIN_TOKENS, for the admin API) and CSRF token. */
    consoleSession?: { name: string; token: string; csrf: string; sessionHash: string };
  }
}

const hashOf = (sessionId: string) => createHash('sha256').update(sessionId).digest('hex');

/** CSRF token bound to the session: a cross-site page can neither read nor compute it. */
function csrfFor(sessionId: string): string {
  return createHmac('sha256', sessionId).update('orderpilot-console-csrf-v2').digest('base64url');
}

/** Console sessions in Postgres: created at sign-in, looked up per request, revoked at sign-out. */
export function createConsoleSessions(sql: Sql, hours: number) {
  return {
    /** A new session for `admin`; returns the id for the cookie (shown to nobody else, stored hashed). */
    async create(admin: string): Promise<string> {
      const id = randomBytes(32).toString('base64url');
      await sql`insert into console_sessions (id_hash, admin, expires_at)
        values (${hashOf(id)}, ${admin}, now() + make_interval(hours => ${hours}))`;
      // Housekeeping: sessions a day past their end are of no use to anyone.
      await sql`delete from console_sessions where expires_at < now() - interval '1 day'`;
      return id;
    },
    /** The admin of a live session (not expired, not revoked), or null. */
    async adminOf(id: string): Promise<{ admin: string; hash: string } | null> {
      if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
      const hash = hashOf(id);
      const [row] = await sql<Array<{ admin: string }>>`select admin from console_sessions
        where id_hash = ${hash} and revoked_at is null and expires_at > now()`;
      return row ? { admin: row.admin, hash } : null;
    },
    async revoke(hash: string): Promise<void> {
      await sql`update console_sessions set revoked_at = now() where id_hash = ${hash} and revoked_at is null`;
    },
  };
}
export type ConsoleSessions = ReturnType<typeof createConsoleSessions>;

/** The host of an Origin header, or null when it is not a URL (`null`, garbage). */
function hostOf(origin: string): string | null {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
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
export function consoleSessionHook(sessions: ConsoleSessions, tokens: readonly AdminToken[]) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const id = request.cookies[SESSION_COOKIE];
    const session = id ? await sessions.adminOf(id) : null;
    // The admin must still be in ADMIN_TOKENS: removing a token ends that admin's sessions.
    const token = session ? tokens.find((t) => t.name === session.admin)?.token : undefined;
    if (!id || !session || token === undefined) {
      if (request.method === 'GET' && request.headers['x-console-partial'] === undefined) {
        return reply.redirect(`/admin/login?next=${encodeURIComponent(request.url)}`, 303);
      }
      return reply.code(401).type('text/html; charset=utf-8').send(loginPage('Your session has ended; sign in again.', '/admin').value);
    }
    request.consoleSession = { name: session.admin, token, csrf: csrfFor(id), sessionHash: session.hash };
    request.adminName = session.admin;
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
  const originOk = origin === undefined || (host !== undefined && hostOf(origin) === host);
  if (!s || !sent || !sameString(sent, s.csrf) || !originOk) {
    request.log.warn({ admin: s?.name, url: request.url }, 'console action refused: CSRF check failed');
    return reply.code(403).type('text/html; charset=utf-8').send(errorPageFor(request, 'This form has expired or did not come from the console. Reload the page and try again.'));
  }
}
