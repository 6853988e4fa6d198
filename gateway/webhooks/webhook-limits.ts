import type { FastifyRequest } from 'fastify';
import type { RateLimitOptions } from '@fastify/rate-limit';
import { OrderpilotError } from '../../services/contracts/index.ts';

/**
 * Storage from unauthenticated requests is bounded twice: rejected webhooks (bad signature, unreadable
 * body) are rate-limited per client address before they are stored, and deleted after a retention.
 */

/**
 * A webhook route's `config.rateLimit` (@fastify/rate-limit, registered with `global: false`): only
 * requests that are NOT genuine count — `genuine` checks the signature over the raw bytes — so a
 * provider's burst of signed webhooks is never slowed, while one address sending forgeries or
 * garbage gets 429 (nothing stored) beyond `perMinute`. Runs at preValidation: after the body is read,
 * before the unreadable-webhook hook and the route store anything.
 */
export function rejectedWebhookRateLimit(perMinute: number, genuine: (request: FastifyRequest) => boolean): RateLimitOptions {
  return {
    max: perMinute,
    timeWindow: 60_000,
    hook: 'preValidation',
    allowList: (request) => request.malformedWebhook === undefined && genuine(request),
    errorResponseBuilder: (_request, context) =>
      new OrderpilotError('RATE_LIMITED', `too many rejected webhooks from this address (more than ${context.max} a minute); retry in ${context.after}`, {
        retryAfterMs: context.ttl,
      }),
  };
}
