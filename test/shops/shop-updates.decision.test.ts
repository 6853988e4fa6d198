import { describe, expect, it } from 'vitest';
import { initialTransition, type StateValue } from 'xstate';
import { orderMachine, ORDER_MACHINE_VERSION } from '../../machines/order/index.ts';
import { makeEnvelope, natsNames, type ShopUpdate } from '../../services/contracts/index.ts';
import { decideOrderEvent, parseOrderEvent } from '../../services/orders/order-decision.ts';
import { sampleOrder } from '../support/orders.ts';

/**
 * The order host tells a connected shop what changed (pure, no I/O): each applied transition of an
 * order of a shop in SHOPS plans one `shop-update` on the order's shop-update partition, with the
 * order row's new version and the changes in the order they happened; the machine knows nothing of it.
 */
const names = natsNames('t', 4);
const at = '2026-11-30T08:00:00.000Z';

type Stored = { snapshot: { value: StateValue; context: Record<string, unknown> }; machine_version: string; version: number };

function run(shop: string | undefined, connectors: ReadonlySet<string>, events: Array<{ type: string; payload: unknown }>) {
  const order = { ...sampleOrder(), ...(shop === undefined ? {} : { shop }) };
  const [snap] = initialTransition(orderMachine, { order });
  let stored: Stored = { snapshot: { value: snap.value, context: JSON.parse(JSON.stringify(snap.context)) as Record<string, unknown> }, machine_version: ORDER_MACHINE_VERSION, version: 1 };
  const updates: Array<{ subject: string; id: string; payload: ShopUpdate }> = [];
  for (const e of events) {
    const d = decideOrderEvent(parseOrderEvent(makeEnvelope({ type: e.type, orderId: order.orderId, payload: e.payload }), 'test'), { processed: false, order: stored }, { names, now: new Date(at), paymentTimeoutMs: 1000, shopConnectors: connectors });
    if (d.outcome === 'duplicate' || !d.snapshot) throw new Error(`${e.type} not applied`);
    for (const o of d.effects.outbox) if (o.envelope.type === 'shop-update') updates.push({ subject: o.subject, id: o.envelope.id, payload: o.envelope.payload as ShopUpdate });
    stored = { snapshot: { value: d.snapshot.value, context: JSON.parse(JSON.stringify(d.snapshot.context)) as Record<string, unknown> }, machine_version: ORDER_MACHINE_VERSION, version: stored.version + 1 };
  }
  return { order, updates };
}

const journey = (total: number) => [
  { type: 'PAYMENT_CONFIRMED', payload: { provider: 'stripe', paymentId: 'pi_1', amount: total, currency: 'PLN' } },
  { type: 'SHIPMENT_REJECTED', payload: { code: 'OUT_OF_STOCK', message: 'MUG-1 is out of stock' } },
  { type: 'DOCUMENT_ISSUED', payload: { providerId: '7', number: 'FV/7/11/2026', issueDate: '2026-11-30', provider: 'fakturownia' } },
  { type: 'RELEASE', payload: { note: 'restocked' } },
  { type: 'SHIPMENT_ACCEPTED', payload: { shipmentId: 'sh_1' } },
  { type: 'HANDED_TO_CARRIER', payload: { trackingNumber: 'TRK1', carrier: 'InPost' } },
  { type: 'DELIVERED', payload: {} },
];

describe('order host → shops: shop updates planned from committed transitions', () => {
  it('paid, held with the reason, document, released, shipped with tracking, closed: in order, versioned, on the order partition', () => {
    const total = sampleOrder().total;
    const { order, updates } = run('woo', new Set(['woo']), journey(total));
    expect(updates.map((u) => u.payload.changes)).toEqual([
      [{ kind: 'paid' }],
      [{ kind: 'held', code: 'OUT_OF_STOCK', message: 'MUG-1 is out of stock' }],
      [{ kind: 'documentIssued', number: 'FV/7/11/2026' }],
      [{ kind: 'released' }],
      [{ kind: 'shipped', trackingNumber: 'TRK1', carrier: 'InPost' }],
      [{ kind: 'closed' }],
    ]);
    const versions = updates.map((u) => u.payload.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
    for (const u of updates) {
      expect(u.subject).toBe(names.subjects.shopUpdate(order.orderId));
      expect(u.id).toBe(`shop-update:${order.orderId}:${u.payload.version}`);
      expect(u.payload).toMatchObject({ shop: 'woo', orderId: order.orderId, externalId: order.externalId });
    }
  });

  it('nothing for an order of a shop without a connector, or without a shop', () => {
    const total = sampleOrder().total;
    expect(run('other', new Set(['woo']), journey(total)).updates).toEqual([]);
    expect(run(undefined, new Set(['woo']), journey(total)).updates).toEqual([]);
  });
});
