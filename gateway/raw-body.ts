import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OrderpilotError } from '../services/contracts/index.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The exact bytes of a JSON request body (signature checks need them), set by the JSON parser. */
    rawBody?: Buffer;
  }
}

/** Largest accepted body; bigger → 413 BODY_TOO_LARGE before it is read to the end. */
export const BODY_LIMIT = 1024 * 1024;

/**
 * Replaces Fastify's JSON parser with one that keeps the raw bytes on `request.rawBody` and answers
 * malformed JSON with 400 MALFORMED_JSON. Other content types → 415.
 */
export function installJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(
    /^application\/([\w.+-]+\+)?json(\s*;.*)?$/i,
    { parseAs: 'buffer', bodyLimit: BODY_LIMIT },
    (request: FastifyRequest, body: Buffer | string, done: (err: Error | null, body?: unknown) => void) => {
      const buf = typeof body === 'string' ? Buffer.from(body) : body;
      request.rawBody = buf;
      if (buf.length === 0) return done(new OrderpilotError('MALFORMED_JSON', 'request body is empty; send JSON'));
      try {
        done(null, JSON.parse(buf.toString('utf8')));
      } catch {
        done(new OrderpilotError('MALFORMED_JSON', 'request body is not valid JSON'));
      }
    },
  );
}
