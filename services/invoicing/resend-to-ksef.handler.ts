import { isRetryable, type EnvelopeHandler } from '../../infra/nats/consumer-runner.ts';
import type { Logger } from '../../infra/logger.ts';
import { COMMAND_PAYLOADS, isOrderpilotError, validate, type ResendToKsefCommand } from '../contracts/index.ts';
import type { DocumentEvents } from '../contracts/index.ts';
import type { InvoicingProvider } from './invoicing.port.ts';
import type { KsefStore } from './ksef.store.ts';

export interface ResendToKsefDeps {
  provider: InvoicingProvider;
  store: KsefStore;
  events: DocumentEvents;
  logger: Logger;
  pollBaseMs: number;
}

/**
 * Handles an admin's `resend-to-ksef` (after the cause of a rejection was fixed), through the same
 * path as the first send: ask the invoicing system to send the document (`send_to_ksef=yes`), then
 * leave the verdict to the KSeF poller. Idempotent: a redelivered command (same id) sends nothing
 * again; a document KSeF has accepted meanwhile is only reported again. A transient failure throws
 * (the runner naks with backoff); the last attempt reports KSEF_REJECTED KSEF_UNAVAILABLE, so the
 * admin sees the resend did not happen and may try again.
 */
export function createResendToKsefHandler(deps: ResendToKsefDeps): EnvelopeHandler {
  return async (env, ctx) => {
    const cmd: ResendToKsefCommand = validate(COMMAND_PAYLOADS.resendToKsef, env.payload, 'resend-to-ksef command');
    // A correction document is kept under its own id; its verdicts go to its order (correctionOf).
    const orderId = cmd.correctionId ?? cmd.order.orderId;
    const correctionOf = cmd.correctionId === undefined ? undefined : cmd.order.orderId;
    const log = deps.logger.child({ orderId, correctionOf, messageId: env.id, delivery: ctx.deliveryCount });
    const row = await deps.store.stateOf(orderId);
    if (row === null || row.providerId !== cmd.document.providerId) {
      log.warn('resend to KSeF for a document this service never sent there');
      await deps.events.ksef(orderId, cmd.document.providerId, Number.MAX_SAFE_INTEGER, { type: 'KSEF_REJECTED', code: 'KSEF_STATUS_UNKNOWN', errors: ['this document was never sent to KSeF by orderpilot'] }, correctionOf);
      return;
    }
    if (row.resendCommand === env.id) {
      log.info('resend already applied (redelivery)');
      return;
    }
    if (row.state === 'accepted') {
      log.info({ ksefNumber: row.ksefNumber }, 'already accepted by KSeF; reporting it again');
      await deps.store.reportAgain(row.providerId, env.id);
      return;
    }
    try {
      await deps.provider.sendToKsef(row.providerId);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (isRetryable(err) && !ctx.lastAttempt) throw err;
      const code = isOrderpilotError(err) && !isRetryable(err) ? 'KSEF_STATUS_UNKNOWN' : 'KSEF_UNAVAILABLE';
      await deps.events.ksef(orderId, row.providerId, row.sends + 1, { type: 'KSEF_REJECTED', code, errors: [`resend to KSeF failed: ${message}`] }, correctionOf);
      log.warn({ err: message }, 'resend to KSeF failed; reported KSEF_REJECTED');
      return;
    }
    const applied = await deps.store.resent(row.providerId, env.id, new Date(Date.now() + deps.pollBaseMs));
    log.info({ applied, send: row.sends + 1 }, 'document sent to KSeF again; the poller follows it');
  };
}
