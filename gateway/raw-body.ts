import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OrderpilotError, type ErrorCode } from '../services/contracts/index.ts';
import { findTextProblem, jsonCharsetProblem } from './hostile-text.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The exact bytes of a JSON request body (signature checks need them), set by the JSON parser. */
    rawBody?: Buffer;
    /**
     * A webhook body we cannot read (not JSON, another charset, text Postgres cannot hold, nesting too
     * deep): kept raw so the webhook inbox can store it before the 4xx.
     */
    malformedWebhook?: { code: ErrorCode; message: string };
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * A body the parser will not hand on. A webhook is stored raw even when it cannot be read (never
 * lost); the gateway's webhook hook answers the 4xx after storing it. Everything else is refused here.
 */
function refuseBody(request: FastifyRequest, done: (err: Error | null, body?: unknown) => void, code: ErrorCode, message: string): void {
  if (request.url.startsWith('/webhooks/')) {
    request.malformedWebhook = { code, message };
    return done(null, null);
  }
  done(new OrderpilotError(code, message));
}

/** Largest accepted body; bigger → 413 BODY_TOO_LARGE before it is read to the end. */
export const BODY_LIMIT = 1024 * 1024;

/**
 * Replaces Fastify's JSON parser with one that keeps the raw bytes on `request.rawBody` and answers
 * malformed JSON with 400 MALFORMED_JSON, a charset other than UTF-8 with 415, and text Postgres
 * cannot hold or nesting beyond MAX_JSON_DEPTH with 400 TEXT_INVALID. Other content types → 415.
 */
export function installJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(
    /^application\/([\w.+-]+\+)?json(\s*;.*)?$/i,
    { parseAs: 'buffer', bodyLimit: BODY_LIMIT },
    (request: FastifyRequest, body: Buffer | string, done: (err: Error | null, body?: unknown) => void) => {
      const buf = typeof body === 'string' ? Buffer.from(body) : body;
      request.rawBody = buf;
      // No closure per request: under tsx each one also costs a `__name` (Object.defineProperty) call.
      const charset = jsonCharsetProblem(request.headers['content-type']);
      if (charset !== null) return refuseBody(request, done, 'UNSUPPORTED_MEDIA_TYPE', charset);
      if (buf.length === 0) return refuseBody(request, done, 'MALFORMED_JSON', 'request body is empty; send JSON');
      let text: string;
      try {
        text = UTF8.decode(buf);
      } catch {
        return refuseBody(request, done, 'TEXT_INVALID', 'request body is not valid UTF-8');
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return refuseBody(request, done, 'MALFORMED_JSON', 'request body is not valid JSON');
      }
      const problem = findTextProblem(parsed, 'body');
      if (problem !== null) return refuseBody(request, done, 'TEXT_INVALID', `${problem.field} ${problem.message}`);
      done(null, parsed);
    },
  );
}
