import { runConsumer } from '../../infra/nats/consumer-runner.ts';
import { ConfigError } from '../../infra/config.ts';
import type { RunningService, ServiceDeps } from '../../infra/runtime/service.ts';
import { retryPolicyFromConfig } from '../../infra/retry-policy.ts';
import { publishOrderEvent } from '../../infra/nats/publish.ts';
import { createDocumentEvents } from '../contracts/index.ts';
import { createDocumentStore } from './document.store.ts';
import { createFakturowniaAdapter } from './fakturownia.adapter.ts';
import { createIssueDocumentHandler, type IssueDocumentHooks } from './issue-document.handler.ts';
import type { InvoicingProvider } from './invoicing.port.ts';

export interface InvoicingServiceOptions {
  /** The invoicing system; default: the Fakturownia adapter from FAKTUROWNIA_URL / FAKTUROWNIA_API_TOKEN. */
  provider?: InvoicingProvider;
  hooks?: IssueDocumentHooks;
}

/** The Fakturownia adapter from config; fails fast naming the missing variable. */
export function invoicingProviderFromConfig(config: ServiceDeps['config']): InvoicingProvider {
  if (!config.fakturowniaUrl) throw new ConfigError('FAKTUROWNIA_URL', 'required by the invoicing service and the mailer (a local sandbox: npm run sandbox:invoicing)');
  if (!config.fakturowniaApiToken) throw new ConfigError('FAKTUROWNIA_API_TOKEN', 'required by the invoicing service and the mailer');
  return createFakturowniaAdapter({ baseUrl: config.fakturowniaUrl, apiToken: config.fakturowniaApiToken, timeoutMs: config.fakturowniaTimeoutMs });
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
  const handler = createIssueDocumentHandler({
    provider,
    store: createDocumentStore(deps.sql),
    events: createDocumentEvents((m) => publishOrderEvent(nc, names, m), 'invoicing'),
    logger,
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
  });
  const consumer = await runConsumer({
    nc,
    sql: deps.sql,
    logger,
    stream: names.streams.command('invoicing'),
    consumer: names.consumers.command('invoicing'),
    handler,
    maxDeliver: config.invoicingMaxAttempts,
    concurrency: config.invoicingConcurrency,
    retry: retryPolicyFromConfig(config, 'invoicing'),
    ackWaitMs: config.ackWaitMs,
  });
  logger.info({ provider: provider.name, maxAttempts: config.invoicingMaxAttempts, concurrency: config.invoicingConcurrency }, 'invoicing service started');
  return {
    name: 'invoicing',
    async stop() {
      await consumer.stop();
      logger.info('invoicing service stopped');
    },
  };
}
