import { MANUAL_DOCUMENT_PROVIDER, type DocumentInfo } from '../../machines/order/index.ts';
import { isRetryable, type EnvelopeHandler } from '../../infra/nats/consumer-runner.ts';
import type { Logger } from '../../infra/logger.ts';
import { COMMAND_PAYLOADS, isOrderpilotError, validate, type AttachDocumentCommand, type DocumentEvents } from '../contracts/index.ts';
import type { DocumentStore } from './document.store.ts';
import type { InvoicingProvider } from './invoicing.port.ts';

export interface AttachDocumentDeps {
  provider: InvoicingProvider;
  store: DocumentStore;
  events: DocumentEvents;
  logger: Logger;
}

/**
 * Handles an admin's `attach-document` (a document issued by hand, given by number and date). The
 * invoicing system is asked before anything counts:
 * 1. a document this service recorded for the order, or one the invoicing system has for its order
 *    id, is the order's document (whatever number the admin typed) → DOCUMENT_ISSUED;
 * 2. else the number is looked up: found, tagged with no order or this one, with the same date →
 *    recorded and reported as DOCUMENT_ISSUED (verified; e-mailed like any document);
 *    found for another order or with another date → DOCUMENT_FAILED DOCUMENT_ATTACH_MISMATCH;
 * 3. not found there → recorded as the admin gave it (provider `manual`): the order has its
 *    document, and there is no PDF at the invoicing system to e-mail.
 * Idempotent: every step is a look-up or a first-wins insert; report ids derive from the command.
 * A transient failure throws (the runner naks with backoff) until the last attempt, which reports
 * DOCUMENT_FAILED RETRIES_EXHAUSTED.
 */
export function createAttachDocumentHandler(deps: AttachDocumentDeps): EnvelopeHandler {
  const { provider, store, events } = deps;
  return async (env, ctx) => {
    const cmd: AttachDocumentCommand = validate(COMMAND_PAYLOADS.attachDocument, env.payload, 'attach-document command');
    const orderId = cmd.order.orderId;
    const log = deps.logger.child({ orderId, messageId: env.id, number: cmd.number, delivery: ctx.deliveryCount });
    try {
      const recorded = (await store.issuedFor(orderId)) ?? (await provider.findByOrder(orderId));
      if (recorded) {
        const saved = 'document' in recorded ? recorded : await store.saveIssued(orderId, recorded);
        log.info({ found: saved.document.number }, 'the order already has a document at the invoicing system; reporting it');
        await events.issued(env, orderId, saved.document, saved.ksef);
        return;
      }
      const matches = await provider.findByNumber(cmd.number);
      const mine = matches.find((d) => d.oid === null || d.oid === orderId);
      if (mine === undefined && matches.length > 0) {
        const other = matches[0]?.oid ?? '';
        await events.failed(env, orderId, 'DOCUMENT_ATTACH_MISMATCH', `document ${cmd.number} at the invoicing system belongs to order ${other}, not to this one`);
        log.warn({ other }, 'attached document belongs to another order');
        return;
      }
      if (mine !== undefined && mine.issueDate !== cmd.issueDate) {
        await events.failed(env, orderId, 'DOCUMENT_ATTACH_MISMATCH', `document ${cmd.number} at the invoicing system was issued on ${mine.issueDate}, not on ${cmd.issueDate}`);
        log.warn({ issueDate: mine.issueDate }, 'attached document has another issue date');
        return;
      }
      const doc: DocumentInfo =
        mine !== undefined
          ? { providerId: mine.providerId, number: mine.number, issueDate: mine.issueDate, provider: mine.provider }
          : { providerId: `${MANUAL_DOCUMENT_PROVIDER}:${cmd.number}`, number: cmd.number, issueDate: cmd.issueDate, provider: MANUAL_DOCUMENT_PROVIDER };
      const { document: saved } = await store.saveIssued(orderId, doc);
      await events.issued(env, orderId, saved, 'outside');
      log.info({ verified: mine !== undefined, providerId: saved.providerId }, mine !== undefined ? 'attached document verified at the invoicing system' : 'attached document not found at the invoicing system; recorded as given');
    } catch (err) {
      if (isRetryable(err) && !ctx.lastAttempt) throw err;
      const message = err instanceof Error ? err.message : String(err);
      const code = isRetryable(err) ? 'RETRIES_EXHAUSTED' : isOrderpilotError(err) ? err.code : 'INTERNAL';
      await events.failed(env, orderId, code, isRetryable(err) ? `could not look the document up after ${ctx.deliveryCount} attempts; last error: ${message}` : message);
      log.warn({ code, err: message }, 'attaching the document failed');
    }
  };
}
