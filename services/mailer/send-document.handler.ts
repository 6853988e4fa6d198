import { createHash } from 'node:crypto';
import { isRetryable, type EnvelopeHandler } from '../../infra/nats/consumer-runner.ts';
import type { Logger } from '../../infra/logger.ts';
import { composeMail, isRetryableSmtpError, isUncertainSmtpError, sendComposed, type MailTransport } from '../../infra/smtp.ts';
import { COMMAND_PAYLOADS, documentCommandOrReportFailed, isOrderpilotError, OrderpilotError, type DocumentEvents, type SendDocumentCommand } from '../contracts/index.ts';
import type { InvoicingProvider } from '../invoicing/index.ts';
import { renderDocumentMail } from './document-mail.template.ts';
import type { MailDeliveryStore } from './mail-delivery.store.ts';

export interface SendDocumentDeps {
  provider: InvoicingProvider;
  transport: MailTransport;
  mailFrom: string;
  store: MailDeliveryStore;
  events: DocumentEvents;
  logger: Logger;
  /** The claim's lease: renewed every third of it while the PDF is fetched and the mail sent. */
  leaseMs: number;
  /** MAIL_UNCERTAIN: after a send whose outcome is unknown, resend (same Message-ID) or notify an admin. */
  uncertain: 'resend' | 'notify';
}

/** The mail may have been delivered (the connection broke after it was handed over). */
class UncertainSend extends Error {
  constructor(override readonly cause: unknown, readonly detail: string) {
    super(`SMTP connection broke after the mail was handed over (${detail}); it may have been delivered`);
  }
}

/** SMTP errors carry `responseCode` / `response` / `code` (nodemailer); classify them once, by code. */
function smtpError(err: unknown): OrderpilotError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { response?: unknown; message?: unknown; responseCode?: unknown };
  const detail = typeof e.response === 'string' ? e.response : typeof e.message === 'string' ? e.message : String(err);
  return isRetryableSmtpError(err)
    ? new OrderpilotError('SMTP_UNAVAILABLE', `SMTP: ${detail}`, { cause: err })
    : new OrderpilotError('MAIL_REJECTED', `SMTP rejected the mail: ${detail}`, { details: { responseCode: e.responseCode }, cause: err });
}

/**
 * Handles `send-document`: fetch the PDF from the invoicing system, send it to the customer in the
 * order's language, once per document (`mail_deliveries` keyed by the document), then report
 * DOCUMENT_EMAILED. A transient SMTP or provider failure throws (the runner naks with backoff) until
 * the last attempt, which reports DOCUMENT_FAILED RETRIES_EXHAUSTED; a permanent one (MAIL_REJECTED,
 * …) reports DOCUMENT_FAILED at once.
 */
export function createSendDocumentHandler(deps: SendDocumentDeps): EnvelopeHandler {
  const { store, events } = deps;
  return async (env, ctx) => {
    const cmd: SendDocumentCommand | null = await documentCommandOrReportFailed(COMMAND_PAYLOADS.sendDocument, env, 'send-document command', deps);
    if (cmd === null) return;
    const { order, document } = cmd;
    const orderId = order.orderId;
    // One e-mail per document; an admin's resend is a new e-mail of its own (keyed by its command).
    const key = cmd.resend ? `document:${document.provider}:${document.providerId}:resend:${env.id}` : `document:${document.provider}:${document.providerId}`;
    const to = cmd.to ?? order.customer.email;
    const log = deps.logger.child({ orderId, number: document.number, messageId: env.id, delivery: ctx.deliveryCount });
    let claimId: string | null = null;
    let renewal: NodeJS.Timeout | undefined;
    try {
      const claim = await store.claim(key, orderId, to);
      if (claim.kind === 'sent') {
        log.info('document e-mail already sent; reporting it again');
        if (cmd.correctionId !== undefined) await events.correctionEmailed(env, orderId, cmd.correctionId, claim.recipient, claim.messageId);
        else await events.emailed(env, orderId, claim.recipient, claim.messageId, cmd.resend === true);
        return;
      }
      if (claim.kind === 'busy') {
        // Another instance is sending this very e-mail now; it reports. Check back when its claim
        // expires (it may have crashed mid-send): a fixed short delay would spend every attempt
        // before the lease ends and the e-mail would never be sent.
        if (ctx.lastAttempt) return;
        throw new OrderpilotError('DB_CONFLICT', `e-mail of document ${document.number} is being sent by another instance`, { retryAfterMs: Math.max(1000, claim.leaseLeftMs + 500) });
      }
      const ownClaim = claim.claimId;
      claimId = ownClaim;
      // Keep the claim while this send is under way; if another sender took it over (this one
      // stalled past the lease), say so — the fencing keeps this one from marking its send.
      renewal = setInterval(() => {
        store.renew(key, ownClaim).then(
          (ours) => ours || log.warn('mail claim taken over by another sender during this send'),
          (e: unknown) => log.warn({ err: e instanceof Error ? e.message : String(e) }, 'could not renew the mail claim'),
        );
      }, Math.max(250, Math.floor(deps.leaseMs / 3)));
      const pdf = await deps.provider.downloadPdf(document.providerId);
      const mail = renderDocumentMail(order, document, cmd.ksef ?? null, { correction: cmd.correctionId !== undefined });
      // The same Message-ID for the same document: should a send ever repeat, mail clients fold it.
      const messageId = `<document-${createHash('sha256').update(key).digest('hex').slice(0, 32)}@orderpilot>`;
      try {
        // Composed in one piece, then sent as is: the same message, without a stream per MIME part.
        await sendComposed(
          deps.transport,
          composeMail({
            from: deps.mailFrom,
            to: cmd.to ? to : { name: order.customer.name, address: to },
            subject: mail.subject,
            text: mail.text,
            html: mail.html,
            messageId,
            attachments: [{ filename: mail.filename, content: pdf, contentType: 'application/pdf' }],
          }),
        );
      } catch (err) {
        if (isUncertainSmtpError(err)) throw new UncertainSend(err, err instanceof Error ? err.message : String(err));
        throw smtpError(err);
      }
      clearInterval(renewal);
      claimId = null;
      // The mail is out: from here on nothing may make a retry send it again. Record it (a few tries:
      // a lost record would only cost a second mail after the claim lease), then report it.
      for (let i = 0; ; i++) {
        try {
          if (!(await store.markSent(key, ownClaim, messageId))) {
            // Our lease ran out and another sender holds the claim: its own send records the row.
            log.warn('e-mail sent, but the claim was taken over meanwhile; the other sender records it');
          }
          break;
        } catch (err) {
          if (i >= 2) {
            log.error({ err: err instanceof Error ? err.message : String(err) }, 'e-mail sent but not recorded in mail_deliveries');
            break;
          }
          await new Promise((r) => setTimeout(r, 200 * (i + 1)));
        }
      }
      if (cmd.correctionId !== undefined) await events.correctionEmailed(env, orderId, cmd.correctionId, to, messageId);
      else await events.emailed(env, orderId, to, messageId, cmd.resend === true);
      log.info({ to }, 'document e-mailed');
    } catch (caught) {
      clearInterval(renewal);
      const uncertain = caught instanceof UncertainSend;
      const message = caught instanceof Error ? caught.message : String(caught);
      if (claimId !== null) {
        await store
          .release(key, claimId, message, uncertain ? 'sent-unknown' : 'failed')
          .catch((e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, 'could not release the mail claim'));
      }
      if (uncertain) log.warn({ policy: deps.uncertain, err: caught.detail }, 'e-mail outcome unknown (sent-unknown)');
      // MAIL_UNCERTAIN=resend: retry like any transient failure, with the same Message-ID; notify: stop and tell an admin.
      const err =
        !uncertain
          ? caught
          : deps.uncertain === 'resend'
            ? new OrderpilotError('SMTP_UNAVAILABLE', message, { cause: caught.cause })
            : new OrderpilotError('MAIL_UNCERTAIN', `${message}; not resent (MAIL_UNCERTAIN=notify): check with the customer, then retry the e-mail if it did not arrive`, { cause: caught.cause });
      const retryable = isRetryable(err);
      if (retryable && !ctx.lastAttempt) throw err;
      const code = retryable ? 'RETRIES_EXHAUSTED' : isOrderpilotError(err) ? err.code : 'INTERNAL';
      const text = retryable ? `e-mail to ${to} not sent after ${ctx.deliveryCount} attempts; last error: ${message}` : message;
      if (cmd.correctionId !== undefined) await events.correctionFailed(env, orderId, cmd.correctionId, code, text, 'email');
      else await events.failed(env, orderId, code, text);
      log.warn({ code, err: message }, 'document e-mail failed; reported DOCUMENT_FAILED');
    }
  };
}
