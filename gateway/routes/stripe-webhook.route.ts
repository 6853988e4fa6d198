import { createHash } from 'node:crypto';
import { sendError } from '../errors.ts';
import type { GatewayRoute } from '../gateway.types.ts';
import { createPaymentMatcher } from '../webhooks/payment-matcher.ts';
import { verifyStripe, STRIPE_TOLERANCE_S } from '../webhooks/stripe.adapter.ts';
import { invalidDedupeKey, keepHeaders, type WebhookDecision, type WebhookProcessor } from '../webhooks/webhook-inbox.ts';

/** Replays re-verify stored bytes; the timestamp was checked when the request arrived. */
const REPLAY_TOLERANCE_S = 10 * 365 * 24 * 3600;

/**
 * `POST /webhooks/payments/stripe`: verified with the official `stripe` package over the raw body
 * (every STRIPE_WEBHOOK_SECRET is tried: rotation), stored in the webhook inbox, published, 200.
 */
export const stripeWebhookRoute: GatewayRoute = async (app, ctx) => {
  const matcher = createPaymentMatcher(ctx.deps);
  const secrets = ctx.deps.config.stripeWebhookSecrets;

  const process: WebhookProcessor = async ({ headers, body, replay }): Promise<WebhookDecision> => {
    const v = verifyStripe(body, headers['stripe-signature'], secrets, replay ? REPLAY_TOLERANCE_S : STRIPE_TOLERANCE_S);
    if (!v.ok) return { dedupeKey: invalidDedupeKey('stripe', body), signature: 'invalid', verdict: 'invalid', detail: v.reason };
    const eventId = typeof v.event.eventId === 'string' && v.event.eventId !== '' ? v.event.eventId : `sha256-${createHash('sha256').update(body).digest('hex')}`;
    return matcher.decide('stripe', 'Stripe', `stripe:${eventId}`, { ...v.event, eventId });
  };
  ctx.inbox.registerProcessor('stripe', process);

  app.post(
    '/webhooks/payments/stripe',
    {
      schema: {
        summary: 'Stripe webhook endpoint',
        description: 'Signed with Stripe-Signature (STRIPE_WEBHOOK_SECRET, 5-minute tolerance). Stored raw, then published; 200 also for replays and unknown orders.',
        tags: ['webhooks'],
      },
    },
    async (request, reply) => {
      const body = request.rawBody ?? Buffer.alloc(0);
      const decision = await process({ headers: keepHeaders(request.headers), body, replay: false });
      const result = await ctx.inbox.receive({ provider: 'stripe', headers: request.headers, body, ...decision });
      if (decision.verdict === 'invalid') return sendError(reply, 'SIGNATURE_INVALID', decision.detail ?? 'signature is invalid', { webhookId: result.id });
      return { received: true, webhookId: result.id, verdict: result.verdict, duplicate: !result.isNew };
    },
  );
};
