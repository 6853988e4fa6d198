import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, httpStatusOf, isOrderpilotError, type ErrorCode } from '../services/contracts/index.ts';
import { isRetryableDbError } from '../infra/db/postgres.ts';
import { escapeHtml } from './console/html.ts';

/**
 * The gateway's one error handler: every error becomes `{ error: { code, message, details? } }` with
 * the HTTP status of its code in the taxonomy (services/contracts/errors.ts). Never a stack trace.
 */

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export interface FieldProblem {
  field: string;
  message: string;
}

interface SchemaIssue {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** `body/customer/email: must match format "email"` for each bad field (missing ones named too). */
export function describeValidation(context: string, issues: readonly SchemaIssue[]): FieldProblem[] {
  const seen = new Set<string>();
  const out: FieldProblem[] = [];
  for (const i of issues) {
    const path = (i.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
    const missing = i.params?.['requiredProperties'] ?? i.params?.['missingProperty'];
    const names = Array.isArray(missing) ? missing.map(String) : typeof missing === 'string' ? [missing] : [];
    if (names.length > 0) {
      for (const n of names) {
        const field = [context, path, n].filter((s) => s !== '').join('.');
        if (!seen.has(field)) {
          seen.add(field);
          out.push({ field, message: 'is required' });
        }
      }
      continue;
    }
    const field = [context, path].filter((s) => s !== '').join('.');
    const key = `${field}:${i.message ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ field, message: i.message ?? 'is invalid' });
  }
  return out.slice(0, 50);
}

export function errorBody(code: ErrorCode, message: string, details?: unknown): ErrorBody {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}

/** Console pages (not the admin API) answer errors as a small HTML page, everything else as JSON. */
export function isConsolePath(url: string): boolean {
  return (url === '/admin' || url.startsWith('/admin/') || url.startsWith('/admin?')) && !url.startsWith('/admin/api');
}

function errorHtml(status: number, message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>orderpilot — ${status}</title></head><body><h1>Request refused</h1><p>${escapeHtml(message)}</p><p><a href="/admin">Back to the console</a></p></body></html>`;
}

/** A taxonomy error in the format the requested area speaks: HTML for console pages, JSON elsewhere. */
export function sendErrorFor(request: FastifyRequest, reply: FastifyReply, code: ErrorCode, message: string, details?: unknown): FastifyReply {
  const status = httpStatusOf(code);
  if (isConsolePath(request.url)) return reply.code(status).type('text/html; charset=utf-8').send(errorHtml(status, message));
  return reply.code(status).send(errorBody(code, message, details));
}

/** Sends a taxonomy error (for handlers that answer an error without throwing). */
export function sendError(reply: FastifyReply, code: ErrorCode, message: string, details?: unknown): FastifyReply {
  return reply.code(httpStatusOf(code)).send(errorBody(code, message, details));
}

function fromFastify(err: FastifyError): { code: ErrorCode; message: string; details?: unknown } | null {
  if (err.validation) {
    const problems = describeValidation(err.validationContext ?? 'body', err.validation as SchemaIssue[]);
    return {
      code: 'VALIDATION_FAILED',
      message: `invalid request: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`,
      details: { fields: problems },
    };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'BODY_TOO_LARGE', message: 'request body is larger than the 1 MiB limit' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send the body as application/json' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { code: 'MALFORMED_JSON', message: 'request body is not valid JSON' };
    default:
      break;
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    const byStatus: Partial<Record<number, ErrorCode>> = { 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 413: 'BODY_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE' };
    const code = byStatus[err.statusCode] ?? 'MALFORMED_MESSAGE';
    return { code, message: err.message };
  }
  return null;
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (isOrderpilotError(err)) {
      const status = httpStatusOf(err.code);
      if (status >= 500) request.log.error({ code: err.code, err: err.message }, 'request failed');
      else request.log.info({ code: err.code, msg: err.message }, 'request rejected');
      if (err.retryable && err.retryAfterMs !== undefined) reply.header('retry-after', Math.ceil(err.retryAfterMs / 1000));
      return sendErrorFor(request, reply, err.code, err.message, err.details);
    }
    const mapped = fromFastify(err);
    if (mapped) {
      request.log.info({ code: mapped.code, msg: mapped.message }, 'request rejected');
      return sendErrorFor(request, reply, mapped.code, mapped.message, mapped.details);
    }
    if (isRetryableDbError(err)) {
      request.log.error({ err: err.message, dbCode: err.code }, 'database unavailable');
      return reply.code(ERROR_CODES.DB_UNAVAILABLE.httpStatus).header('retry-after', 1).send(errorBody('DB_UNAVAILABLE', 'database is unavailable, try again'));
    }
    request.log.error({ err }, 'unexpected error');
    return reply.code(500).send(errorBody('INTERNAL', 'internal error'));
  });
  app.setNotFoundHandler((request, reply) => {
    sendErrorFor(request, reply, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`);
  });
}
