import { SAMPLE_ADDRESS } from '../support/orders.ts';
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Envelope } from '../../services/contracts/index.ts';
import { payuSignature } from '../../gateway/webhooks/payu.adapter.ts';

export const STRIPE_SECRET = 'whsec_test_primary_0123456789';
export const STRIPE_OLD_SECRET = 'whsec_test_rotated_out_98765';
export const PAYU_KEY = 'payu-second-key-0123456789abcdef';
export const ADMIN_TOKENS = 'alice:alice-token-0123456789,bob:bob-token-0123456789ab';
export const ALICE = { authorization: 'Bearer alice-token-0123456789' };

/** Two shops; acme has two keys at once (rotation). */
export const ACME_KEY = 'acme-key-0123456789abcdef0123456789';
export const ACME_NEW_KEY = 'acme-key-rotated-in-0123456789abcdef';
export const OTHER_SHOP_KEY = 'other-shop-key-0123456789abcdef01234';
export const SHOP_KEYS = `acme:${ACME_KEY},acme:${ACME_NEW_KEY},other:${OTHER_SHOP_KEY}`;
/** The headers of shop acme on POST /orders. */
export const SHOP = { authorization: `Bearer ${ACME_KEY}` };
export const OTHER_SHOP = { authorization: `Bearer ${OTHER_SHOP_KEY}` };

export const GATEWAY_ENV = {
  ADMIN_TOKENS,
  SHOP_KEYS,
  STRIPE_WEBHOOK_SECRET: `${STRIPE_SECRET},${STRIPE_OLD_SECRET}`,
  PAYU_SECOND_KEY: PAYU_KEY,
  PORT: '0',
};

/** A valid POST /orders body: 2 × 25.00 + 15.00 shipping = 65.00 PLN. */
export function intakeBody(over: Record<string, unknown> = {}) {
  const address = SAMPLE_ADDRESS;
  return {
    externalId: `SHOP-${randomUUID().slice(0, 8)}`,
    currency: 'PLN',
    customer: { email: 'jan@example.com', name: 'Jan Kowalski' },
    billingAddress: address,
    shippingAddress: address,
    lines: [{ sku: 'SKU-1', name: 'Kubek', quantity: 2, unitPrice: 2500, taxRate: 23 }],
    shippingPrice: 1500,
    total: 6500,
    ...over,
  };
}

/** A Stripe event body, signed with the stripe package's own test-header generator. */
export function stripeEvent(type: string, object: Record<string, unknown>, opts: { id?: string; secret?: string; timestamp?: number } = {}) {
  const payload = JSON.stringify({ id: opts.id ?? `evt_${randomUUID().replace(/-/g, '')}`, object: 'event', api_version: '2025-01-27', created: Math.floor(Date.now() / 1000), type, data: { object } });
  const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? STRIPE_SECRET, ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}) });
  return { payload, headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': header } };
}

export function paidSession(orderRef: string, amount = 6500, currency = 'pln') {
  return { id: `cs_${randomUUID().slice(0, 8)}`, object: 'checkout.session', payment_status: 'paid', amount_total: amount, currency, payment_intent: `pi_${randomUUID().slice(0, 8)}`, client_reference_id: null, metadata: { order_id: orderRef } };
}

/** A PayU notification signed per PayU's scheme: hash(body + second key). */
export function payuNotification(extOrderId: string, status: string, opts: { amount?: string; currency?: string; algorithm?: 'MD5' | 'SHA256'; key?: string; payuOrderId?: string; payMethod?: string } = {}) {
  const payload = JSON.stringify({
    order: {
      orderId: opts.payuOrderId ?? `PAYU${randomUUID().slice(0, 8).toUpperCase()}`,
      extOrderId,
      orderCreateDate: new Date().toISOString(),
      notifyUrl: 'http://shop/notify',
      merchantPosId: '145227',
      description: 'order',
      currencyCode: opts.currency ?? 'PLN',
      totalAmount: opts.amount ?? '6500',
      status,
      products: [{ name: 'Kubek', unitPrice: '2500', quantity: '2' }],
      ...(opts.payMethod ? { payMethod: { type: opts.payMethod } } : {}),
    },
    localReceiptDateTime: new Date().toISOString(),
    properties: [{ name: 'PAYMENT_ID', value: '151471228' }],
  });
  const algorithm = opts.algorithm ?? 'MD5';
  const signature = payuSignature(payload, opts.key ?? PAYU_KEY, algorithm);
  return { payload, headers: { 'content-type': 'application/json', 'openpayu-signature': `sender=checkout;signature=${signature};algorithm=${algorithm};content=DOCUMENT` } };
}

/** Every message currently stored in a stream (tests keep streams small). */
export async function streamMessages(nc: NatsConnection, stream: string): Promise<Array<{ subject: string; msgId: string | undefined; env: Envelope }>> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const out: Array<{ subject: string; msgId: string | undefined; env: Envelope }> = [];
  if (info.state.messages === 0) return out;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m) out.push({ subject: m.subject, msgId: m.header?.get('Nats-Msg-Id'), env: m.json<Envelope>() });
  }
  return out;
}
