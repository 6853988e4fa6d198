import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../gateway/app.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { startNotificationsService } from '../../services/notifications/main.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { orderState, publishOrderEvent, sampleOrder } from '../support/orders.ts';
import { GATEWAY_ENV } from './gateway-helpers.ts';

let t: TestContext;
let app: FastifyInstance;
const services: RunningService[] = [];

beforeAll(async () => {
  t = await createTestContext(GATEWAY_ENV);
  services.push(await startOrdersService(t), await startNotificationsService(t, { pollMs: 200 }));
  app = await buildGateway(t, { defaultMetrics: false });
});
afterAll(async () => {
  await app?.close();
  for (const s of services.reverse()) await s.stop();
  await t?.cleanup();
});

/** The value of one sample in Prometheus text format (undefined when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelPart = /\{(.*)\}/.exec(line)?.[1] ?? '';
    if (want.every((w) => labelPart.split(',').includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('/metrics: business metrics read from the owners at scrape time', () => {
  it('orders by state, held by reason, documents, notifications, dead letters, consumer backlog, outbox', async () => {
    const scrape = async () => (await app.inject({ url: '/metrics' })).body;
    const before = await scrape();
    expect(sample(before, 'orderpilot_business_metrics_up')).toBe(1);
    expect(sample(before, 'orderpilot_outbox_backlog')).toBe(0);

    // Two paid orders (invoicing and logistics have no consumer running here, so their commands
    // wait in their queues), one of them then held: its warehouse refused it.
    const a = sampleOrder();
    const b = sampleOrder();
    for (const o of [a, b]) {
      await publishOrderEvent(t.nc, t.names, o.orderId, 'ORDER_PLACED', { order: o });
      await publishOrderEvent(t.nc, t.names, o.orderId, 'PAYMENT_CONFIRMED', { provider: 'payu', paymentId: `p-${o.orderId}`, amount: o.total, currency: o.currency });
    }
    await publishOrderEvent(t.nc, t.names, b.orderId, 'SHIPMENT_REJECTED', { code: 'OUT_OF_STOCK', message: 'SKU A out of stock' });
    await eventually(async () => (await orderState(t.sql, b.orderId)) === 'held', 'order b held');
    // An event for an order that does not exist is dead-lettered.
    await publishOrderEvent(t.nc, t.names, sampleOrder().orderId, 'DELIVERED', {});

    const text = await eventually(async () => {
      const s = await scrape();
      return sample(s, 'orderpilot_dead_letters_open') !== undefined && sample(s, 'orderpilot_notifications_open', { kind: 'order.held' }) !== undefined && sample(s, 'orderpilot_outbox_backlog') === 0 ? s : undefined;
    }, 'dead letter and hold notification in /metrics', 30_000, 200);
    expect(sample(text, 'orderpilot_orders', { state: 'processing' })).toBe(1);
    expect(sample(text, 'orderpilot_orders', { state: 'held' })).toBe(1);
    expect(sample(text, 'orderpilot_orders_held', { reason: 'OUT_OF_STOCK' })).toBe(1);
    expect(sample(text, 'orderpilot_order_documents', { state: 'requested' })).toBe(2);
    expect(sample(text, 'orderpilot_notifications_open', { kind: 'order.held', severity: 'warning' })).toBe(1);
    expect(sample(text, 'orderpilot_dead_letters_open')).toBe(1);
    // Each order's issue-document command waits for the invoicing consumer nobody runs here.
    const invoicing = t.names.consumers.command('invoicing');
    expect(sample(text, 'orderpilot_consumer_pending', { consumer: invoicing })).toBe(2);
    expect(sample(text, 'orderpilot_consumer_ack_pending', { consumer: invoicing })).toBe(0);
        expect(sample(text, 'orderpilot_outbox_oldest_age_seconds')).toBe(0);
    expect(text).toContain('# HELP orderpilot_shipment_outcomes');
  });
});

describe('the Grafana dashboard (infra/grafana/orderpilot.dashboard.json)', () => {
  it('queries only metrics the gateway exports', async () => {
    const { readFile } = await import('node:fs/promises');
    const dashboard = JSON.parse(await readFile('infra/grafana/orderpilot.dashboard.json', 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
    const exported = new Set([...(await app.inject({ url: '/metrics' })).body.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    const used = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\b(orderpilot_[a-z_]+)/g)].map((m) => m[1])));
    expect(used.length).toBeGreaterThan(10);
    for (const name of used) expect(exported, name).toContain(name?.replace(/_(bucket|sum|count)$/, ''));
  });
});
