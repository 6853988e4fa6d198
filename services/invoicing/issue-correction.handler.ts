import type { KsefConfig } from '../../infra/config.ts';
import { isRetryable, type EnvelopeHandler } from '../../infra/nats/consumer-runner.ts';
import type { Logger } from '../../infra/logger.ts';
import { COMMAND_PAYLOADS, isOrderpilotError, OrderpilotError, validate, type DocumentEvents, type IssueCorrectionCommand } from '../contracts/index.ts';
import type { DocumentInfo } from '../../machines/order/index.ts';
import type { DocumentStore } from './document.store.ts';
import type { InvoicingProvider } from './invoicing.port.ts';
import type { KsefStore } from './ksef.store.ts';
import { inKsefScope } from './ksef.rules.ts';

export interface IssueCorrectionHooks {
  /** Called right after the invoicing system answered, before the correction is saved or reported (tests: SIGKILL here). */
  afterProviderAnswer?: (correctionId: string, doc: DocumentInfo) => void | Promise<void>;
}

export interface IssueCorrectionDeps {
  provider: InvoicingProvider;
  store: DocumentStore;
  events: DocumentEvents;
  logger: Logger;
  ksef: { config: Pick<KsefConfig, 'mode' | 'scope' | 'pollBaseMs'>; store: KsefStore };
  hooks?: IssueCorrectionHooks;
}

/**
 * Handles `issue-correction` (a cancel's full reversal, an admin's partial REFUND), idempotently by
 * the correction's own id — its `oid` at the invoicing system (`oid_unique`):
 * 1. recorded already (a `documents` row keyed by the correction id) → report it again;
 * 2. the invoicing system has a document with that oid (issued, answer lost; a crash) → record, report;
 * 3. issue it (`kind: "correction"`, `invoice_id` of the original); when the original went to KSeF
 *    (or KSeF is on for this buyer) with `gov_save_and_send`, and its KSeF record starts in the same
 *    statement, so the KSeF poller follows it like any document and reports its verdict to the order;
 * 4. record it (kind `correction`, parent order), report CORRECTION_ISSUED (`ksef: "sent"`: the
 *    e-mail waits for its KSeF number).
 * A retryable failure throws until the last attempt, which reports CORRECTION_FAILED
 * RETRIES_EXHAUSTED; a permanent one reports CORRECTION_FAILED at once (an admin is notified).
 */
export function createIssueCorrectionHandler(deps: IssueCorrectionDeps): EnvelopeHandler {
  const { provider, store, events } = deps;
  return async (env, ctx) => {
    const cmd: IssueCorrectionCommand = validate(COMMAND_PAYLOADS.issueCorrection, env.payload, 'issue-correction command');
    const orderId = cmd.order.orderId;
    const { correctionId } = cmd;
    const log = deps.logger.child({ orderId, correctionId, messageId: env.id, delivery: ctx.deliveryCount });
    try {
      const recorded = await store.issuedFor(correctionId);
      if (recorded) {
        log.info({ number: recorded.document.number }, 'correction already recorded; reporting it again');
        await events.correctionIssued(env, orderId, correctionId, recorded.document, recorded.ksef);
        return;
      }
      // Corrections go to KSeF the same way as invoices: when the original went there, or KSeF is on for this buyer.
      const originalInKsef = (await deps.ksef.store.stateOf(orderId)) !== null;
      const toKsef = originalInKsef || (deps.ksef.config.mode !== 'off' && inKsefScope(cmd.order, deps.ksef.config.scope));
      let doc = await provider.findByOrder(correctionId);
      let how: 'found' | 'issued' = 'found';
      if (doc === null) {
        try {
          doc = await provider.issueCorrection(cmd.order, cmd.document, { correctionId, amount: cmd.amount, full: cmd.full, reason: cmd.reason }, { sendToKsef: toKsef });
          how = 'issued';
        } catch (err) {
          if (!isOrderpilotError(err) || err.code !== 'INVOICE_ALREADY_EXISTS') throw err;
          doc = await provider.findByOrder(correctionId);
          if (doc === null) throw new OrderpilotError('PROVIDER_UNAVAILABLE', `invoicing system refused a second correction ${correctionId} but does not list the first one yet`, { cause: err });
        }
      }
      await deps.hooks?.afterProviderAnswer?.(correctionId, doc);
      const { document: saved } = await store.saveIssued(correctionId, doc, { correctionOf: orderId, ...(toKsef ? { ksefFirstPollAt: new Date(Date.now() + deps.ksef.config.pollBaseMs) } : {}) });
      await events.correctionIssued(env, orderId, correctionId, saved, toKsef ? 'sent' : 'outside');
      log.info({ number: saved.number, providerId: saved.providerId, how, toKsef, amount: cmd.amount, full: cmd.full }, how === 'issued' ? 'correction issued' : 'correction found at the invoicing system');
    } catch (err) {
      const retryable = isRetryable(err);
      const message = err instanceof Error ? err.message : String(err);
      if (retryable && !ctx.lastAttempt) throw err;
      const twin = await store.issuedFor(correctionId).catch(() => null);
      if (twin) {
        await events.correctionIssued(env, orderId, correctionId, twin.document, twin.ksef);
        return;
      }
      const code = retryable ? 'RETRIES_EXHAUSTED' : isOrderpilotError(err) ? err.code : 'INTERNAL';
      const text = retryable ? `gave up after ${ctx.deliveryCount} attempts; last error: ${message}` : message;
      await store.saveFailed(correctionId, provider.name, code, text, { correctionOf: orderId }).catch(() => undefined);
      await events.correctionFailed(env, orderId, correctionId, code, text, 'issue');
      log.warn({ code, err: message }, 'correction failed; reported CORRECTION_FAILED');
    }
  };
}
