import type { ProviderEvent } from '../webhooks/payment.types.ts';
import { verifyStripe, STRIPE_TOLERANCE_S } from '../webhooks/stripe.adapter.ts';
import { paymentWebhookRoute } from './payment-webhook.route.ts';

/** Replays re-verify stored bytes; the timestamp was checked when the request arrived. */
const REPLAY_TOLERANCE_S = 10 * 365 * 24 * 3600;

/**
 * `POST /webhooks/payments/stripe`: verified with the official `stripe` package over the raw body
 * (every STRIPE_WEBHOOK_SECRET is tried: rotation), stored in the webhook inbox, published, 200.
 */
export const stripeWebhookRoute = paymentWebhookRoute<ProviderEvent>({
  provider: 'stripe',
  label: 'Stripe',
  path: '/webhooks/payments/stripe',
  summary: 'Stripe webhook endpoint',
  description: 'Signed with Stripe-Signature (STRIPE_WEBHOOK_SECRET, 5-minute tolerance). Stored raw, then published; 200 also for replays and unknown orders.',
  verify: ({ headers, body, replay }, config) => {
    const v = verifyStripe(body, headers['stripe-signature'], config.stripeWebhookSecrets, replay ? REPLAY_TOLERANCE_S : STRIPE_TOLERANCE_S);
    return v.ok ? { ok: true, value: v.event } : v;
  },
  map: (event) => event,
});
