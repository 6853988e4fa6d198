import { mapPayuNotification, verifyPayuSignature } from '../webhooks/payu.adapter.ts';
import { paymentWebhookRoute } from './payment-webhook.route.ts';

/**
 * `POST /webhooks/payments/payu`: `OpenPayu-Signature` (MD5 or SHA256 over body + PAYU_SECOND_KEY),
 * stored in the webhook inbox, published, 200. COMPLETED → PAYMENT_CONFIRMED, CANCELED →
 * PAYMENT_FAILED, other statuses recorded only. The order is `order.extOrderId`.
 */
export const payuWebhookRoute = paymentWebhookRoute<unknown>({
  provider: 'payu',
  label: 'PayU',
  path: '/webhooks/payments/payu',
  summary: 'PayU notification endpoint',
  description: 'Signed with OpenPayu-Signature (PAYU_SECOND_KEY). Stored raw and forwarded to the order (a payment for a known order is published while it is stored); 200 once both are done, also for replays and unknown orders.',
  verify: ({ headers, body }, config) => {
    const v = verifyPayuSignature(body, headers['openpayu-signature'] ?? headers['x-openpayu-signature'], config.payuSecondKey);
    if (!v.ok) return v;
    try {
      return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
    } catch {
      return { ok: true, value: null };
    }
  },
  parseUnverified: ({ body }) => {
    try {
      return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
    } catch {
      return { ok: false, reason: 'the stored body is not JSON' };
    }
  },
  map: mapPayuNotification,
  unmapped: 'signed, but not a PayU order notification (no order.orderId / order.status)',
});
