import { OrderpilotError } from '../contracts/index.ts';
import type { NotificationChannel } from './channel.port.ts';
import { renderBatch, type FormatOptions } from './notification.format.ts';

export interface WebhookChannelOptions extends FormatOptions {
  url: string;
  timeoutMs?: number;
}

/**
 * Posts each batch as JSON to ADMIN_WEBHOOK_URL. `text` makes it a valid Slack incoming-webhook
 * message; `notifications` carries the structured data for other receivers.
 */
export function createWebhookChannel(o: WebhookChannelOptions): NotificationChannel {
  return {
    name: 'webhook',
    async send(batch) {
      const { subject, text } = renderBatch(batch, o);
      const body = JSON.stringify({
        text: `*${subject}*\n${text}`,
        notifications: batch.map((n) => ({
          id: n.id,
          kind: n.kind,
          severity: n.severity,
          code: n.code,
          orderId: n.orderId,
          externalId: n.externalId,
          message: n.message,
          occurrences: n.occurrences,
          createdAt: n.createdAt,
        })),
      });
      let res: Response;
      try {
        res = await fetch(o.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(o.timeoutMs ?? 5000),
        });
      } catch (err) {
        throw new OrderpilotError('PROVIDER_UNAVAILABLE', `admin webhook unreachable: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return;
      const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
      throw new OrderpilotError(retryable ? 'PROVIDER_UNAVAILABLE' : 'REJECTED', `admin webhook answered ${res.status}`, { retryable });
    },
    async close() {},
  };
}
