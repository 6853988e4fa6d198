import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createAdminApiClient, type AdminApiClient } from './admin-api.client.ts';
import { one, type Form } from './console-form.ts';
import { errorPage, layout, type PageFrame } from './console.pages.ts';
import type { Html } from './html.ts';

/**
 * What every console page plugin uses to answer: the page frame for the signed-in admin, the full
 * page or only its `#live` part, an error page, and the admin API client acting as that admin.
 */

/** The frame of a page for the signed-in admin; `?ok=` / `?error=` after a redirect become the flash. */
export function frame(request: FastifyRequest, f: Omit<PageFrame, 'admin' | 'csrf'>): PageFrame {
  const s = request.consoleSession as NonNullable<FastifyRequest['consoleSession']>;
  const q = request.query as Form;
  const flash = one(q['ok']) ? { kind: 'info' as const, text: one(q['ok']) } : one(q['error']) ? { kind: 'error' as const, text: one(q['error']) } : null;
  return { ...f, admin: s.name, csrf: s.csrf, flash: f.flash ?? flash };
}

/** An error page, inside the console's frame when the admin is signed in. */
export function errorPageFor(request: FastifyRequest, message: string): string {
  const s = request.consoleSession;
  if (!s) return errorPage(message).value;
  return layout({ title: 'Error', admin: s.name, csrf: s.csrf, nav: 'attention', live: null }, errorPage(message)).value;
}

/** Answers with an error page and a status. */
export function sendErrorPage(request: FastifyRequest, reply: FastifyReply, status: number, message: string) {
  return reply.code(status).type('text/html; charset=utf-8').send(errorPageFor(request, message));
}

/** Full page, or only the `#live` part when the console script refreshes after a change. */
export function sendPage(request: FastifyRequest, reply: FastifyReply, f: PageFrame, body: Html) {
  reply.header('cache-control', 'no-store').type('text/html; charset=utf-8');
  if (request.headers['x-console-partial'] !== undefined) {
    const full = layout(f, body).value;
    const start = full.indexOf('<main id="live">') + '<main id="live">'.length;
    return reply.send(full.slice(start, full.lastIndexOf('</main>')));
  }
  return reply.send(layout(f, body).value);
}

/** The admin API as the signed-in admin (in-process `inject`, the admin's own token). */
export function adminApi(app: FastifyInstance, request: FastifyRequest): AdminApiClient {
  return createAdminApiClient(app, (request.consoleSession as { token: string }).token);
}

/** The signed-in admin's CSRF token, for the forms a page renders. */
export const csrfOf = (request: FastifyRequest): string => request.consoleSession?.csrf ?? '';
