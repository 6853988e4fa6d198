import { Gauge, type Registry } from 'prom-client';
import { countOpenDeadLetters } from '../infra/db/dead-letters.ts';
import { consumerBacklog } from '../infra/nats/topology.ts';
import { documentsWaitingForKsef } from '../services/invoicing/index.ts';
import { readShipmentOutcomes } from '../services/logistics/index.ts';
import { readOpenNotificationCounts } from '../services/notifications/index.ts';
import { readOrderMetrics } from '../services/orders/index.ts';
import type { GatewayDeps } from './gateway.types.ts';

type BusinessSnapshot = {
  orders: Awaited<ReturnType<typeof readOrderMetrics>>;
  notifications: Awaited<ReturnType<typeof readOpenNotificationCounts>>;
  deadLetters: Awaited<ReturnType<typeof countOpenDeadLetters>>;
  consumers: Awaited<ReturnType<typeof consumerBacklog>>;
  shipments: Awaited<ReturnType<typeof readShipmentOutcomes>>;
  ksefWaiting: number;
};

/**
 * Business metrics in the gateway's `/metrics`: what the system holds right now, read at scrape
 * time from the owners' read models (orders, notifications, logistics, invoicing), the dead-letter table and
 * JetStream's consumer info. One read per scrape serves every gauge (the reads are cached for a
 * second). Every gateway instance reports the same totals: aggregate with max(), not sum().
 * When a read fails, `orderpilot_business_metrics_up` is 0 and the other gauges are left empty.
 */
export function registerBusinessMetrics(registry: Registry, deps: Pick<GatewayDeps, 'sql' | 'nc' | 'names' | 'logger'>): void {
  let pending: { at: number; value: Promise<BusinessSnapshot | null> } | null = null;
  const read = (): Promise<BusinessSnapshot | null> => {
    if (pending && Date.now() - pending.at < 1000) return pending.value;
    const value = (async () => {
      try {
        const [orders, notifications, deadLetters, consumers, shipments, ksefWaiting] = await Promise.all([
          readOrderMetrics(deps.sql),
          readOpenNotificationCounts(deps.sql),
          countOpenDeadLetters(deps.sql),
          consumerBacklog(deps.nc, deps.names),
          readShipmentOutcomes(deps.sql),
          documentsWaitingForKsef(deps.sql),
        ]);
        return { orders, notifications, deadLetters, consumers, shipments, ksefWaiting };
      } catch (err) {
        deps.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'business metrics could not be read');
        return null;
      }
    })();
    pending = { at: Date.now(), value };
    return value;
  };

  /** A gauge filled from the snapshot at each scrape (labels that disappeared are dropped). */
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (s: BusinessSnapshot, set: (labels: Record<L, string>, v: number) => void) => void) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        const s = await read();
        if (s) fill(s, (labels, v) => (labelNames.length ? this.set(labels, v) : this.set(v)));
      },
    });

  new Gauge({
    name: 'orderpilot_business_metrics_up',
    help: '1 when the business metrics below could be read at this scrape, else 0',
    registers: [registry],
    async collect() {
      this.set((await read()) ? 1 : 0);
    },
  });
  gauge('orderpilot_orders', 'Orders per state', ['state'], (s, set) => s.orders.byState.forEach((r) => set({ state: r.state }, r.count)));
  gauge('orderpilot_orders_held', 'Held orders per hold reason', ['reason'], (s, set) => s.orders.heldByReason.forEach((r) => set({ reason: r.reason }, r.count)));
  gauge('orderpilot_order_documents', "Orders per sales-document state (the order's document region)", ['state'], (s, set) =>
    s.orders.documentsByState.forEach((r) => set({ state: r.state }, r.count)),
  );
  gauge('orderpilot_outbox_backlog', 'Outbox rows not yet published to NATS', [], (s, set) => set({}, s.orders.outbox.backlog));
  gauge('orderpilot_outbox_oldest_age_seconds', 'Age of the oldest unpublished outbox row (0 when none)', [], (s, set) => set({}, s.orders.outbox.oldestAgeSeconds));
  gauge('orderpilot_notifications_open', 'Unacknowledged admin notifications per severity and kind', ['severity', 'kind'], (s, set) =>
    s.notifications.forEach((r) => set({ severity: r.severity, kind: r.kind }, r.count)),
  );
  gauge('orderpilot_dead_letters_open', 'Dead letters not replayed yet, per consumer', ['consumer'], (s, set) => s.deadLetters.forEach((r) => set({ consumer: r.consumer }, r.count)));
  gauge('orderpilot_consumer_pending', 'Messages in a stream not yet delivered to its consumer', ['stream', 'consumer'], (s, set) =>
    s.consumers.forEach((c) => set({ stream: c.stream, consumer: c.consumer }, c.pending)),
  );
  gauge('orderpilot_consumer_ack_pending', 'Messages delivered to a consumer and not acknowledged yet', ['stream', 'consumer'], (s, set) =>
    s.consumers.forEach((c) => set({ stream: c.stream, consumer: c.consumer }, c.ackPending)),
  );
  gauge('orderpilot_consumer_redelivered', 'Messages a consumer has had delivered more than once (now pending)', ['stream', 'consumer'], (s, set) =>
    s.consumers.forEach((c) => set({ stream: c.stream, consumer: c.consumer }, c.redelivered)),
  );
  gauge('orderpilot_shipment_outcomes', 'Orders per shipment outcome (handed_to_carrier, delivered, shipment_rejected, shipment_problem, …) and reason', ['outcome', 'reason'], (s, set) =>
    s.shipments.forEach((r) => set({ outcome: r.outcome, reason: r.reason }, r.count)),
  );
  gauge('orderpilot_ksef_documents_waiting', 'Documents sent to KSeF and waiting for its verdict (processing or offline)', [], (s, set) => set({}, s.ksefWaiting));
}
