import type { AddressInfo } from 'node:net';
import { jetstreamManager } from '@nats-io/jetstream';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../gateway/app.ts';
import { startWarehouseSandbox, type WarehouseSandbox, type WarehouseSandboxOptions } from '../../infra/sandbox/warehouse-sandbox.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createLogger } from '../../infra/logger.ts';
import type { NotifyCommand } from '../../services/contracts/index.ts';
import { startLogisticsService } from '../../services/logistics/main.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import type { OrderData } from '../../machines/order/index.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { orderState, publishOrderEvent } from '../support/orders.ts';

export const WEBHOOK_SECRET = 'whs-test-0123456789abcdef';
export const API_KEY = 'wh-api-key-0123456789';

export interface LogisticsWorld {
  t: TestContext;
  sandbox: WarehouseSandbox;
  gateway: FastifyInstance;
  gatewayUrl: string;
  /** The running logistics instances (tests may stop one and start another). */
  logistics: RunningService[];
  stop(): Promise<void>;
}

/**
 * The real thing on loopback: the sandbox warehouse (HTTP), the gateway listening on an ephemeral
 * port (its warehouse webhook route), the order actor host and N logistics service instances, on a
 * fresh database and NATS prefix.
 */
export async function startLogisticsWorld(
  opts: { sandbox?: Partial<WarehouseSandboxOptions>; env?: Record<string, string>; logisticsInstances?: number } = {},
): Promise<LogisticsWorld> {
  const sandbox = await startWarehouseSandbox({ apiKey: API_KEY, webhookSecret: WEBHOOK_SECRET, stepMs: 25, logger: createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'warn', name: 'warehouse-sandbox' }), ...opts.sandbox });
  const t = await createTestContext({
    WAREHOUSE_URL: sandbox.url,
    WAREHOUSE_API_KEY: API_KEY,
    WAREHOUSE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    WAREHOUSE_TIMEOUT_MS: '400',
    LOGISTICS_MAX_ATTEMPTS: '4',
    LOGISTICS_RETRY_BASE_MS: '40',
    ...opts.env,
  });
  const gateway = await buildGateway(t, { defaultMetrics: false });
  await gateway.listen({ port: 0, host: '127.0.0.1' });
  const gatewayUrl = `http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}`;
  sandbox.setWebhookUrl(`${gatewayUrl}/webhooks/warehouse`);
  const orders = await startOrdersService(t);
  const logistics: RunningService[] = [];
  for (let i = 0; i < (opts.logisticsInstances ?? 1); i++) logistics.push(await startLogisticsService(t));
  return {
    t,
    sandbox,
    gateway,
    gatewayUrl,
    logistics,
    async stop() {
      await sandbox.close();
      await gateway.close();
      for (const s of logistics) await s.stop();
      await orders.stop();
      await t.cleanup();
    },
  };
}

/** Places an order and confirms its payment (as the gateway would), then waits until it is processing. */
export async function placePaidOrder(t: TestContext, order: OrderData): Promise<void> {
  await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order }, { id: `placed:${order.orderId}` });
  await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_CONFIRMED', { provider: 'stripe', paymentId: `pi_${order.orderId}`, amount: order.total, currency: order.currency }, { id: `paid:${order.orderId}` });
}

export async function waitForState(t: TestContext, orderId: string, state: string, timeoutMs = 20_000): Promise<void> {
  await eventually(async () => (await orderState(t.sql, orderId)) === state, `order ${orderId} ${state} (is ${await orderState(t.sql, orderId)})`, timeoutMs);
}

/** Every admin notice published to the notify queue so far (nobody consumes it in these tests). */
export async function notices(t: TestContext): Promise<Array<NotifyCommand & { messageId: string }>> {
  const jsm = await jetstreamManager(t.nc);
  const stream = t.names.streams.command('notify');
  const info = await jsm.streams.info(stream);
  const out: Array<NotifyCommand & { messageId: string }> = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m) continue;
    const env = m.json<{ id: string; payload: NotifyCommand }>();
    out.push({ ...env.payload, messageId: env.id });
  }
  return out;
}

export async function history(t: TestContext, orderId: string): Promise<Array<{ type: string; outcome: string; to_state: string | null; actor: string | null; note: string | null; payload: Record<string, unknown> }>> {
  return t.sql`select type, outcome, to_state, actor, note, payload from order_history where order_id = ${orderId} order by id`;
}
