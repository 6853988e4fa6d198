import type { ProviderEvent } from '../webhooks/payment.types.ts';
import { parseStripeUnverified, stripeToleranceS, verifyStripe } from '../webhooks/stripe.adapter.ts';
import { paymentWebhookRoute } from './payment-webhook.route.ts';

/**
 * `POST /webhooks/payments/stripe`: verified with the official `stripe` package over the raw body
 * (every STRIPE_WEBHOOK_SECRET is tried: rotation), stored in the webhook inbox and published, 200.
 */
export const stripeWebhookRoute = paymentWebhookRoute<ProviderEvent>({
  provider: 'stripe',
  label: 'Stripe',
  path: '/webhooks/payments/stripe',
  summary: 'Stripe webhook endpoint',
  description: 'Signed with Stripe-Signature (STRIPE_WEBHOOK_SECRET, 5-minute tolerance). Stored raw and forwarded to the order (a payment for a known order is published while it is stored); 200 once both are done, also for replays and unknown orders.',
  // A replay re-verifies the stored bytes with the 5-minute tolerance measured from their arrival.
  verify: ({ headers, body, replay, receivedAt }, config) => {
    const v = verifyStripe(body, headers['stripe-signature'], config.stripeWebhookSecrets, stripeToleranceS(replay ? receivedAt : undefined));
    return v.ok ? { ok: true, value: v.event } : v;
  },
  parseUnverified: ({ body }) => {
    const v = parseStripeUnverified(body);
    return v.ok ? { ok: true, value: v.event } : v;
  },
  map: (event) => event,
});
