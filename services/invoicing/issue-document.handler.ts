import type { DocumentInfo } from '../../machines/order/index.ts';
import { isRetryable, type EnvelopeHandler } from '../../infra/nats/consumer-runner.ts';
import type { Logger } from '../../infra/logger.ts';
import { COMMAND_PAYLOADS, documentCommandOrReportFailed, isOrderpilotError, OrderpilotError, type DocumentEvents, type IssueDocumentCommand } from '../contracts/index.ts';
import type { DocumentStore } from './document.store.ts';
import type { InvoicingProvider } from './invoicing.port.ts';
import type { KsefStore } from './ksef.store.ts';
import { checkOrderForKsef, checkSellerForKsef, inKsefScope } from './ksef.rules.ts';
import { precheckOrderForInvoice } from './nip.ts';
import type { KsefConfig, SellerConfig } from '../../infra/config.ts';

export interface IssueDocumentHooks {
  /**
   * Called right after the invoicing system answered with a document, before it is saved or
   * reported. Tests use it to kill the process at the worst moment; production leaves it unset.
   */
  afterProviderAnswer?: (orderId: string, doc: DocumentInfo) => void | Promise<void>;
}

/** Two or more documents for one order at the invoicing system: which we keep, which are extra. */
export interface DuplicateNotice {
  externalId: string;
  kept: DocumentInfo;
  others: DocumentInfo[];
}

export interface IssueDocumentDeps {
  provider: InvoicingProvider;
  store: DocumentStore;
  events: DocumentEvents;
  logger: Logger;
  hooks?: IssueDocumentHooks;
  /** Raises an admin notification (a `notify` command); used when the invoicing system holds duplicates. */
  notify?: (orderId: string, notice: DuplicateNotice) => Promise<void>;
  /** KSeF: mode and scope decide whether a document goes to KSeF; the seller is checked against its rules. */
  ksef: { config: Pick<KsefConfig, 'mode' | 'scope' | 'pollBaseMs'>; seller: SellerConfig; store: KsefStore };
}

/**
 * Handles `issue-document` commands, idempotently (any number of deliveries and instances give one
 * document per order):
 * 1. the command says the order already has a document → report it again, stop;
 * 2. this service recorded one for the order → report it, stop;
 * 3. local pre-check (NIP checksum, buyer data, totals; for KSeF also the seller data and KSeF's
 *    field rules); when it fails, the invoicing system is asked for a document with this order id
 *    (issued there by hand after a failure) → report it; none → a permanent failure that names the
 *    field and costs no issue attempt;
 * 4. issue it with `oid_unique`, with the payment data (paid, date, method) and, when it goes to
 *    KSeF, `gov_save_and_send`. A document with this order id already there (issued but the answer
 *    lost, issued by hand, a concurrent twin) makes the invoicing system refuse it
 *    (INVOICE_ALREADY_EXISTS); then every document with this order id is read and the oldest is the
 *    answer — so the usual order costs one request, not a look-up and a create;
 * 5. save it in `documents` (with its KSeF record, whose first poll is due shortly), report
 *    DOCUMENT_ISSUED — `ksef: "sent"` tells the order actor to wait for KSeF's verdict before e-mailing.
 * A retryable failure throws (the runner naks with backoff) until the last attempt, which reports
 * DOCUMENT_FAILED RETRIES_EXHAUSTED and acks; a permanent one reports DOCUMENT_FAILED with its code
 * and the provider's message at once.
 */
export function createIssueDocumentHandler(deps: IssueDocumentDeps): EnvelopeHandler {
  const { provider, store, events } = deps;
  const ksefFlag = async (orderId: string): Promise<'sent' | 'outside'> => ((await deps.ksef.store.stateOf(orderId)) === null ? 'outside' : 'sent');
  return async (env, ctx) => {
    const cmd: IssueDocumentCommand | null = await documentCommandOrReportFailed(COMMAND_PAYLOADS.issueDocument, env, 'issue-document command', deps);
    if (cmd === null) return;
    const orderId = cmd.order.orderId;
    const log = deps.logger.child({ orderId, messageId: env.id, delivery: ctx.deliveryCount });
    if (cmd.document !== null) {
      log.info({ number: cmd.document.number }, 'order already has its document; reporting it again');
      await events.issued(env, orderId, cmd.document, await ksefFlag(orderId));
      return;
    }
    try {
      const recorded = await store.issuedFor(orderId);
      if (recorded) {
        log.info({ number: recorded.document.number }, 'document already recorded; reporting it again');
        await events.issued(env, orderId, recorded.document, recorded.ksef);
        return;
      }
      const toKsef = deps.ksef.config.mode !== 'off' && inKsefScope(cmd.order, deps.ksef.config.scope);
      // The invoicing system's documents win over the local checks: one issued there (by an earlier
      // attempt, or by hand after a failed pre-check) is the answer, whatever the checks say now.
      let existing: DocumentInfo[] = [];
      let doc: DocumentInfo | null = null;
      let how: 'found' | 'issued' = 'found';
      try {
        precheckOrderForInvoice(cmd.order);
        if (toKsef) {
          checkSellerForKsef(deps.ksef.seller);
          checkOrderForKsef(cmd.order);
        }
      } catch (err) {
        existing = await provider.findAllByOrder(orderId);
        doc = existing[0] ?? null;
        if (doc === null) throw err;
      }
      if (doc === null) {
        try {
          doc = await provider.issue(cmd.order, { payment: cmd.payment ?? null, sendToKsef: toKsef });
          how = 'issued';
        } catch (err) {
          // oid_unique: refused because this order id has a document there (the provider names the
          // oid among whatever else it finds wrong, and the adapter puts that code first).
          if (!isOrderpilotError(err) || err.code !== 'INVOICE_ALREADY_EXISTS') throw err;
          existing = await provider.findAllByOrder(orderId);
          doc = existing[0] ?? null;
          if (doc === null) {
            throw new OrderpilotError('PROVIDER_UNAVAILABLE', `invoicing system refused a second document for order ${orderId} but does not list the first one yet`, { cause: err });
          }
        }
      }
      await deps.hooks?.afterProviderAnswer?.(orderId, doc);
      // Found (an earlier attempt's answer was lost): that attempt asked for the KSeF send as well; if
      // it did not happen, the poller sees gov_status null and sends it.
      const { document: saved, ksef } = await store.saveIssued(orderId, doc, toKsef ? { ksefFirstPollAt: new Date(Date.now() + deps.ksef.config.pollBaseMs) } : {});
      // More than one document for this order at the invoicing system (one made by hand, a client
      // without oid_unique), or one that is not the one recorded here: never taken silently.
      const extra = [...existing, doc].filter((d, i, all) => d.providerId !== saved.providerId && all.findIndex((x) => x.providerId === d.providerId) === i);
      if (extra.length > 0) {
        log.error({ kept: saved.number, extra: extra.map((d) => d.number) }, 'the invoicing system holds more than one document for this order; admin notified');
        await deps.notify?.(orderId, { externalId: cmd.order.externalId, kept: saved, others: extra });
      }
      await events.issued(env, orderId, saved, ksef);
      log.info({ number: saved.number, providerId: saved.providerId, how, ksef }, how === 'issued' ? 'document issued' : 'document found at the invoicing system');
    } catch (err) {
      const retryable = isRetryable(err);
      const message = err instanceof Error ? err.message : String(err);
      if (retryable && !ctx.lastAttempt) throw err;
      // A twin delivery or instance may have recorded the document meanwhile: that is the answer.
      const twin = await store.issuedFor(orderId).catch(() => null);
      if (twin) {
        log.info({ number: twin.document.number, err: message }, 'this attempt failed but the document exists; reporting it');
        await events.issued(env, orderId, twin.document, twin.ksef);
        return;
      }
      const code = retryable ? 'RETRIES_EXHAUSTED' : isOrderpilotError(err) ? err.code : 'INTERNAL';
      const text = retryable ? `gave up after ${ctx.deliveryCount} attempts; last error: ${message}` : message;
      await store.saveFailed(orderId, provider.name, code, text).catch((e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, 'could not record the failure in documents'));
      await events.failed(env, orderId, code, text);
      log.warn({ code, err: message }, 'document failed; reported DOCUMENT_FAILED');
    }
  };
}
