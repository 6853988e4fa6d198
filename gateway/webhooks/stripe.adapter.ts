import Stripe from 'stripe';
import type { PaymentNotice, ProviderEvent } from './payment.types.ts';

/** Stripe's default and our tolerance for the signature timestamp (seconds). */
export const STRIPE_TOLERANCE_S = 300;

export type StripeVerification = { ok: true; event: ProviderEvent } | { ok: false; reason: string };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/**
 * How the customer paid, when Stripe says it unambiguously: the one entry of `payment_method_types`
 * (a checkout session or payment intent offering several does not say which was used).
 */
function methodOf(o: Obj): { method?: string } {
  const types = Array.isArray(o['payment_method_types']) ? o['payment_method_types'].filter((t): t is string => typeof t === 'string' && t !== '') : [];
  const only = types.length === 1 ? types[0] : undefined;
  return only !== undefined ? { method: only.toLowerCase().slice(0, 50) } : {};
}

function orderRef(o: Obj): string | null {
  const md = isObj(o['metadata']) ? o['metadata'] : {};
  return str(md['order_id']) ?? str(o['client_reference_id']);
}

/** Maps a (verified) Stripe event to what it means for an order. Pure. */
export function mapStripeEvent(type: string, object: unknown): PaymentNotice {
  const o = isObj(object) ? object : {};
  const ref = orderRef(o);
  const currency = (str(o['currency']) ?? '').toUpperCase();
  switch (type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded':
      if (type === 'checkout.session.completed' && o['payment_status'] !== 'paid') {
        return { kind: 'ignored', ref, reason: `checkout session completed with payment_status ${String(o['payment_status'])}` };
      }
      return {
        kind: 'confirmed',
        ref,
        paymentId: str(o['payment_intent']) ?? str(o['id']) ?? 'unknown',
        amount: typeof o['amount_total'] === 'number' ? o['amount_total'] : -1,
        currency,
        ...methodOf(o),
      };
    case 'payment_intent.succeeded':
      return {
        kind: 'confirmed',
        ref,
        paymentId: str(o['id']) ?? 'unknown',
        amount: typeof o['amount_received'] === 'number' ? o['amount_received'] : typeof o['amount'] === 'number' ? o['amount'] : -1,
        currency,
        ...methodOf(o),
      };
    case 'payment_intent.payment_failed': {
      const err = isObj(o['last_payment_error']) ? o['last_payment_error'] : {};
      return { kind: 'failed', ref, paymentId: str(o['id']), reason: str(err['message']) ?? str(err['code']) ?? 'payment failed' };
    }
    case 'checkout.session.async_payment_failed':
      return { kind: 'failed', ref, paymentId: str(o['payment_intent']), reason: 'asynchronous payment failed' };
    case 'checkout.session.expired':
      return { kind: 'failed', ref, paymentId: str(o['payment_intent']), reason: 'checkout session expired' };
    default:
      return { kind: 'ignored', ref, reason: `event type ${type} is not a payment outcome` };
  }
}

/**
 * Verifies `Stripe-Signature` over the exact bytes with the official package, trying every secret
 * (rotation), and maps the event. `toleranceS` is the allowed timestamp age (an admin replay passes
 * the age of the stored request plus the tolerance: staleness is judged against when it arrived).
 */
export function verifyStripe(body: Buffer, header: string | undefined, secrets: readonly string[], toleranceS = STRIPE_TOLERANCE_S): StripeVerification {
  if (secrets.length === 0) return { ok: false, reason: 'STRIPE_WEBHOOK_SECRET is not configured' };
  if (!header) return { ok: false, reason: 'Stripe-Signature header is missing' };
  for (const secret of secrets) {
    try {
      const event = Stripe.webhooks.constructEvent(body, header, secret, toleranceS);
      const e = event as unknown as { id: string; type: string; data?: { object?: unknown } };
      return { ok: true, event: { eventId: e.id, eventType: e.type, notice: mapStripeEvent(e.type, e.data?.object) } };
    } catch {
      // try the next secret (rotation)
    }
  }
  // Say why without parsing the library's message text: a stale timestamp is visible in the header.
  const t = /(?:^|,)\s*t=(\d+)/.exec(header)?.[1];
  if (t !== undefined && Math.abs(Date.now() / 1000 - Number(t)) > toleranceS) {
    return { ok: false, reason: 'signature timestamp is outside the 5-minute tolerance' };
  }
  return { ok: false, reason: 'signature does not match' };
}

/**
 * A stored Stripe event read WITHOUT checking its signature — only for an admin's forced replay of a
 * request whose signature failed on arrival (the admin vouches for it; the row keeps `invalid`).
 */
export function parseStripeUnverified(body: Buffer): StripeVerification {
  let e: unknown;
  try {
    e = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'the stored body is not JSON' };
  }
  if (!isObj(e) || typeof e['id'] !== 'string' || typeof e['type'] !== 'string') return { ok: false, reason: 'the stored body is not a Stripe event (id, type)' };
  const data = isObj(e['data']) ? e['data'] : {};
  return { ok: true, event: { eventId: e['id'], eventType: e['type'], notice: mapStripeEvent(e['type'], data['object']) } };
}

/** The tolerance for a signature timestamp: 5 minutes, judged against the request's arrival on a replay. */
export function stripeToleranceS(receivedAt: Date | undefined, now = Date.now()): number {
  return receivedAt === undefined ? STRIPE_TOLERANCE_S : Math.max(0, Math.ceil((now - receivedAt.getTime()) / 1000)) + STRIPE_TOLERANCE_S;
}
