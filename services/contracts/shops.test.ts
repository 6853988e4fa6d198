import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signOrderpilotWebhook, signWooCommerceBody, verifyOrderpilotSignature, verifyWooCommerceSignature } from './shops.ts';

const body = '{"id":"e1","type":"order.status_changed","data":{"status":"processing"}}';

describe('Orderpilot-Signature (generic shop webhooks), as documented: t=<unix>,v1=hex HMAC-SHA256("<t>.<body>")', () => {
  it('is the documented HMAC, computed independently', () => {
    const t = 1_796_000_000;
    const v1 = createHmac('sha256', 'whsec-shop').update(`${t}.${body}`, 'utf8').digest('hex');
    expect(signOrderpilotWebhook('whsec-shop', body, t)).toBe(`t=${t},v1=${v1}`);
  });
  it('verifies the exact bytes within the tolerance; refuses another body, another secret, an old t; accepts any of several v1', () => {
    const t = 1_796_000_000;
    const h = signOrderpilotWebhook('whsec-shop', body, t);
    expect(verifyOrderpilotSignature('whsec-shop', body, h, t + 10)).toBe(true);
    expect(verifyOrderpilotSignature('whsec-shop', `${body} `, h, t)).toBe(false);
    expect(verifyOrderpilotSignature('other', body, h, t)).toBe(false);
    expect(verifyOrderpilotSignature('whsec-shop', body, h, t + 301)).toBe(false);
    expect(verifyOrderpilotSignature('whsec-shop', body, undefined, t)).toBe(false);
    const rotated = `${h},v1=${'0'.repeat(64)}`;
    expect(verifyOrderpilotSignature('whsec-shop', body, rotated, t)).toBe(true);
  });
});

describe('X-WC-Webhook-Signature (WooCommerce): base64 HMAC-SHA256 of the raw body', () => {
  it('matches an independent computation and fails on any change', () => {
    const expected = createHmac('sha256', 'woo-secret').update(body).digest('base64');
    expect(signWooCommerceBody('woo-secret', body)).toBe(expected);
    expect(verifyWooCommerceSignature('woo-secret', body, expected)).toBe(true);
    expect(verifyWooCommerceSignature('woo-secret', `${body}\n`, expected)).toBe(false);
    expect(verifyWooCommerceSignature('other', body, expected)).toBe(false);
    expect(verifyWooCommerceSignature('woo-secret', body, 'garbage')).toBe(false);
  });
});
