import { runConsumer } from '../../infra/nats/consumer-runner.ts';
import { ConfigError } from '../../infra/config.ts';
import type { RunningService, ServiceDeps } from '../../infra/runtime/service.ts';
import { retryPolicyFromConfig } from '../../infra/retry-policy.ts';
import { publishCommand, publishOrderEvent } from '../../infra/nats/publish.ts';
import { createDocumentEvents, stableMessageId, type NotifyCommand } from '../contracts/index.ts';
import { createDocumentStore } from './document.store.ts';
import { createFakturowniaAdapter } from './fakturownia.adapter.ts';
import { createIssueDocumentHandler, type IssueDocumentHooks } from './issue-document.handler.ts';
import type { InvoicingProvider } from './invoicing.port.ts';
import { createKsefStore } from './ksef.store.ts';
import { startKsefPoller, type KsefPoller, type KsefPollerHooks } from './ksef-poller.ts';
import { createResendToKsefHandler } from './resend-to-ksef.handler.ts';
import { createAttachDocumentHandler } from './attach-document.handler.ts';
import { createIssueCorrectionHandler, type IssueCorrectionHooks } from './issue-correction.handler.ts';
import { checkSellerForKsef } from './ksef.rules.ts';
import { isOrderpilotError, OrderpilotError } from '../contracts/index.ts';

export interface InvoicingServiceOptions {
  /** The invoicing system; default: the Fakturownia adapter from FAKTUROWNIA_URL / FAKTUROWNIA_API_TOKEN. */
  provider?: InvoicingProvider;
  hooks?: IssueDocumentHooks;
  correctionHooks?: IssueCorrectionHooks;
  ksefHooks?: KsefPollerHooks;
}

/** The Fakturownia adapter from config; fails fast naming the missing variable. */
export function invoicingProviderFromConfig(config: ServiceDeps['config']): InvoicingProvider {
  if (!config.fakturowniaUrl) throw new ConfigError('FAKTUROWNIA_URL', 'required by the invoicing service and the mailer (a local sandbox: npm run sandbox:invoicing)');
  if (!config.fakturowniaApiToken) throw new ConfigError('FAKTUROWNIA_API_TOKEN', 'required by the invoicing service and the mailer');
  return createFakturowniaAdapter({ baseUrl: config.fakturowniaUrl, apiToken: config.fakturowniaApiToken, timeoutMs: config.fakturowniaTimeoutMs, seller: config.seller });
}

/**
 * The invoicing service: consumes `issue-document` commands from the invoicing queue (one durable
 * consumer shared by every instance, many commands in flight per instance) and reports
 * DOCUMENT_ISSUED / DOCUMENT_FAILED to the order actor. Never writes order state.
 */
export async function startInvoicingService(deps: ServiceDeps, opts: InvoicingServiceOptions = {}): Promise<RunningService> {
  const { config, names, nc } = deps;
  const logger = deps.logger.child({ service: 'invoicing' });
  const provider = opts.provider ?? invoicingProviderFromConfig(config);
  const events = createDocumentEvents((m) => publishOrderEvent(nc, names, m), 'invoicing');
  const ksefStore = createKsefStore(deps.sql);
  const documents = createDocumentStore(deps.sql);
  const issue = createIssueDocumentHandler({
    provider,
    store: documents,
    events,
    logger,
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
    ksef: { config: config.ksef, seller: config.seller, store: ksefStore },
    notify: async (orderId, d) => {
      const payload: NotifyCommand = {
        kind: 'document.duplicate',
        severity: 'critical',
        code: 'DOCUMENT_DUPLICATE',
        message: `The invoicing system holds ${d.others.length + 1} documents for order ${d.externalId}: ${d.kept.number} is the order's; ${d.others.map((o) => `${o.number} (id ${o.providerId})`).join(', ')} ${d.others.length === 1 ? 'is a duplicate' : 'are duplicates'} — cancel or correct ${d.others.length === 1 ? 'it' : 'them'} at the invoicing system.`,
        orderId,
        externalId: d.externalId,
      };
      // One message per set of duplicates: a redelivered command does not notify twice.
      const id = stableMessageId('document-duplicate', orderId, ...d.others.map((o) => o.providerId));
      await publishCommand<NotifyCommand>(nc, names, 'notify', { id, type: 'notify', orderId, payload });
    },
  });
  const resend = createResendToKsefHandler({ provider, store: ksefStore, events, logger, pollBaseMs: config.ksef.pollBaseMs });
  const attach = createAttachDocumentHandler({ provider, store: documents, events, logger });
  const issueSubject = names.subjects.command('issueDocument');
  const attachSubject = names.subjects.command('attachDocument');
  const correction = createIssueCorrectionHandler({
    provider,
    store: documents,
    events,
    logger,
    ksef: { config: config.ksef, store: ksefStore },
    ...(opts.correctionHooks ? { hooks: opts.correctionHooks } : {}),
  });
  const correctionSubject = names.subjects.command('issueCorrection');
  const resendSubject = names.subjects.command('resendToKsef');
  if (config.ksef.mode !== 'off') {
    try {
      checkSellerForKsef(config.seller);
    } catch (err) {
      // Not fatal: documents outside KSeF still go out; each KSeF document fails naming the field.
      logger.warn({ err: isOrderpilotError(err) ? err.message : String(err) }, 'KSEF_MODE is on but the seller data KSeF requires is incomplete');
    }
  }
  const consumer = await runConsumer({
    nc,
    sql: deps.sql,
    logger,
    stream: names.streams.command('invoicing'),
    consumer: names.consumers.command('invoicing'),
    handler: async (env, ctx) => {
      if (ctx.subject === issueSubject) return issue(env, ctx);
      if (ctx.subject === resendSubject) return resend(env, ctx);
      if (ctx.subject === attachSubject) return attach(env, ctx);
      if (ctx.subject === correctionSubject) return correction(env, ctx);
      throw new OrderpilotError('MALFORMED_MESSAGE', `invoicing has no handler for subject ${ctx.subject}`);
    },
    maxDeliver: config.invoicingMaxAttempts,
    concurrency: config.invoicingConcurrency,
    retry: retryPolicyFromConfig(config, 'invoicing'),
    ackWaitMs: config.ackWaitMs,
    gate: deps.bulkGate,
  });
  // Documents sent to KSeF are followed whatever KSEF_MODE says now (one sent before a switch to off
  // still deserves its verdict).
  const poller: KsefPoller = startKsefPoller({ provider, store: ksefStore, events, logger, config: config.ksef, ...(opts.ksefHooks ? { hooks: opts.ksefHooks } : {}) });
  logger.info({ provider: provider.name, maxAttempts: config.invoicingMaxAttempts, concurrency: config.invoicingConcurrency, ksefMode: config.ksef.mode, ksefScope: config.ksef.scope }, 'invoicing service started');
  return {
    name: 'invoicing',
    async stop() {
      await consumer.stop();
      await poller.stop();
      logger.info('invoicing service stopped');
    },
  };
}
