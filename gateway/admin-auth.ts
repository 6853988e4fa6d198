/**
 * Admin authentication: `Authorization: Bearer <token>` checked against ADMIN_TOKENS (`name:token`).
 * Tokens are compared in constant time (every configured token is compared, digests of equal
 * length), so timing tells nothing about which token or how much of it matched.
 * No header → 401 UNAUTHENTICATED; a wrong token → 403 FORBIDDEN; right → `request.adminName` is
 * the admin's name (record it as the `actor` of what they cause).
 *
 * How to use it in a route plugin (an encapsulated scope, so the hook guards only that plugin):
 *
 *   const plugin: GatewayRoute = async (app, ctx) => {
 *     app.addHook('onRequest', adminAuthHook(ctx.deps.config.adminTokens));
 *     app.get('/admin/api/things', async (request) => ({ by: request.adminName }));
 *   };
 *
 * For another credential carrier (e.g. a console session cookie) call `matchAdminToken(tokens, raw)`
 * yourself: it returns the admin's name or null.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { AdminToken } from '../infra/config.ts';
import { OrderpilotError } from '../services/contracts/index.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated admin's name (set by adminAuthHook), else undefined. */
    adminName?: string;
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Whether two secrets are equal, in constant time (digests of equal length are compared). */
export function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The admin whose token equals `presented` (constant time over all tokens), or null. */
export function matchAdminToken(tokens: readonly AdminToken[], presented: string): string | null {
  const p = digest(presented);
  let found: string | null = null;
  for (const t of tokens) {
    // No early exit: every token is compared whatever matched before.
    if (timingSafeEqual(p, digest(t.token)) && found === null) found = t.name;
  }
  return found;
}

/** The bearer token of a request, or null when there is none. */
export function bearerToken(request: FastifyRequest): string | null {
  const h = request.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1] ?? null;
}

/** An onRequest hook that requires a valid admin bearer token and sets `request.adminName`. */
export function adminAuthHook(tokens: readonly AdminToken[]): onRequestAsyncHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const token = bearerToken(request);
    if (token === null) {
      reply.header('www-authenticate', 'Bearer realm="orderpilot-admin"');
      throw new OrderpilotError('UNAUTHENTICATED', 'admin API needs "Authorization: Bearer <token>"');
    }
    const name = matchAdminToken(tokens, token);
    if (name === null) {
      request.log.warn({ ip: request.ip, url: request.url }, 'admin API: wrong token');
      throw new OrderpilotError('FORBIDDEN', 'this token is not an admin token');
    }
    request.adminName = name;
  };
}
