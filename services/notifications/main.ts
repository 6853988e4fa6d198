import { runConsumer } from '../../infra/nats/consumer-runner.ts';
import type { RunningService, ServiceDeps } from '../../infra/runtime/service.ts';
import { retryPolicyFromConfig } from '../../infra/retry-policy.ts';
import type { NotificationChannel } from './channel.port.ts';
import { surfaceDeadLetters } from './dead-letter.watcher.ts';
import { startDispatcher } from './digest.dispatcher.ts';
import { createEmailChannel } from './email.adapter.ts';
import { createNotificationStore } from './notification.store.ts';
import { createNotifyHandler } from './notify.handler.ts';
import { createWebhookChannel } from './webhook.adapter.ts';
import { watchStuckMessages } from './stuck-message.watcher.ts';
import { startSweeper } from './work-queue.sweep.ts';

export interface NotificationsServiceOptions {
  /** Replace the channels built from config (ADMIN_EMAIL + SMTP_URL, ADMIN_WEBHOOK_URL). */
  channels?: NotificationChannel[];
  /** How often deliveries and dead letters are looked at (default: a quarter of the digest window, 250 ms..2 s). */
  pollMs?: number;
  /** Messages handled at once (default 8). */
  concurrency?: number;
}

/**
 * The notifications service: consumes the `notify` command queue into the `notifications` inbox
 * (one unacknowledged row per problem), surfaces dead letters, and delivers new notifications to
 * admins by e-mail and webhook, batching bursts into digests.
 */
export async function startNotificationsService(deps: ServiceDeps, opts: NotificationsServiceOptions = {}): Promise<RunningService> {
  const { config, names, nc, sql } = deps;
  const logger = deps.logger.child({ service: 'notifications' });
  const consoleUrl = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}/admin`;
  const channels: NotificationChannel[] = opts.channels ?? [];
  if (!opts.channels) {
    if (config.adminEmail && config.smtpUrl) {
      channels.push(createEmailChannel({ smtpUrl: config.smtpUrl, from: config.mailFrom, to: config.adminEmail, consoleUrl, requireTls: config.smtpRequireTls }));
    } else if (config.adminEmail) {
      logger.warn('ADMIN_EMAIL is set but SMTP_URL is not: admin notifications are stored, not e-mailed');
    }
    if (config.adminWebhookUrl) channels.push(createWebhookChannel({ url: config.adminWebhookUrl, consoleUrl }));
  }
  const channelNames = channels.map((c) => c.name);
  const store = createNotificationStore(sql);
  const pollMs = opts.pollMs ?? Math.max(250, Math.min(2000, Math.floor(config.notifyDigestWindowMs / 4)));
  const dispatcher = startDispatcher({
    store,
    channels,
    logger,
    windowMs: config.notifyDigestWindowMs,
    maxWaitMs: config.notifyDigestMaxWaitMs,
    pollMs,
    retry: retryPolicyFromConfig(config, 'notify'),
    onTick: async () => {
      await surfaceDeadLetters(sql, store, channelNames, logger);
    },
  });
  const stuck = watchStuckMessages({ nc, sql, names, store, channels: channelNames, logger, onCreated: () => dispatcher.wake() });
  const sweeper = startSweeper({ ...deps, logger, store, channels: channelNames, onCreated: () => dispatcher.wake() });
  const consumerName = names.consumers.command('notify');
  const handle = createNotifyHandler({ sql, store, logger, channels: channelNames, consumer: consumerName, onCreated: () => dispatcher.wake() });
  const consumer = await runConsumer({
    nc,
    sql,
    logger,
    stream: names.streams.command('notify'),
    consumer: consumerName,
    concurrency: opts.concurrency ?? 8,
    maxDeliver: config.maxDeliver,
    ackWaitMs: config.ackWaitMs,
    gate: deps.bulkGate,
    retry: retryPolicyFromConfig(config, 'consumer'),
    handler: (env) => handle(env),
  });
  logger.info({ channels: channelNames, digestWindowMs: config.notifyDigestWindowMs }, channelNames.length ? 'notifications service started' : 'notifications service started (no ADMIN_EMAIL / ADMIN_WEBHOOK_URL: stored only)');
  return {
    name: 'notifications',
    async stop() {
      await consumer.stop();
      await stuck.stop();
      await sweeper?.stop();
      await dispatcher.stop();
      await Promise.all(channels.map((c) => c.close().catch(() => {})));
      logger.info('notifications service stopped');
    },
  };
}
