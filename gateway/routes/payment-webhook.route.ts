import { createHash } from 'node:crypto';
import type { Config } from '../../infra/config.ts';
import type { FastifyRequest } from 'fastify';
import { sendError } from '../errors.ts';
import { rejectedWebhookRateLimit } from '../webhooks/webhook-limits.ts';
import type { GatewayRoute } from '../gateway.types.ts';
import { createPaymentMatcher, type PaymentDecision } from '../webhooks/payment-matcher.ts';
import type { ProviderEvent } from '../webhooks/payment.types.ts';
import { invalidDedupeKey, keepHeaders, type WebhookInput, type WebhookProcessor } from '../webhooks/webhook-inbox.ts';

/** What a payment provider's webhook request carries (the stored bytes on an admin replay). */
export type PaymentWebhookInput = WebhookInput;

export type Verified<T> = { ok: true; value: T } | { ok: false; reason: string };

/** One payment provider's webhook: how to verify a request and what it means (both pure). */
export interface PaymentWebhookSpec<T> {
  /** Provider name: the inbox's `provider`, the dedupe key's prefix and the events' actor. */
  provider: string;
  /** Name in messages to admins ("Stripe event evt_1 …"). */
  label: string;
  path: string;
  summary: string;
  description: string;
  /** Checks the signature over the raw bytes (every configured secret); `value` is what the mapping reads. */
  verify(input: PaymentWebhookInput, config: Config): Verified<T>;
  /** Reads the stored bytes without the signature check: only for an admin's forced replay. */
  parseUnverified(input: PaymentWebhookInput): Verified<T>;
  /** The provider event, or null for a signed request that is not a payment notification (recorded only). */
  map(value: T): ProviderEvent | null;
  /** The recorded detail for a signed request `map` does not understand. */
  unmapped?: string;
}

const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');

/**
 * `POST <path>` for one payment provider: verified over the raw body, stored in the webhook inbox
 * and forwarded to the order at once, 200 (also for replays and unknown orders); a bad signature is stored as
 * invalid and answered 400. The provider's processor is registered for admin replays.
 */
export function paymentWebhookRoute<T>(spec: PaymentWebhookSpec<T>): GatewayRoute {
  return async (app, ctx) => {
    const matcher = createPaymentMatcher({ ...ctx.deps, knownOrders: ctx.knownOrders });
    const { provider } = spec;

    // The rate limit verifies a request first (only rejected ones count); the route then takes that
    // verdict for the very same bytes instead of verifying (HMAC, parse) again.
    const verifiedBodies = new WeakMap<Buffer, T>();
    const decide = async (input: PaymentWebhookInput, verified?: T): Promise<PaymentDecision> => {
      let v: Verified<T> = verified === undefined ? spec.verify(input, ctx.deps.config) : { ok: true, value: verified };
      let forced: string | null = null;
      if (!v.ok && input.force === true) {
        // An admin vouches for a request whose signature failed: decide on its content, say so.
        forced = v.reason;
        v = spec.parseUnverified(input);
      }
      if (!v.ok) return { dedupeKey: invalidDedupeKey(provider, input.body), signature: 'invalid', verdict: 'invalid', detail: v.reason };
      const decision = await decideVerified(input, v.value);
      return forced === null ? decision : { ...decision, signature: 'invalid', detail: `forced by an admin despite: ${forced}; ${decision.detail ?? ''}` };
    };
    const processor: WebhookProcessor<PaymentDecision> = { decide: (input) => decide(input), messages: matcher.messages };
    async function decideVerified(input: PaymentWebhookInput, value: T): Promise<PaymentDecision> {
      const event = spec.map(value);
      if (event === null) {
        return { dedupeKey: `${provider}:sha256-${sha256(input.body)}`, signature: 'valid', verdict: 'recorded', detail: spec.unmapped ?? 'signed, but not a payment notification' };
      }
      // An event without an id is de-duplicated by its exact bytes.
      const eventId = event.eventId !== '' ? event.eventId : `sha256-${sha256(input.body)}`;
      return matcher.decide(provider, spec.label, `${provider}:${eventId}`, { ...event, eventId });
    }
    ctx.inbox.registerProcessor(provider, processor);

    const config = ctx.deps.config;
    const genuine = (request: FastifyRequest) => {
      const body = request.rawBody;
      const v = spec.verify({ headers: keepHeaders(request.headers), body: body ?? Buffer.alloc(0), replay: false }, config);
      if (v.ok && body !== undefined) verifiedBodies.set(body, v.value);
      return v.ok;
    };
    const routeOptions = { schema: { summary: spec.summary, description: spec.description, tags: ['webhooks'] }, config: { rateLimit: rejectedWebhookRateLimit(config.webhookInvalidRateLimit, genuine) } };
    app.post(spec.path, routeOptions, async (request, reply) => {
      const body = request.rawBody ?? Buffer.alloc(0);
      const decision = await decide({ headers: keepHeaders(request.headers), body, replay: false }, verifiedBodies.get(body));
      const { forward: _forward, unknownOrder: _unknownOrder, ...columns } = decision;
      const forwarded = matcher.forwarded(decision);
      if (forwarded.length > 0) {
        // A payment for its order: published while its row is inserted (the insert's commit is not
        // on the payment's way to the order); answered once both are done.
        const { stored } = await ctx.inbox.storeAndPublish({ provider, headers: request.headers, body, ...columns }, forwarded);
        return { received: true, webhookId: stored.id, verdict: stored.verdict, duplicate: !stored.isNew };
      }
      const stored = await ctx.inbox.store({ provider, headers: request.headers, body, ...columns });
      if (decision.verdict === 'invalid') return sendError(reply, 'SIGNATURE_INVALID', decision.detail ?? 'signature is invalid', { webhookId: stored.id });
      await ctx.inbox.publish(stored, processor.messages(decision, stored.id));
      return { received: true, webhookId: stored.id, verdict: stored.verdict, duplicate: !stored.isNew };
    });
  };
}
