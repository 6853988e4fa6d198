import { jetstreamManager } from '@nats-io/jetstream';
import { runConsumer, type RunningConsumer } from '../../infra/nats/consumer-runner.ts';
import { ORDER_PARTITION_WINDOW } from '../../infra/nats/topology.ts';
import type { RunningService, ServiceDeps } from '../../infra/runtime/service.ts';
import { retryPolicyFromConfig } from '../../infra/retry-policy.ts';
import { orderStatus } from '../../machines/order/index.ts';
import { LIVE_PRESENCE_MS } from '../contracts/index.ts';
import { acknowledgeOrderNotifications } from '../notifications/index.ts';
import { createAdminSettlement } from './admin-settlement.ts';
import { createOrderHost, type TransitionReport } from './order-host.ts';
import { startOrderRedrive } from './order-redrive.ts';
import { createOrderTurns } from './order-turns.ts';
import { startOutboxRelay } from './outbox-relay.ts';

export interface OrdersServiceOptions {
  /** Extra observers of committed transitions (the Stately inspector, metrics). */
  onTransition?: (r: TransitionReport) => void;
  /** Run the outbox relay / timer leader candidate in this process (default true). */
  relay?: boolean;
}

/**
 * The order actor host: one consumer per order-event partition (ORDER_PARTITION_WINDOW messages in
 * flight per partition across all instances, each order's events one after the other in publish
 * order: order-turns.ts), plus the outbox relay candidate.
 */
export async function startOrdersService(deps: ServiceDeps, opts: OrdersServiceOptions = {}): Promise<RunningService> {
  const { config, names, nc } = deps;
  const logger = deps.logger.child({ service: 'orders' });
  const encoder = new TextEncoder();
  // Live hints cost a publish per transition: sent only while some console says it is listening.
  let listenersUntil = 0;
  const presence = nc.subscribe(names.subjects.liveListening, {
    callback: () => {
      listenersUntil = Date.now() + 3 * LIVE_PRESENCE_MS;
    },
  });
  const settle = createAdminSettlement({ logger, acknowledge: (orderId, by, kinds) => acknowledgeOrderNotifications(deps.sql, orderId, by, kinds) });
  const host = createOrderHost({
    sql: deps.sql,
    names,
    logger,
    paymentTimeoutMs: config.paymentTimeoutMs,
    shopConnectors: new Set(config.shops.map((s) => s.name)),
    // Wakes the outbox relay (here or in another process); a lost hint costs at most OUTBOX_POLL_MS.
    onOutboxWritten: () => {
      try {
        nc.publish(names.subjects.outboxWake);
      } catch {
        // A closing connection: the relay's poll finds the rows.
      }
    },
    onTransition: (r) => {
      if (r.to !== null && r.outcome !== 'ignored' && Date.now() < listenersUntil) {
        // A hint for live views; the database stays the truth, so a lost hint costs only freshness.
        nc.publish(names.subjects.orderChanged(r.orderId), encoder.encode(JSON.stringify({ orderId: r.orderId, state: orderStatus(r.to), type: r.event.type })));
      }
      settle(r);
      opts.onTransition?.(r);
    },
  });
  const turns = createOrderTurns({ jsm: await jetstreamManager(nc), stream: names.streams.orderEvents });
  const consumers: RunningConsumer[] = [];
  for (let p = 0; p < names.partitions; p++) {
    const consumer = names.consumers.orderPartition(p);
    consumers.push(
      await runConsumer({
        nc,
        sql: deps.sql,
        logger,
        stream: names.streams.orderEvents,
        consumer,
        concurrency: ORDER_PARTITION_WINDOW,
        maxDeliver: config.maxDeliver,
        ackWaitMs: config.ackWaitMs,
        retry: retryPolicyFromConfig(config, 'consumer'),
        turns,
        handler: async (env, ctx) => {
          await host.handle(env, ctx.subject);
        },
      }),
    );
  }
  const relay = opts.relay === false ? null : await startOutboxRelay({ sql: deps.sql, nc, logger, pollMs: config.outboxPollMs, wakeSubject: names.subjects.outboxWake });
  const redrive = startOrderRedrive({ sql: deps.sql, nc, names, logger, everyMs: config.orderRedriveMs, afterMs: config.orderRedriveAfterMs, paymentTimeoutMs: config.paymentTimeoutMs });
  logger.info({ partitions: names.partitions }, 'orders service started');
  return {
    name: 'orders',
    async stop() {
      await redrive.stop();
      turns.stop();
      await Promise.all(consumers.map((c) => c.stop()));
      presence.unsubscribe();
      await relay?.stop();
      logger.info('orders service stopped');
    },
  };
}
