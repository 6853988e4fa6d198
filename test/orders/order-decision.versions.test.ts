import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type StateValue } from 'xstate';
import { orderMachine, ORDER_MACHINE_VERSION, type OrderEvent } from '../../machines/order/index.ts';
import { makeEnvelope, natsNames, OrderpilotError } from '../../services/contracts/index.ts';
import { decideOrderEvent, parseOrderEvent } from '../../services/orders/order-decision.ts';
import { sampleOrder } from '../support/orders.ts';

/**
 * The host and machine versions (pure, no I/O): an `order@1` snapshot (stored before refunds and
 * corrections existed: no `refunds`, `corrections`, `shipmentCancel`, `documentEmailTo`) is read,
 * cancelled with a refund and a correction, and written back as the current version; an unknown
 * version is refused instead of guessed.
 */
const names = natsNames('t', 4);
const order = sampleOrder();
const at = '2026-11-30T08:00:00.000Z';

function storedV1(): { snapshot: { value: StateValue; context: Record<string, unknown> }; machine_version: string; version: number } {
  let [snap] = initialTransition(orderMachine, { order });
  const events: OrderEvent[] = [
    { type: 'PAYMENT_CONFIRMED', provider: 'stripe', paymentId: 'pi_1', amount: order.total, currency: 'PLN', at },
    { type: 'SHIPMENT_ACCEPTED', shipmentId: 'sh_1', at },
    { type: 'DOCUMENT_ISSUED', providerId: '7', number: 'FV/7/11/2026', issueDate: '2026-11-30', provider: 'fakturownia', at },
  ];
  for (const e of events) [snap] = transition(orderMachine, snap, e);
  const context = JSON.parse(JSON.stringify(snap.context)) as Record<string, unknown>;
  for (const k of ['refunds', 'corrections', 'shipmentCancel', 'documentEmailTo']) delete context[k];
  return { snapshot: { value: snap.value, context }, machine_version: 'order@1', version: 4 };
}

const decide = (type: string, payload: unknown, stored: ReturnType<typeof storedV1>) =>
  decideOrderEvent(parseOrderEvent(makeEnvelope({ type, orderId: order.orderId, payload, actor: 'anna' }), 'test'), { processed: false, order: stored }, { names, now: new Date(at), paymentTimeoutMs: 1000 });

describe('order host: machine versions', () => {
  it('an order@1 snapshot is read, cancelled with refund and correction, and written back as the current version', () => {
    const cancel = decide('CANCEL', { note: 'old order' }, storedV1());
    if (cancel.outcome === 'duplicate' || !cancel.snapshot) throw new Error('not applied');
    expect(cancel.outcome).toBe('applied');
    expect(cancel.row).toMatchObject({ kind: 'update', state: { state: 'cancelling', machineVersion: ORDER_MACHINE_VERSION } });
    // Written back whole: a patch merged into the old shape would keep it old.
    expect(cancel.row).toMatchObject({ state: { contextPatch: null } });
    const afterCancel = { snapshot: { value: cancel.snapshot.value, context: JSON.parse(JSON.stringify(cancel.snapshot.context)) as Record<string, unknown> }, machine_version: 'order@1', version: 5 };
    const done = decide('SHIPMENT_CANCELLED', { existed: true }, afterCancel);
    if (done.outcome === 'duplicate') throw new Error('duplicate');
    expect(done.row).toMatchObject({ state: { state: 'cancelled', machineVersion: ORDER_MACHINE_VERSION } });
    const commands = done.effects.outbox.map((o) => o.envelope.type);
    expect(commands).toEqual(expect.arrayContaining(['refund-payment', 'issue-correction']));
    const refund = done.effects.outbox.find((o) => o.envelope.type === 'refund-payment');
    expect(refund?.envelope.payload).toMatchObject({ refundId: `${order.orderId}:refund:1`, amount: order.total, payment: { provider: 'stripe', paymentId: 'pi_1' } });
  });

  it('a snapshot of an unknown version is refused (UNKNOWN_MACHINE_VERSION), never guessed', () => {
    const stored = { ...storedV1(), machine_version: 'order@99' };
    let err: unknown;
    try {
      decide('CANCEL', {}, stored);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OrderpilotError);
    expect((err as OrderpilotError).code).toBe('UNKNOWN_MACHINE_VERSION');
  });
});
