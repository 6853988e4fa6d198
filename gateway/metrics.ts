import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BulkGate } from '../infra/runtime/bulk-gate.ts';

/**
 * Prometheus metrics of one gateway instance, in its own registry (never prom-client's global
 * default, so two gateways in one process — tests — do not collide).
 */
export function createGatewayMetrics(opts: { defaultMetrics?: boolean; bulkGate?: BulkGate | undefined } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'orderpilot_gateway_' });
  const requests = new Counter({
    name: 'orderpilot_gateway_http_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'orderpilot_gateway_http_request_duration_seconds',
    help: 'HTTP request duration, by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const webhooks = new Counter({
    name: 'orderpilot_gateway_webhooks_total',
    help: 'Webhook requests by provider and verdict (new = first time this dedupe key was seen)',
    labelNames: ['provider', 'verdict', 'new'] as const,
    registers: [registry],
  });
  const published = new Counter({
    name: 'orderpilot_gateway_events_published_total',
    help: 'Messages published to NATS by the gateway, by type',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  const gate = opts.bulkGate;
  if (gate !== undefined) {
    // How much this process held its bulk work back for front work (infra/runtime/bulk-gate.ts).
    new Gauge({
      name: 'orderpilot_bulk_gate_pauses',
      help: 'Times the bulk consumers of this process paused for front work since it started',
      registers: [registry],
      collect() {
        this.set(gate.stats().pauses);
      },
    });
    new Gauge({
      name: 'orderpilot_bulk_gate_paused_seconds',
      help: 'Time the bulk consumers of this process spent paused for front work since it started',
      registers: [registry],
      collect() {
        this.set(gate.stats().pausedMs / 1000);
      },
    });
  }
  return { registry, requests, duration, webhooks, published };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
