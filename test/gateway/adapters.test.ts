import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import Stripe from 'stripe';
import { mapStripeEvent, verifyStripe } from '../../gateway/webhooks/stripe.adapter.ts';
import { mapPayuNotification, verifyPayuSignature } from '../../gateway/webhooks/payu.adapter.ts';
import { describeValidation } from '../../gateway/errors.ts';

describe('Stripe adapter (pure)', () => {
  it('maps event types to payment outcomes', () => {
    expect(mapStripeEvent('checkout.session.completed', { payment_status: 'paid', amount_total: 100, currency: 'pln', payment_intent: 'pi_1', metadata: { order_id: 'o1' } })).toEqual({ kind: 'confirmed', ref: 'o1', paymentId: 'pi_1', amount: 100, currency: 'PLN' });
    expect(mapStripeEvent('checkout.session.completed', { payment_status: 'unpaid', client_reference_id: 'o1' }).kind).toBe('ignored');
    expect(mapStripeEvent('payment_intent.succeeded', { id: 'pi', amount: 5, amount_received: 5, currency: 'eur', metadata: { order_id: 'x' } })).toMatchObject({ kind: 'confirmed', amount: 5, currency: 'EUR' });
    expect(mapStripeEvent('checkout.session.expired', { client_reference_id: 'o2' })).toMatchObject({ kind: 'failed', ref: 'o2' });
    expect(mapStripeEvent('invoice.paid', {}).kind).toBe('ignored');
  });

  it('takes the payment method when Stripe names exactly one (for the invoice), else none', () => {
    const session = { payment_status: 'paid', amount_total: 100, currency: 'pln', payment_intent: 'pi_1', metadata: { order_id: 'o1' } };
    expect(mapStripeEvent('checkout.session.completed', { ...session, payment_method_types: ['blik'] })).toMatchObject({ kind: 'confirmed', method: 'blik' });
    expect(mapStripeEvent('payment_intent.succeeded', { id: 'pi', amount_received: 5, currency: 'pln', payment_method_types: ['card'], metadata: { order_id: 'x' } })).toMatchObject({ method: 'card' });
    expect(mapStripeEvent('checkout.session.completed', { ...session, payment_method_types: ['card', 'p24'] })).not.toHaveProperty('method');
  });

  it('verifies with any configured secret and names why it failed', () => {
    const payload = JSON.stringify({ id: 'evt_1', object: 'event', type: 'payment_intent.succeeded', data: { object: {} } });
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_b' });
    expect(verifyStripe(Buffer.from(payload), header, ['whsec_a', 'whsec_b'])).toMatchObject({ ok: true, event: { eventId: 'evt_1' } });
    expect(verifyStripe(Buffer.from(payload), header, ['whsec_a'])).toEqual({ ok: false, reason: 'signature does not match' });
    expect(verifyStripe(Buffer.from(payload), undefined, ['whsec_a'])).toEqual({ ok: false, reason: 'Stripe-Signature header is missing' });
    expect(verifyStripe(Buffer.from(payload), header, [])).toEqual({ ok: false, reason: 'STRIPE_WEBHOOK_SECRET is not configured' });
    const old = Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_a', timestamp: Math.floor(Date.now() / 1000) - 301 });
    expect(verifyStripe(Buffer.from(payload), old, ['whsec_a'])).toEqual({ ok: false, reason: 'signature timestamp is outside the 5-minute tolerance' });
  });
});

describe('PayU adapter (pure)', () => {
  const body = Buffer.from('{"order":{"orderId":"P1","extOrderId":"E1","status":"COMPLETED","totalAmount":"200","currencyCode":"PLN"}}');
  const key = 'b6ca15b0d1020e8094d9b5f8d163db54';
  it('checks MD5 and SHA256 signatures over body + second key', () => {
    const md5 = createHash('md5').update(Buffer.concat([body, Buffer.from(key)])).digest('hex');
    const sha = createHash('sha256').update(Buffer.concat([body, Buffer.from(key)])).digest('hex');
    expect(verifyPayuSignature(body, `sender=checkout;signature=${md5};algorithm=MD5;content=DOCUMENT`, key)).toEqual({ ok: true });
    expect(verifyPayuSignature(body, `sender=checkout;signature=${sha};algorithm=SHA256;content=DOCUMENT`, key)).toEqual({ ok: true });
    expect(verifyPayuSignature(body, `signature=${md5};algorithm=SHA256`, key).ok).toBe(false);
    expect(verifyPayuSignature(body, `signature=${md5};algorithm=CRC32`, key).ok).toBe(false);
    expect(verifyPayuSignature(body, undefined, key).ok).toBe(false);
    expect(verifyPayuSignature(body, `signature=${md5}`, undefined).ok).toBe(false);
  });
  it('maps statuses and keys the event by PayU order and status', () => {
    expect(mapPayuNotification(JSON.parse(body.toString()))).toEqual({ eventId: 'P1:COMPLETED', eventType: 'COMPLETED', notice: { kind: 'confirmed', ref: 'E1', paymentId: 'P1', amount: 200, currency: 'PLN' } });
    expect(mapPayuNotification({ order: { orderId: 'P1', extOrderId: 'E1', status: 'CANCELED' } })?.notice.kind).toBe('failed');
    expect(mapPayuNotification({ order: { orderId: 'P1', extOrderId: 'E1', status: 'PENDING' } })?.notice.kind).toBe('ignored');
    expect(mapPayuNotification({ nope: true })).toBeNull();
  });
  it('takes the payment method from order.payMethod.type (CARD_TOKEN is a card)', () => {
    const order = { orderId: 'P1', extOrderId: 'E1', status: 'COMPLETED', totalAmount: '200', currencyCode: 'PLN' };
    expect(mapPayuNotification({ order: { ...order, payMethod: { type: 'CARD_TOKEN' } } })?.notice).toMatchObject({ kind: 'confirmed', method: 'card' });
    expect(mapPayuNotification({ order: { ...order, payMethod: { type: 'PBL' } } })?.notice).toMatchObject({ method: 'pbl' });
  });
});

describe('validation messages', () => {
  it('names each bad and each missing field', () => {
    expect(
      describeValidation('body', [
        { instancePath: '', params: { requiredProperties: ['a', 'b'] }, message: 'must have required properties a, b' },
        { instancePath: '/lines/0/quantity', message: 'must be >= 1' },
      ]),
    ).toEqual([
      { field: 'body.a', message: 'is required' },
      { field: 'body.b', message: 'is required' },
      { field: 'body.lines.0.quantity', message: 'must be >= 1' },
    ]);
  });
});
