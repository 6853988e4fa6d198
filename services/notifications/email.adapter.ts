import { OrderpilotError } from '../contracts/index.ts';
import { createMailTransport, isRetryableSmtpError, type MailTransport } from '../../infra/smtp.ts';
import type { NotificationChannel } from './channel.port.ts';
import { renderBatch, type FormatOptions } from './notification.format.ts';

export interface EmailChannelOptions extends FormatOptions {
  smtpUrl: string;
  from: string;
  to: string;
  /** SMTP_REQUIRE_TLS */
  requireTls?: boolean;
}

/** Admin e-mail through nodemailer: one mail per batch (a digest when the batch has many). */
export function createEmailChannel(o: EmailChannelOptions): NotificationChannel {
  const transport: MailTransport = createMailTransport(o.smtpUrl, { requireTls: o.requireTls === true });
  return {
    name: 'email',
    async send(batch) {
      const { subject, text } = renderBatch(batch, o);
      try {
        await transport.sendMail({
          from: o.from,
          to: o.to,
          subject,
          text,
          headers: { 'X-Orderpilot-Notifications': batch.map((n) => n.id).join(',') },
        });
      } catch (err) {
        const retryable = isRetryableSmtpError(err);
        throw new OrderpilotError(retryable ? 'SMTP_UNAVAILABLE' : 'MAIL_REJECTED', `admin e-mail failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    },
    async close() {
      transport.close();
    },
  };
}
