import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OrderpilotError } from '../services/contracts/index.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The exact bytes of a JSON request body (signature checks need them), set by the JSON parser. */
    rawBody?: Buffer;
    /** A webhook body that is not JSON: kept raw so the webhook inbox can store it before the 400. */
    malformedWebhook?: string;
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
      const problem = buf.length === 0 ? 'request body is empty; send JSON' : null;
      let parsed: unknown;
      try {
        if (problem === null) parsed = JSON.parse(buf.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      if (problem === null && parsed !== undefined) return done(null, parsed);
      const message = problem ?? 'request body is not valid JSON';
      // A webhook is stored raw even when it is not JSON (never lost); the gateway's webhook hook
      // answers 400 after storing it. Everything else is refused here.
      if (request.url.startsWith('/webhooks/')) {
        request.malformedWebhook = message;
        return done(null, null);
      }
      done(new OrderpilotError('MALFORMED_JSON', message));
    },
  );
}
