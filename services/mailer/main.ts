import { ConfigError } from '../../infra/config.ts';
import { runConsumer } from '../../infra/nats/consumer-runner.ts';
import type { RunningService, ServiceDeps } from '../../infra/runtime/service.ts';
import { createMailTransport } from '../../infra/smtp.ts';
import { retryPolicyFromConfig } from '../../infra/retry-policy.ts';
import { publishOrderEvent } from '../../infra/nats/publish.ts';
import { createDocumentEvents } from '../contracts/index.ts';
import { invoicingProviderFromConfig, type InvoicingProvider } from '../invoicing/index.ts';
import { createMailDeliveryStore } from './mail-delivery.store.ts';
import { createSendDocumentHandler } from './send-document.handler.ts';

export interface MailerServiceOptions {
  /** Where PDFs come from; default: the Fakturownia adapter from config. */
  provider?: InvoicingProvider;
}

/**
 * The mailer: consumes `send-document` commands from the mail queue, e-mails the document's PDF to
 * the customer through SMTP (`SMTP_URL`, `MAIL_FROM`) once per document, reports DOCUMENT_EMAILED.
 */
export async function startMailerService(deps: ServiceDeps, opts: MailerServiceOptions = {}): Promise<RunningService> {
  const { config, names, nc } = deps;
  const logger = deps.logger.child({ service: 'mailer' });
  if (!config.smtpUrl) throw new ConfigError('SMTP_URL', 'required by the mailer (e.g. smtp://user:pass@mail.example.com:587)');
  const provider = opts.provider ?? invoicingProviderFromConfig(config);
  const transport = createMailTransport(config.smtpUrl, { requireTls: config.smtpRequireTls, maxConnections: config.smtpMaxConnections });
  const consumer = await runConsumer({
    nc,
    sql: deps.sql,
    logger,
    stream: names.streams.command('mail'),
    consumer: names.consumers.command('mail'),
    handler: createSendDocumentHandler({
      provider,
      transport,
      mailFrom: config.mailFrom,
      store: createMailDeliveryStore(deps.sql, Math.ceil(config.mailClaimLeaseMs / 1000)),
      events: createDocumentEvents((m) => publishOrderEvent(nc, names, m), 'mailer'),
      logger,
      leaseMs: config.mailClaimLeaseMs,
      uncertain: config.mailUncertain,
    }),
    maxDeliver: config.mailMaxAttempts,
    concurrency: config.mailConcurrency,
    retry: retryPolicyFromConfig(config, 'mail'),
    ackWaitMs: config.ackWaitMs,
    gate: deps.bulkGate,
  }).catch((err: unknown) => {
    transport.close();
    throw err;
  });
  logger.info({ maxAttempts: config.mailMaxAttempts }, 'mailer service started');
  return {
    name: 'mailer',
    async stop() {
      await consumer.stop();
      transport.close();
      logger.info('mailer service stopped');
    },
  };
}
