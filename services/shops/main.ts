import { runConsumer, type RunningConsumer } from '../../infra/nats/consumer-runner.ts';
import { publishCommand } from '../../infra/nats/publish.ts';
import type { RunningService, ServiceDeps } from '../../infra/runtime/service.ts';
import { retryPolicyFromConfig } from '../../infra/retry-policy.ts';
import type { NotifyCommand } from '../contracts/index.ts';
import type { ShopConnector } from './shop-connector.port.ts';
import { createShopLog } from './shop-log.store.ts';
import { mappingFor, type ShopMapping } from './shop-mapping.ts';
import { createShopUpdateHandler } from './shop-update.handler.ts';
import { createShopQueue } from './shop-queue.ts';
import { createShopWaiting } from './shop-waiting.store.ts';
import { createWooCommerceConnector } from './woocommerce.adapter.ts';
import { createSignedWebhookConnector } from './signed-webhook.adapter.ts';
import { createMagentoClient } from './magento.adapter.ts';
import { startMagentoPoller } from './magento-poller.ts';

/**
 * The shops service: one consumer per shop-update partition (one message in flight per partition
 * across all instances, so one order's updates reach its shop in order), each update pushed through
 * its shop's connector, and updates for a shop that is away waiting in Postgres (shop-queue.ts); a poller per Magento shop (orders in). WooCommerce intake (WooCommerce webhooks) runs in the gateway with this service's pure
 * mapping (`index.ts`), because the gateway's order intake gives an order its id.
 */
export async function startShopsService(deps: ServiceDeps): Promise<RunningService> {
  const { config, names, nc, sql } = deps;
  const logger = deps.logger.child({ service: 'shops' });
  const log = createShopLog(sql);
  const shops = new Map<string, { connector: ShopConnector; mapping: ShopMapping }>();
  const pollers: Array<{ stop(): Promise<void> }> = [];
  for (const shop of config.shops) {
    let connector: ShopConnector;
    if (shop.kind === 'woocommerce') connector = createWooCommerceConnector({ shop, timeoutMs: config.shopsTimeoutMs, log });
    else if (shop.kind === 'webhook') connector = createSignedWebhookConnector({ shop, timeoutMs: config.shopsTimeoutMs, log });
    else {
      const magento = createMagentoClient({ shop, timeoutMs: config.shopsTimeoutMs, log });
      connector = magento.connector;
      pollers.push(startMagentoPoller({ shop, sql, nc, names, logger, pollMs: config.shopsPollMs, search: magento.searchUpdatedSince }));
    }
    shops.set(shop.name, { connector, mapping: mappingFor(shop.kind, shop.mapping, shop.notes) });
  }
  const apply = createShopUpdateHandler({
    shops,
    log,
    logger,
    notifyAdmin: async (id, notice, cause) => {
      await publishCommand<NotifyCommand>(nc, names, 'notify', { id, type: 'notify', orderId: notice.orderId, payload: notice, cause, actor: 'shops' });
    },
  });
  const queue = createShopQueue({
    apply,
    waiting: createShopWaiting(sql),
    policy: retryPolicyFromConfig(config, 'shops'),
    maxAttempts: (name) => config.shops.find((s) => s.name === name)?.maxAttempts ?? config.shopsMaxAttempts,
    retryForMs: config.shopsRetryHours * 3600_000,
    // An update makes a few calls, each bounded by the timeout: a claim outlasts them all.
    leaseMs: Math.max(60_000, config.shopsTimeoutMs * 45),
    pollMs: Math.min(1_000, config.shopsRetryBaseMs),
    logger,
  });
  const worker = queue.startWorker();
  const consumers: RunningConsumer[] = [];
  for (let p = 0; p < names.partitions; p++) {
    consumers.push(
      await runConsumer({
        nc,
        sql,
        logger,
        stream: names.streams.shopUpdates,
        consumer: names.consumers.shopPartition(p),
        concurrency: 1,
        // A shop that is away never fails the message (it waits in shop_waiting): only database trouble is redelivered.
        maxDeliver: config.maxDeliver,
        ackWaitMs: config.ackWaitMs,
        retry: retryPolicyFromConfig(config, 'consumer'),
        handler: (env) => queue.fromPartition(env),
      }),
    );
  }
  logger.info({ shops: config.shops.map((s) => `${s.name}:${s.kind}`), maxAttempts: config.shopsMaxAttempts, retryHours: config.shopsRetryHours }, 'shops service started');
  return {
    name: 'shops',
    async stop() {
      await Promise.all([...consumers.map((c) => c.stop()), ...pollers.map((p) => p.stop()), worker.stop()]);
      logger.info('shops service stopped');
    },
  };
}
