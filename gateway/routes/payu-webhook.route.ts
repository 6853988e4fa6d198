import { createHash } from 'node:crypto';
import { sendError } from '../errors.ts';
import type { GatewayRoute } from '../gateway.types.ts';
import { createPaymentMatcher } from '../webhooks/payment-matcher.ts';
import { mapPayuNotification, verifyPayuSignature } from '../webhooks/payu.adapter.ts';
import { invalidDedupeKey, keepHeaders, type WebhookDecision, type WebhookProcessor } from '../webhooks/webhook-inbox.ts';

/**
 * `POST /webhooks/payments/payu`: `OpenPayu-Signature` (MD5 or SHA256 over body + PAYU_SECOND_KEY),
 * stored in the webhook inbox, published, 200. COMPLETED → PAYMENT_CONFIRMED, CANCELED →
 * PAYMENT_FAILED, other statuses recorded only. The order is `order.extOrderId`.
 */
export const payuWebhookRoute: GatewayRoute = async (app, ctx) => {
  const matcher = createPaymentMatcher(ctx.deps);

  const process: WebhookProcessor = async ({ headers, body }): Promise<WebhookDecision> => {
    const header = headers['openpayu-signature'] ?? headers['x-openpayu-signature'];
    const v = verifyPayuSignature(body, header, ctx.deps.config.payuSecondKey);
    if (!v.ok) return { dedupeKey: invalidDedupeKey('payu', body), signature: 'invalid', verdict: 'invalid', detail: v.reason };
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      parsed = null;
    }
    const event = mapPayuNotification(parsed);
    if (event === null) {
      const key = `payu:sha256-${createHash('sha256').update(body).digest('hex')}`;
      return { dedupeKey: key, signature: 'valid', verdict: 'recorded', detail: 'signed, but not a PayU order notification (no order.orderId / order.status)' };
    }
    return matcher.decide('payu', 'PayU', `payu:${event.eventId}`, event);
  };
  ctx.inbox.registerProcessor('payu', process);

  app.post(
    '/webhooks/payments/payu',
    {
      schema: {
        summary: 'PayU notification endpoint',
        description: 'Signed with OpenPayu-Signature (PAYU_SECOND_KEY). Stored raw, then published; 200 also for replays and unknown orders.',
        tags: ['webhooks'],
      },
    },
    async (request, reply) => {
      const body = request.rawBody ?? Buffer.alloc(0);
      const decision = await process({ headers: keepHeaders(request.headers), body, replay: false });
      const result = await ctx.inbox.receive({ provider: 'payu', headers: request.headers, body, ...decision });
      if (decision.verdict === 'invalid') return sendError(reply, 'SIGNATURE_INVALID', decision.detail ?? 'signature is invalid', { webhookId: result.id });
      return { received: true, webhookId: result.id, verdict: result.verdict, duplicate: !result.isNew };
    },
  );
};
