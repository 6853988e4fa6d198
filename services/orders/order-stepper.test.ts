import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { orderMachine, type OrderData, type OrderEvent, type OrderSnapshot } from '../../machines/order/index.ts';
import { sampleOrder } from '../../test/support/orders.ts';
import { createOrderStepper } from './order-stepper.ts';

const at = '2026-11-28T10:00:00.000Z';
const order: OrderData = sampleOrder({ orderId: 'ord_1', placedAt: at });

/** Sequences through every region, with events that are not enabled where they arrive. */
const sequences: OrderEvent[][] = [
  [
    { type: 'DELIVERED', at },
    { type: 'PAYMENT_FAILED', provider: 'stripe', reason: 'card declined', at },
    { type: 'PAYMENT_CONFIRMED', provider: 'stripe', paymentId: 'pi_1', amount: 6500, currency: 'PLN', at },
    { type: 'PAYMENT_CONFIRMED', provider: 'stripe', paymentId: 'pi_1', amount: 6500, currency: 'PLN', at },
    { type: 'DOCUMENT_ISSUED', providerId: '77', number: 'FV/1/11/2026', issueDate: '2026-11-28', provider: 'fakturownia', at },
    { type: 'SHIPMENT_ACCEPTED', shipmentId: 'sh_1', at },
    { type: 'DOCUMENT_EMAILED', to: 'jan@example.com', messageId: '<m1>', at },
    { type: 'HANDED_TO_CARRIER', trackingNumber: 'TRK1', carrier: 'DPD', at },
    { type: 'DELIVERED', at },
  ],
  [
    { type: 'PAYMENT_CONFIRMED', provider: 'stripe', paymentId: 'pi_1', amount: 6500, currency: 'PLN', at },
    { type: 'SHIPMENT_REJECTED', code: 'OUT_OF_STOCK', message: 'SKU A out of stock', at },
    { type: 'DOCUMENT_FAILED', code: 'INVOICE_BUYER_TAX_ID_INVALID', message: 'bad NIP', stage: 'issue', at },
    { type: 'RELEASE', note: 'restocked', actor: 'anna', at },
    { type: 'RETRY_DOCUMENT', actor: 'anna', at },
    { type: 'CANCEL', note: 'customer asked', actor: 'anna', at },
  ],
  [{ type: 'PAYMENT_TIMEOUT', at }, { type: 'CANCEL', note: 'again', actor: 'anna', at }],
];

describe('order stepper (one actor scope for every step)', () => {
  it('steps exactly as XState’s transition(): snapshots, actions and "nothing enabled"', () => {
    const stepper = createOrderStepper();
    const [libStart, libStartActions] = initialTransition(orderMachine, { order });
    const [start, startActions] = stepper.initial({ order });
    expect(start.value).toEqual(libStart.value);
    expect(start.context).toEqual(libStart.context);
    expect(startActions.map((a) => [a.type, a.params])).toEqual(libStartActions.map((a) => [a.type, a.params]));

    for (const events of sequences) {
      let lib: OrderSnapshot = libStart;
      let ours: OrderSnapshot = start;
      for (const event of events) {
        const [libNext, libActions] = transition(orderMachine, lib, event);
        const [next, actions] = stepper.step(ours, event);
        expect({ value: next.value, context: next.context, status: next.status }).toEqual({ value: libNext.value, context: libNext.context, status: libNext.status });
        expect(actions.map((a) => [a.type, a.params])).toEqual(libActions.map((a) => [a.type, a.params]));
        // The host reads "the very same snapshot and no actions" as an ignored event.
        expect(next === ours).toBe(libNext === lib);
        lib = libNext;
        ours = next;
      }
    }
  });
});
