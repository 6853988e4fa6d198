import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { orderMachine, type OrderEvent } from '../../machines/order/index.ts';
import { documentColumn } from '../../services/orders/order-decision.ts';
import { sampleOrder } from '../support/orders.ts';

/** The stored document column (pure): the region's state, and what became of the document once the region is gone. */
const at = '2026-11-30T08:00:00.000Z';
const order = sampleOrder();

function run(...events: OrderEvent[]) {
  let [snap] = initialTransition(orderMachine, { order });
  for (const e of events) [snap] = transition(orderMachine, snap, e);
  return snap;
}

const paid: OrderEvent = { type: 'PAYMENT_CONFIRMED', provider: 'stripe', paymentId: 'pi_1', amount: order.total, currency: 'PLN', at };
const issued: OrderEvent = { type: 'DOCUMENT_ISSUED', providerId: '7', number: 'FV/7/11/2026', issueDate: '2026-11-30', provider: 'fakturownia', at };

describe('document column', () => {
  it('follows the document region while it exists', () => {
    expect(documentColumn(run())).toBe('none');
    expect(documentColumn(run(paid))).toBe('requested');
    expect(documentColumn(run(paid, issued))).toBe('issued');
  });

  it('a cancelled order keeps saying what became of its document', () => {
    expect(documentColumn(run({ type: 'CANCEL', note: 'never paid', actor: 'anna', at }))).toBe('none');
    const emailed = run(paid, issued, { type: 'DOCUMENT_EMAILED', to: 'jan@example.com', messageId: '<m>', at }, { type: 'CANCEL', note: 'customer asked', actor: 'anna', at }, { type: 'SHIPMENT_CANCELLED', existed: true, at });
    expect(emailed.value).toBe('cancelled');
    expect(documentColumn(emailed)).toBe('emailed');
  });
});
