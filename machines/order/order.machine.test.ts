import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import {
  ADMIN_EVENT_TYPES,
  ORDER_EVENT_TYPES,
  awaitedEffects,
  allowedAdminEvents,
  documentStatus,
  orderMachine,
  orderStatus,
  restoreOrderSnapshot,
  type OrderData,
  type OrderEvent,
  type OrderSnapshot,
} from './index.ts';

const at = '2026-11-28T10:00:00.000Z';
const order: OrderData = {
  orderId: 'ord_1',
  externalId: 'SHOP-1',
  currency: 'PLN',
  language: 'pl',
  customer: { email: 'jan@example.com', name: 'Jan' },
  billingAddress: { name: 'Jan', line1: 'Prosta 1', city: 'Warszawa', postalCode: '00-001', country: 'PL' },
  shippingAddress: { name: 'Jan', line1: 'Prosta 1', city: 'Warszawa', postalCode: '00-001', country: 'PL' },
  lines: [{ sku: 'A', name: 'Kubek', quantity: 1, unitPrice: 5000, taxRate: 23 }],
  shippingPrice: 1500,
  total: 6500,
  placedAt: at,
};

const ev = {
  PAYMENT_CONFIRMED: { type: 'PAYMENT_CONFIRMED', provider: 'stripe', paymentId: 'pi_1', amount: 6500, currency: 'PLN', at },
  PAYMENT_FAILED: { type: 'PAYMENT_FAILED', provider: 'stripe', reason: 'card declined', at },
  PAYMENT_TIMEOUT: { type: 'PAYMENT_TIMEOUT', at },
  DOCUMENT_ISSUED: { type: 'DOCUMENT_ISSUED', providerId: '77', number: 'FV/1/11/2026', issueDate: '2026-11-28', provider: 'fakturownia', at },
  DOCUMENT_EMAILED: { type: 'DOCUMENT_EMAILED', to: 'jan@example.com', messageId: '<m1>', at },
  DOCUMENT_FAILED: { type: 'DOCUMENT_FAILED', code: 'INVOICE_BUYER_TAX_ID_INVALID', message: 'bad NIP', stage: 'issue', at },
  SHIPMENT_ACCEPTED: { type: 'SHIPMENT_ACCEPTED', shipmentId: 'sh_1', at },
  SHIPMENT_REJECTED: { type: 'SHIPMENT_REJECTED', code: 'OUT_OF_STOCK', message: 'SKU A out of stock', at },
  HANDED_TO_CARRIER: { type: 'HANDED_TO_CARRIER', trackingNumber: 'TRK1', carrier: 'DPD', at },
  DELIVERED: { type: 'DELIVERED', at },
  SHIPMENT_PROBLEM: { type: 'SHIPMENT_PROBLEM', code: 'LOST', message: 'parcel lost', at },
  RELEASE: { type: 'RELEASE', note: 'restocked', actor: 'anna', at },
  CANCEL: { type: 'CANCEL', note: 'customer asked', actor: 'anna', at },
  ISSUE_DOCUMENT: { type: 'ISSUE_DOCUMENT', note: 'NIP fixed', actor: 'anna', at },
  RETRY_DOCUMENT: { type: 'RETRY_DOCUMENT', actor: 'anna', at },
  MARK_SHIPPED: { type: 'MARK_SHIPPED', trackingNumber: 'MANUAL-1', carrier: 'InPost', note: 'sent by hand', actor: 'anna', at },
  KSEF_ACCEPTED: { type: 'KSEF_ACCEPTED', ksefNumber: '5260250274-20261128-0A1B2C3D4E5F-AB', verificationLink: 'https://ksef-test.mf.gov.pl/client-app/invoice/5260250274-20261128-0A1B2C3D4E5F-AB', at },
  KSEF_REJECTED: { type: 'KSEF_REJECTED', code: 'KSEF_REJECTED', errors: ['NIP nabywcy - nie może być puste'], at },
  KSEF_OFFLINE: { type: 'KSEF_OFFLINE', errors: [], at },
  RESEND_TO_KSEF: { type: 'RESEND_TO_KSEF', note: 'buyer NIP corrected', actor: 'anna', at },
  UPDATE_SHIPPING_ADDRESS: {
    type: 'UPDATE_SHIPPING_ADDRESS',
    shippingAddress: { name: 'Jan', line1: 'Długa 5', city: 'Kraków', postalCode: '30-001', country: 'PL' },
    note: 'customer phoned with the right address',
    actor: 'anna',
    at,
  },
  UPDATE_BUYER: { type: 'UPDATE_BUYER', customer: { name: 'Jan', company: 'ACME sp. z o.o.', taxId: '5260250274' }, note: 'NIP from the customer', actor: 'anna', at },
  ATTACH_DOCUMENT: { type: 'ATTACH_DOCUMENT', number: 'FV/9/11/2026', issueDate: '2026-11-28', note: 'issued by hand', actor: 'anna', at },
  RESEND_DOCUMENT_EMAIL: { type: 'RESEND_DOCUMENT_EMAIL', email: 'ksiegowosc@example.com', note: 'to accounting', actor: 'anna', at },
  REFUND: { type: 'REFUND', amount: 1500, reason: 'shipping refunded', note: 'courier was late', actor: 'anna', at },
  SHIPMENT_CANCELLED: { type: 'SHIPMENT_CANCELLED', existed: true, at },
  SHIPMENT_ADDRESS_CHANGED: { type: 'SHIPMENT_ADDRESS_CHANGED', at },
  SHIPMENT_ADDRESS_REFUSED: { type: 'SHIPMENT_ADDRESS_REFUSED', code: 'ADDRESS_CHANGE_TOO_LATE', message: 'with DPD', at },
  SHIPMENT_CANCEL_REFUSED: { type: 'SHIPMENT_CANCEL_REFUSED', code: 'CANCEL_TOO_LATE', message: 'the shipment is with DPD', at },
  REFUND_COMPLETED: { type: 'REFUND_COMPLETED', refundId: 'ord_1:refund:1', providerRefundId: 're_1', at },
  REFUND_FAILED: { type: 'REFUND_FAILED', refundId: 'ord_1:refund:1', code: 'RETRIES_EXHAUSTED', message: 'provider down', at },
  CORRECTION_ISSUED: { type: 'CORRECTION_ISSUED', correctionId: 'ord_1:correction:1', providerId: '88', number: 'FK/1/11/2026', issueDate: '2026-11-28', provider: 'fakturownia', at },
  CORRECTION_KSEF_ACCEPTED: { type: 'CORRECTION_KSEF_ACCEPTED', correctionId: 'ord_1:correction:1', ksefNumber: '5260250274-20261128-0A1B2C3D4E5F-CD', verificationLink: null, at },
  CORRECTION_KSEF_REJECTED: { type: 'CORRECTION_KSEF_REJECTED', correctionId: 'ord_1:correction:1', code: 'KSEF_REJECTED', errors: ['Brak faktury korygowanej'], at },
  CORRECTION_EMAILED: { type: 'CORRECTION_EMAILED', correctionId: 'ord_1:correction:1', to: 'jan@example.com', messageId: '<c1>', at },
  CORRECTION_FAILED: { type: 'CORRECTION_FAILED', correctionId: 'ord_1:correction:1', code: 'INVOICE_REJECTED', message: 'no', stage: 'issue', at },
} satisfies { [K in OrderEvent['type']]: Extract<OrderEvent, { type: K }> };
/** The mailer's failure: the document exists, its e-mail did not go. */
const MAIL_FAILED: OrderEvent = { type: 'DOCUMENT_FAILED', code: 'MAIL_REJECTED', message: '550 no such user', stage: 'email', at };

function start(): OrderSnapshot {
  return initialTransition(orderMachine, { order })[0];
}

/** Applies events in order through a JSON round trip each time, as the host does. */
function run(...events: OrderEvent[]): { snap: OrderSnapshot; effects: string[] } {
  let snap = start();
  const effects: string[] = [];
  for (const e of events) {
    const restored = restoreOrderSnapshot(JSON.parse(JSON.stringify(snap)) as { value: OrderSnapshot['value']; context: unknown });
    const [next, actions] = transition(orderMachine, restored, e);
    effects.push(...actions.map((a) => a.type));
    snap = next;
  }
  return { snap, effects };
}

const status = (s: OrderSnapshot) => orderStatus(s.value);

describe('order machine: pending', () => {
  it('starts pending and schedules the payment timeout', () => {
    const [snap, actions] = initialTransition(orderMachine, { order });
    expect(snap.value).toBe('pending');
    expect(actions.map((a) => a.type)).toEqual(['schedulePaymentTimeout']);
  });

  it('a matching payment moves through paid into processing and starts both processes', () => {
    const { snap, effects } = run(ev.PAYMENT_CONFIRMED);
    expect(snap.value).toEqual({ processing: { fulfilment: 'submitting', document: 'requested' } });
    expect(status(snap)).toBe('processing');
    expect(effects).toEqual(['cancelPaymentTimeout', 'submitToWarehouse', 'requestDocument']);
    expect(snap.context.payment).toMatchObject({ paymentId: 'pi_1', amount: 6500 });
  });

  it('a payment of the wrong amount or currency is not a payment: stays pending, admin notified', () => {
    for (const wrong of [{ amount: 6499 }, { currency: 'EUR' }]) {
      const { snap, effects } = run({ ...ev.PAYMENT_CONFIRMED, ...wrong });
      expect(snap.value).toBe('pending');
      expect(effects).toEqual(['notifyAdmin']);
    }
  });

  it('a failed payment is counted and the order stays pending', () => {
    const { snap } = run(ev.PAYMENT_FAILED, ev.PAYMENT_FAILED);
    expect(snap.value).toBe('pending');
    expect(snap.context.paymentFailures).toBe(2);
  });

  it('the payment timeout and an admin cancel both cancel it', () => {
    expect(run(ev.PAYMENT_TIMEOUT).snap.context.cancellation).toMatchObject({ reason: 'PAYMENT_TIMEOUT' });
    const cancelled = run(ev.CANCEL);
    expect(cancelled.snap.value).toBe('cancelled');
    expect(cancelled.effects).toEqual(['cancelPaymentTimeout']);
    expect(cancelled.snap.context.cancellation).toEqual({ reason: 'ADMIN_CANCEL', note: 'customer asked', by: 'anna' });
  });

  it('a payment after cancellation is ignored as a transition but tells an admin', () => {
    const { snap, effects } = run(ev.CANCEL, ev.PAYMENT_CONFIRMED);
    expect(snap.value).toBe('cancelled');
    expect(effects.at(-1)).toBe('notifyAdmin');
  });
});

describe('order machine: fulfilment region', () => {
  it('happy path: accepted → inShipment (tracking saved) → closed', () => {
    const { snap } = run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_ACCEPTED, ev.HANDED_TO_CARRIER, ev.DELIVERED);
    expect(status(snap)).toBe('closed');
    expect(snap.context).toMatchObject({ shipmentId: 'sh_1', trackingNumber: 'TRK1', carrier: 'DPD' });
  });

  it('DELIVERED before HANDED_TO_CARRIER still closes the order', () => {
    expect(status(run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_ACCEPTED, ev.DELIVERED).snap)).toBe('closed');
  });

  it('a late HANDED_TO_CARRIER after DELIVERED keeps its tracking number (no effects)', () => {
    const closed = run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_ACCEPTED, ev.DELIVERED).snap;
    const [next, actions] = transition(orderMachine, closed, ev.HANDED_TO_CARRIER);
    expect(status(next)).toBe('closed');
    expect(next.context).toMatchObject({ trackingNumber: 'TRK1', carrier: 'DPD' });
    expect(actions).toEqual([]);
  });

  it('a warehouse problem that overtakes the submit answer holds the order', () => {
    const { snap } = run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_PROBLEM);
    expect(status(snap)).toBe('held');
    expect(snap.context.hold?.code).toBe('LOST');
  });

  it('a rejection holds with the reason and notifies an admin', () => {
    const { snap, effects } = run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_REJECTED);
    expect(status(snap)).toBe('held');
    expect(snap.context.hold).toEqual({ code: 'OUT_OF_STOCK', message: 'SKU A out of stock', since: at });
    expect(effects.at(-1)).toBe('notifyAdmin');
  });

  it('RETURNED / LOST problems in shipment hold the order', () => {
    const { snap } = run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_ACCEPTED, ev.HANDED_TO_CARRIER, ev.SHIPMENT_PROBLEM);
    expect(status(snap)).toBe('held');
    expect(snap.context.hold?.code).toBe('LOST');
  });

  it('RELEASE needs a note, keeps it, and resubmits to the warehouse', () => {
    const held = run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_REJECTED).snap;
    expect(held.can({ type: 'RELEASE', note: '  ', at })).toBe(false);
    const [next, actions] = transition(orderMachine, held, ev.RELEASE);
    expect(status(next)).toBe('processing');
    expect(next.context.hold).toBeNull();
    expect(next.context.lastAdminNote).toEqual({ note: 'restocked', by: 'anna', at });
    expect(actions.map((a) => [a.type, a.params])).toEqual([['submitToWarehouse', { reason: 'release' }]]);
  });

  it('MARK_SHIPPED needs a tracking number and moves a held order into shipment', () => {
    const held = run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_REJECTED).snap;
    expect(held.can({ ...ev.MARK_SHIPPED, trackingNumber: ' ' })).toBe(false);
    const [next] = transition(orderMachine, held, ev.MARK_SHIPPED);
    expect(status(next)).toBe('inShipment');
    expect(next.context.trackingNumber).toBe('MANUAL-1');
  });

  it('CANCEL of a held (paid) order asks the warehouse to cancel first, then it is cancelled', () => {
    const { snap, effects } = run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_REJECTED, ev.CANCEL);
    expect(status(snap)).toBe('cancelling');
    expect(effects.slice(-1)).toEqual(['cancelShipment']);
    expect(status(run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_REJECTED, ev.CANCEL, ev.SHIPMENT_CANCELLED).snap)).toBe('cancelled');
  });
});

describe('order machine: document region (parallel to fulfilment)', () => {
  it('requested → issued (saved) → emailed', () => {
    const { snap, effects } = run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_ISSUED, ev.DOCUMENT_EMAILED);
    expect(documentStatus(snap.value)).toBe('emailed');
    expect(snap.context.document).toEqual({ providerId: '77', number: 'FV/1/11/2026', issueDate: '2026-11-28', provider: 'fakturownia' });
    expect(effects).toContain('emailDocument');
  });

  it('a failed document notifies an admin and never stops fulfilment', () => {
    const { snap, effects } = run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_FAILED, ev.SHIPMENT_ACCEPTED, ev.HANDED_TO_CARRIER, ev.DELIVERED);
    expect(documentStatus(snap.value)).toBe('failed');
    expect(status(snap)).toBe('closed');
    expect(effects).toContain('notifyAdmin');
    expect(snap.context.documentFailure?.code).toBe('INVOICE_BUYER_TAX_ID_INVALID');
  });

  it('ISSUE_DOCUMENT goes back to requested (even after the order closed)', () => {
    const closedFailed = run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_FAILED, ev.SHIPMENT_ACCEPTED, ev.DELIVERED).snap;
    const [next, actions] = transition(orderMachine, closedFailed, ev.ISSUE_DOCUMENT);
    expect(documentStatus(next.value)).toBe('requested');
    expect(status(next)).toBe('closed');
    expect(actions.map((a) => [a.type, a.params])).toEqual([['requestDocument', { reason: 'admin' }]]);
  });

  it('RETRY_DOCUMENT retries only the e-mail when the document exists', () => {
    const mailFailed = run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_ISSUED, MAIL_FAILED).snap;
    const [next, actions] = transition(orderMachine, mailFailed, ev.RETRY_DOCUMENT);
    expect(documentStatus(next.value)).toBe('issued');
    expect(actions.map((a) => a.type)).toEqual(['emailDocument']);
    const issueFailed = run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_FAILED).snap;
    expect(documentStatus(transition(orderMachine, issueFailed, ev.RETRY_DOCUMENT)[0].value)).toBe('requested');
  });

  it('an issued document is undone only by its e-mail failing, never by a late issue failure of a twin command', () => {
    const issued = run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_ISSUED).snap;
    const [same] = transition(orderMachine, issued, ev.DOCUMENT_FAILED);
    expect(documentStatus(same.value)).toBe('issued');
    expect(same).toBe(issued);
    const [mailFailed] = transition(orderMachine, issued, MAIL_FAILED);
    expect(documentStatus(mailFailed.value)).toBe('failed');
    expect(mailFailed.context.document?.number).toBe('FV/1/11/2026');
  });

  it('after a failed e-mail a twin report of the same document changes nothing (no second e-mail)', () => {
    const mailFailed = run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_ISSUED, MAIL_FAILED).snap;
    const [next, actions] = transition(orderMachine, mailFailed, ev.DOCUMENT_ISSUED);
    expect(next).toBe(mailFailed);
    expect(actions).toEqual([]);
  });

  it('a late DOCUMENT_ISSUED after a failure still saves the document', () => {
    const { snap } = run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_FAILED, ev.DOCUMENT_ISSUED);
    expect(documentStatus(snap.value)).toBe('issued');
    expect(snap.context.documentFailure).toBeNull();
  });
});

describe('order machine: document region with KSeF', () => {
  const sent = { ...ev.DOCUMENT_ISSUED, ksef: 'sent' as const };

  it('sent to KSeF → waits (no e-mail) → accepted with number and link → e-mail → emailed', () => {
    const waiting = run(ev.PAYMENT_CONFIRMED, sent);
    expect(documentStatus(waiting.snap.value)).toBe('ksefSent');
    expect(waiting.effects).not.toContain('emailDocument');
    expect(waiting.snap.context.ksef).toMatchObject({ status: 'sent', number: null, sends: 1 });
    const { snap, effects } = run(ev.PAYMENT_CONFIRMED, sent, ev.KSEF_ACCEPTED, ev.DOCUMENT_EMAILED);
    expect(documentStatus(snap.value)).toBe('emailed');
    expect(effects.filter((e) => e === 'emailDocument')).toHaveLength(1);
    expect(snap.context.ksef).toMatchObject({ status: 'accepted', number: ev.KSEF_ACCEPTED.ksefNumber, verificationLink: ev.KSEF_ACCEPTED.verificationLink });
  });

  it('a document outside KSeF is e-mailed at once, as before', () => {
    const { snap, effects } = run(ev.PAYMENT_CONFIRMED, { ...ev.DOCUMENT_ISSUED, ksef: 'outside' });
    expect(documentStatus(snap.value)).toBe('issued');
    expect(effects).toContain('emailDocument');
    expect(snap.context.ksef).toBeNull();
  });

  it('rejected → critical notice with the messages, no e-mail; RESEND_TO_KSEF → sent again → accepted → e-mail', () => {
    const rejected = run(ev.PAYMENT_CONFIRMED, sent, ev.KSEF_REJECTED);
    expect(documentStatus(rejected.snap.value)).toBe('ksefRejected');
    expect(rejected.effects).not.toContain('emailDocument');
    const [, notice] = transition(orderMachine, run(ev.PAYMENT_CONFIRMED, sent).snap, ev.KSEF_REJECTED);
    expect(notice.map((a) => [a.type, a.params])).toEqual([
      ['notifyAdmin', expect.objectContaining({ kind: 'document.ksef-rejected', severity: 'critical', code: 'KSEF_REJECTED', message: expect.stringContaining('NIP nabywcy - nie może być puste') })],
    ]);
    expect(allowedAdminEvents(rejected.snap)).toEqual(['CANCEL', 'RESEND_TO_KSEF', 'REFUND']);
    const [resent, actions] = transition(orderMachine, rejected.snap, ev.RESEND_TO_KSEF);
    expect(documentStatus(resent.value)).toBe('ksefSent');
    expect(actions.map((a) => a.type)).toEqual(['resendToKsef']);
    expect(resent.context.ksef).toMatchObject({ status: 'sent', sends: 2, errors: [] });
    expect(resent.context.lastAdminNote?.note).toBe('buyer NIP corrected');
    const { snap, effects } = run(ev.PAYMENT_CONFIRMED, sent, ev.KSEF_REJECTED, ev.RESEND_TO_KSEF, ev.KSEF_ACCEPTED);
    expect(documentStatus(snap.value)).toBe('issued');
    expect(effects.filter((e) => e === 'emailDocument')).toHaveLength(1);
  });

  it('offline → warning notice, e-mail still waits; accepted later → e-mail', () => {
    const [offline, actions] = transition(orderMachine, run(ev.PAYMENT_CONFIRMED, sent).snap, ev.KSEF_OFFLINE);
    expect(documentStatus(offline.value)).toBe('ksefOffline');
    expect(actions.map((a) => [a.type, (a.params as { severity?: string } | undefined)?.severity])).toEqual([['notifyAdmin', 'warning']]);
    const [accepted, later] = transition(orderMachine, offline, ev.KSEF_ACCEPTED);
    expect(documentStatus(accepted.value)).toBe('issued');
    expect(later.map((a) => a.type)).toEqual(['emailDocument']);
  });

  it('a late acceptance after a rejection still counts; repeated verdicts change nothing', () => {
    const { snap } = run(ev.PAYMENT_CONFIRMED, sent, ev.KSEF_REJECTED, ev.KSEF_ACCEPTED);
    expect(documentStatus(snap.value)).toBe('issued');
    const [again, actions] = transition(orderMachine, snap, ev.KSEF_ACCEPTED);
    expect(again.value).toEqual(snap.value);
    expect(actions).toEqual([]);
    expect(transition(orderMachine, snap, ev.KSEF_REJECTED)[1]).toEqual([]);
  });

  it('RESEND_TO_KSEF is refused unless KSeF rejected the document', () => {
    expect(run(ev.PAYMENT_CONFIRMED, sent).snap.can(ev.RESEND_TO_KSEF)).toBe(false);
    expect(run(ev.PAYMENT_CONFIRMED, sent, ev.KSEF_ACCEPTED).snap.can(ev.RESEND_TO_KSEF)).toBe(false);
  });

  it('a snapshot stored before KSeF support (no ksef field) still restores and moves on', () => {
    const old = JSON.parse(JSON.stringify(run(ev.PAYMENT_CONFIRMED).snap)) as { value: OrderSnapshot['value']; context: Record<string, unknown> };
    delete old.context['ksef'];
    const [next] = transition(orderMachine, restoreOrderSnapshot(old), sent);
    expect(documentStatus(next.value)).toBe('ksefSent');
    expect(next.context.ksef?.sends).toBe(1);
  });
});

describe('order machine: admin repairs (correct the data, then continue)', () => {
  const paramsOf = (snapBefore: OrderSnapshot, e: OrderEvent) => transition(orderMachine, snapBefore, e)[1];

  it('UPDATE_SHIPPING_ADDRESS on a pending order only replaces the address (nothing has gone out)', () => {
    const { snap, effects } = run(ev.UPDATE_SHIPPING_ADDRESS);
    expect(status(snap)).toBe('pending');
    expect(snap.context.order.shippingAddress.city).toBe('Kraków');
    expect(snap.context.order.billingAddress.city).toBe('Warszawa');
    expect(snap.context.lastAdminNote).toMatchObject({ note: 'customer phoned with the right address', by: 'anna' });
    expect(effects).toEqual([]);
  });

  it('UPDATE_SHIPPING_ADDRESS on a held order clears the hold and resubmits with the new address (a release)', () => {
    const held = run(ev.PAYMENT_CONFIRMED, { ...ev.SHIPMENT_REJECTED, code: 'ADDRESS_INVALID', message: 'no such street' }).snap;
    const actions = paramsOf(held, ev.UPDATE_SHIPPING_ADDRESS);
    const [next] = transition(orderMachine, held, ev.UPDATE_SHIPPING_ADDRESS);
    expect(status(next)).toBe('processing');
    expect(next.context.hold).toBeNull();
    expect(next.context.order.shippingAddress.line1).toBe('Długa 5');
    expect(next.context.warehouseSubmissions).toBe(2);
    expect(actions).toContainEqual(expect.objectContaining({ type: 'submitToWarehouse', params: { reason: 'release' } }));
  });

  it('UPDATE_SHIPPING_ADDRESS needs a note, and is refused once a carrier has had the parcel', () => {
    const held = run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_REJECTED).snap;
    expect(held.can({ ...ev.UPDATE_SHIPPING_ADDRESS, note: ' ' })).toBe(false);
    // Lost in transit: a carrier had the parcel, a new address cannot reach it.
    expect(run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_ACCEPTED, ev.HANDED_TO_CARRIER, ev.SHIPMENT_PROBLEM).snap.can(ev.UPDATE_SHIPPING_ADDRESS)).toBe(false);
    expect(run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_ACCEPTED, ev.HANDED_TO_CARRIER).snap.can(ev.UPDATE_SHIPPING_ADDRESS)).toBe(false);
  });

  it('UPDATE_SHIPPING_ADDRESS while the warehouse has the shipment (no carrier yet): asked of the warehouse, applied only once it says so', () => {
    const accepted = run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_ACCEPTED).snap;
    const [asked, actions] = transition(orderMachine, accepted, ev.UPDATE_SHIPPING_ADDRESS);
    expect(actions.map((a) => a.type)).toContain('changeShipmentAddress');
    expect(asked.context.order.shippingAddress.city).toBe('Warszawa');
    expect(asked.context.pendingShippingAddress?.city).toBe('Kraków');
    // One change at a time.
    expect(asked.can(ev.UPDATE_SHIPPING_ADDRESS)).toBe(false);
    const [changed] = transition(orderMachine, asked, ev.SHIPMENT_ADDRESS_CHANGED);
    expect(changed.context.order.shippingAddress.city).toBe('Kraków');
    expect(changed.context.pendingShippingAddress).toBeNull();
    // The carrier took it meanwhile: refused, the old address stays, an admin is told.
    const [refused, notice] = transition(orderMachine, transition(orderMachine, asked, ev.HANDED_TO_CARRIER)[0], ev.SHIPMENT_ADDRESS_REFUSED);
    expect(refused.context.order.shippingAddress.city).toBe('Warszawa');
    expect(refused.context.pendingShippingAddress).toBeNull();
    expect(notice).toContainEqual(expect.objectContaining({ type: 'notifyAdmin', params: expect.objectContaining({ kind: 'shipment.address-refused', code: 'ADDRESS_CHANGE_TOO_LATE' }) }));
    // Nothing pending: a stray answer changes nothing.
    expect(transition(orderMachine, accepted, ev.SHIPMENT_ADDRESS_CHANGED)[1]).toEqual([]);
    // A late answer to an older change (another address asked for) does not settle the pending one.
    const pending = asked.context.pendingShippingAddress!;
    const older = { ...pending, line1: 'ul. Dawna 1' };
    const [same, none] = transition(orderMachine, asked, { type: 'SHIPMENT_ADDRESS_REFUSED', code: 'ADDRESS_CHANGE_TOO_LATE', message: 'carrier has it', address: older, at });
    expect(same.context.pendingShippingAddress).toEqual(pending);
    expect(none).toEqual([]);
    const [settled] = transition(orderMachine, asked, { type: 'SHIPMENT_ADDRESS_CHANGED', address: { ...pending }, at });
    expect(settled.context.order.shippingAddress).toEqual(pending);
    expect(settled.context.pendingShippingAddress).toBeNull();
  });

  it('UPDATE_SHIPPING_ADDRESS on an order held at the warehouse (its shipment there, no carrier): asked of the warehouse; once it took it, released with the new address', () => {
    const held = run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_ACCEPTED, { ...ev.SHIPMENT_PROBLEM, code: 'ON_HOLD', message: 'address unclear' }).snap;
    expect(status(held)).toBe('held');
    const [asked, actions] = transition(orderMachine, held, ev.UPDATE_SHIPPING_ADDRESS);
    expect(actions.map((a) => a.type)).toContain('changeShipmentAddress');
    expect(status(asked)).toBe('held');
    expect(asked.context.order.shippingAddress.city).toBe('Warszawa');
    expect(asked.can(ev.UPDATE_SHIPPING_ADDRESS)).toBe(false);
    const [released, next] = transition(orderMachine, asked, ev.SHIPMENT_ADDRESS_CHANGED);
    expect(status(released)).toBe('processing');
    expect(released.context.hold).toBeNull();
    expect(released.context.order.shippingAddress.city).toBe('Kraków');
    expect(next).toContainEqual(expect.objectContaining({ type: 'submitToWarehouse', params: { reason: 'release' } }));
    // Refused (the parcel left meanwhile): still held with the old address, an admin is told.
    const [refused, notice] = transition(orderMachine, asked, ev.SHIPMENT_ADDRESS_REFUSED);
    expect(status(refused)).toBe('held');
    expect(refused.context.order.shippingAddress.city).toBe('Warszawa');
    expect(notice).toContainEqual(expect.objectContaining({ type: 'notifyAdmin', params: expect.objectContaining({ kind: 'shipment.address-refused' }) }));
  });

  it('UPDATE_BUYER replaces name, company and tax id (the e-mail stays) and, after a failed document, issues it again', () => {
    const failed = run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_FAILED).snap;
    const [next, actions] = transition(orderMachine, failed, { ...ev.UPDATE_BUYER, billingAddress: { name: 'ACME', line1: 'Firmowa 2', city: 'Łódź', postalCode: '90-001', country: 'PL' } });
    expect(documentStatus(next.value)).toBe('requested');
    expect(next.context.order.customer).toEqual({ email: 'jan@example.com', name: 'Jan', company: 'ACME sp. z o.o.', taxId: '5260250274' });
    expect(next.context.order.billingAddress.city).toBe('Łódź');
    expect(actions).toContainEqual(expect.objectContaining({ type: 'requestDocument', params: { reason: 'admin' } }));
    // Leaving company and tax id out removes them (a company corrected to a private buyer).
    const [privateBuyer] = transition(orderMachine, next, { type: 'UPDATE_BUYER', customer: { name: 'Jan Kowalski' }, note: 'private after all', at });
    expect(privateBuyer.context.order.customer).toEqual({ email: 'jan@example.com', name: 'Jan Kowalski' });
    expect(privateBuyer.context.order.billingAddress.city).toBe('Łódź');
  });

  it('UPDATE_BUYER is refused once the order has a document', () => {
    expect(run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_ISSUED).snap.can(ev.UPDATE_BUYER)).toBe(false);
    expect(run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_ISSUED, MAIL_FAILED).snap.can(ev.UPDATE_BUYER)).toBe(false);
    expect(run(ev.CANCEL).snap.can(ev.UPDATE_BUYER)).toBe(false);
  });

  it('ISSUE_DOCUMENT is offered whenever there is no document: while requested it asks again', () => {
    const requested = run(ev.PAYMENT_CONFIRMED).snap;
    const [next, actions] = transition(orderMachine, requested, ev.ISSUE_DOCUMENT);
    expect(documentStatus(next.value)).toBe('requested');
    expect(next.context.documentRequests).toBe(2);
    expect(actions).toContainEqual(expect.objectContaining({ type: 'requestDocument', params: { reason: 'admin' } }));
    expect(run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_ISSUED).snap.can(ev.ISSUE_DOCUMENT)).toBe(false);
    expect(run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_ISSUED, MAIL_FAILED).snap.can(ev.ISSUE_DOCUMENT)).toBe(false);
  });

  it('ATTACH_DOCUMENT asks the invoicing service to look it up; found → issued and e-mailed', () => {
    const failed = run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_FAILED).snap;
    const [attaching, actions] = transition(orderMachine, failed, ev.ATTACH_DOCUMENT);
    expect(documentStatus(attaching.value)).toBe('attaching');
    expect(actions).toContainEqual(expect.objectContaining({ type: 'verifyDocument', params: { number: 'FV/9/11/2026', issueDate: '2026-11-28' } }));
    const found = { ...ev.DOCUMENT_ISSUED, providerId: '1234', number: 'FV/9/11/2026' };
    const [issued, after] = transition(orderMachine, attaching, found);
    expect(documentStatus(issued.value)).toBe('issued');
    expect(issued.context.document).toMatchObject({ providerId: '1234', number: 'FV/9/11/2026' });
    expect(after).toContainEqual(expect.objectContaining({ type: 'emailDocument', params: { to: null, resend: false } }));
  });

  it('ATTACH_DOCUMENT not found at the invoicing system → recorded as attached, nothing to e-mail; a mismatch → failed', () => {
    const attaching = run(ev.PAYMENT_CONFIRMED, ev.ATTACH_DOCUMENT).snap;
    const manual: OrderEvent = { type: 'DOCUMENT_ISSUED', providerId: 'manual:FV/9/11/2026', number: 'FV/9/11/2026', issueDate: '2026-11-28', provider: 'manual', at };
    const [attached, actions] = transition(orderMachine, attaching, manual);
    expect(documentStatus(attached.value)).toBe('attached');
    expect(attached.context.document?.provider).toBe('manual');
    expect(actions.map((a) => a.type)).not.toContain('emailDocument');
    expect(allowedAdminEvents(attached)).not.toContain('ATTACH_DOCUMENT');
    const [failed] = transition(orderMachine, attaching, { type: 'DOCUMENT_FAILED', code: 'DOCUMENT_ATTACH_MISMATCH', message: 'belongs to another order', stage: 'issue', at });
    expect(documentStatus(failed.value)).toBe('failed');
    expect(failed.context.documentFailure?.code).toBe('DOCUMENT_ATTACH_MISMATCH');
  });

  it('RESEND_DOCUMENT_EMAIL after the e-mail went: a new e-mail to the given address, its report recorded', () => {
    const emailed = run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_ISSUED, ev.DOCUMENT_EMAILED).snap;
    const [next, actions] = transition(orderMachine, emailed, ev.RESEND_DOCUMENT_EMAIL);
    expect(documentStatus(next.value)).toBe('emailed');
    expect(actions).toContainEqual(expect.objectContaining({ type: 'emailDocument', params: { to: 'ksiegowosc@example.com', resend: true } }));
    expect(next.context.lastAdminNote?.note).toBe('to accounting');
    const later = '2026-11-28T11:00:00.000Z';
    const [reported] = transition(orderMachine, next, { type: 'DOCUMENT_EMAILED', to: 'ksiegowosc@example.com', messageId: '<m2>', resend: true, at: later });
    expect(reported.context.documentEmailedAt).toBe(later);
    // A twin report of the first e-mail is still ignored.
    const [twin, none] = transition(orderMachine, emailed, { ...ev.DOCUMENT_EMAILED, at: later });
    expect(twin).toBe(emailed);
    expect(none).toEqual([]);
  });

  it('RESEND_DOCUMENT_EMAIL after a failed e-mail sends it again to the new address', () => {
    const failed = run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_ISSUED, MAIL_FAILED).snap;
    const [next, actions] = transition(orderMachine, failed, ev.RESEND_DOCUMENT_EMAIL);
    expect(documentStatus(next.value)).toBe('issued');
    expect(next.context.documentEmailTo).toBe('ksiegowosc@example.com');
    expect(actions).toContainEqual(expect.objectContaining({ type: 'emailDocument', params: { to: 'ksiegowosc@example.com', resend: false } }));
    expect(run(ev.PAYMENT_CONFIRMED).snap.can(ev.RESEND_DOCUMENT_EMAIL)).toBe(false);
  });

  it('a snapshot stored before the repairs (no documentEmailTo) restores and e-mails to the customer', () => {
    const old = JSON.parse(JSON.stringify(run(ev.PAYMENT_CONFIRMED).snap)) as { value: OrderSnapshot['value']; context: Record<string, unknown> };
    delete old.context['documentEmailTo'];
    const [, actions] = transition(orderMachine, restoreOrderSnapshot(old), ev.DOCUMENT_ISSUED);
    expect(actions).toContainEqual(expect.objectContaining({ type: 'emailDocument', params: { to: null, resend: false } }));
  });
});

describe('order machine: cancel means something (warehouse, refund, correction)', () => {
  const paidWithDocument = [ev.PAYMENT_CONFIRMED, ev.SHIPMENT_ACCEPTED, ev.DOCUMENT_ISSUED, ev.DOCUMENT_EMAILED];

  it('a paid order with a document: cancel → warehouse cancel → full refund and full correction → cancelled', () => {
    const cancelling = run(...paidWithDocument, ev.CANCEL).snap;
    expect(status(cancelling)).toBe('cancelling');
    expect(cancelling.context.shipmentCancel).toEqual({ status: 'requested', message: null });
    expect(cancelling.context.cancellation).toMatchObject({ reason: 'ADMIN_CANCEL', by: 'anna', note: 'customer asked' });
    const [cancelled, actions] = transition(orderMachine, cancelling, ev.SHIPMENT_CANCELLED);
    expect(status(cancelled)).toBe('cancelled');
    expect(cancelled.context.shipmentCancel?.status).toBe('cancelled');
    expect(cancelled.context.refunds).toEqual([
      { refundId: 'ord_1:refund:1', amount: 6500, reason: 'order cancelled: customer asked', status: 'requested', providerRefundId: null, error: null, requestedAt: at, settledAt: null },
    ]);
    expect(cancelled.context.corrections).toMatchObject([{ correctionId: 'ord_1:correction:1', amount: 6500, full: true, status: 'requested', document: null }]);
    expect(actions.filter((a) => a.type === 'refundPayment' || a.type === 'issueCorrection')).toEqual([
      expect.objectContaining({ type: 'refundPayment', params: { refundId: 'ord_1:refund:1' } }),
      expect.objectContaining({ type: 'issueCorrection', params: { correctionId: 'ord_1:correction:1' } }),
    ]);
  });

  it('refund and correction results are recorded; the correction is e-mailed once issued (or once KSeF accepts it)', () => {
    const cancelled = run(...paidWithDocument, ev.CANCEL, ev.SHIPMENT_CANCELLED).snap;
    const [refunded] = transition(orderMachine, cancelled, ev.REFUND_COMPLETED);
    expect(refunded.context.refunds?.[0]).toMatchObject({ status: 'refunded', providerRefundId: 're_1', settledAt: at });
    const [issued, mail] = transition(orderMachine, refunded, ev.CORRECTION_ISSUED);
    expect(issued.context.corrections?.[0]).toMatchObject({ status: 'issued', document: { number: 'FK/1/11/2026', providerId: '88' } });
    expect(mail).toContainEqual(expect.objectContaining({ type: 'emailCorrection', params: { correctionId: 'ord_1:correction:1' } }));
    const [emailed] = transition(orderMachine, issued, ev.CORRECTION_EMAILED);
    expect(emailed.context.corrections?.[0]?.status).toBe('emailed');
    // Duplicates change nothing.
    expect(transition(orderMachine, emailed, ev.CORRECTION_ISSUED)[1]).toEqual([]);
    expect(transition(orderMachine, emailed, ev.REFUND_COMPLETED)[1]).toEqual([]);

    const [ksefSent, none] = transition(orderMachine, refunded, { ...ev.CORRECTION_ISSUED, ksef: 'sent' });
    expect(ksefSent.context.corrections?.[0]?.status).toBe('ksefSent');
    expect(none.map((a) => a.type)).not.toContain('emailCorrection');
    const [rejected, notice] = transition(orderMachine, ksefSent, ev.CORRECTION_KSEF_REJECTED);
    expect(rejected.context.corrections?.[0]?.status).toBe('ksefRejected');
    expect(notice).toContainEqual(expect.objectContaining({ type: 'notifyAdmin', params: expect.objectContaining({ kind: 'correction.ksef-rejected', severity: 'critical' }) }));
    // Fixed at the invoicing system: RESEND_TO_KSEF names the correction and goes the same poll path.
    expect(allowedAdminEvents(rejected)).toContain('RESEND_TO_KSEF');
    const [resent, resend] = transition(orderMachine, rejected, { type: 'RESEND_TO_KSEF', correctionId: 'ord_1:correction:1', note: 'buyer fixed', actor: 'anna', at });
    expect(resent.context.corrections?.[0]).toMatchObject({ status: 'ksefSent', error: null });
    expect(resend).toContainEqual(expect.objectContaining({ type: 'resendCorrectionToKsef', params: { correctionId: 'ord_1:correction:1' } }));
    expect(transition(orderMachine, ksefSent, { type: 'RESEND_TO_KSEF', correctionId: 'ord_1:correction:1', at })[1]).toEqual([]);
    const [accepted, mail2] = transition(orderMachine, ksefSent, ev.CORRECTION_KSEF_ACCEPTED);
    expect(accepted.context.corrections?.[0]).toMatchObject({ status: 'issued', ksefNumber: ev.CORRECTION_KSEF_ACCEPTED.ksefNumber });
    expect(mail2).toContainEqual(expect.objectContaining({ type: 'emailCorrection' }));
  });

  it('a failed refund or correction notifies an admin (critical); a refund that failed may be sent again with REFUND', () => {
    const cancelled = run(...paidWithDocument, ev.CANCEL, ev.SHIPMENT_CANCELLED).snap;
    const [failed, actions] = transition(orderMachine, cancelled, ev.REFUND_FAILED);
    expect(failed.context.refunds?.[0]).toMatchObject({ status: 'failed', error: 'RETRIES_EXHAUSTED: provider down' });
    expect(actions).toContainEqual(expect.objectContaining({ type: 'notifyAdmin', params: expect.objectContaining({ kind: 'refund.failed', severity: 'critical' }) }));
    expect(allowedAdminEvents(failed)).toEqual(['REFUND']);
    expect(allowedAdminEvents(cancelled)).toEqual([]);
    const [, corr] = transition(orderMachine, cancelled, ev.CORRECTION_FAILED);
    expect(corr).toContainEqual(expect.objectContaining({ type: 'notifyAdmin', params: expect.objectContaining({ kind: 'correction.failed' }) }));
  });

  it('a paid order without a document: only a refund; nothing paid, nothing to refund', () => {
    const [cancelled, actions] = transition(orderMachine, run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_FAILED, ev.CANCEL).snap, { ...ev.SHIPMENT_CANCELLED, existed: false });
    expect(status(cancelled)).toBe('cancelled');
    expect(cancelled.context.corrections).toEqual([]);
    expect(cancelled.context.shipmentCancel).toEqual({ status: 'cancelled', message: 'the warehouse had no shipment' });
    expect(actions.map((a) => a.type)).toContain('refundPayment');
    expect(actions.map((a) => a.type)).not.toContain('issueCorrection');
    const pendingCancel = run(ev.CANCEL);
    expect(pendingCancel.effects).not.toContain('refundPayment');
    expect(pendingCancel.effects).not.toContain('cancelShipment');
  });

  it('the warehouse refuses (a carrier has it) → held CANCEL_TOO_LATE, not cancelled, nothing refunded', () => {
    const [held, actions] = transition(orderMachine, run(...paidWithDocument, ev.CANCEL).snap, ev.SHIPMENT_CANCEL_REFUSED);
    expect(status(held)).toBe('held');
    expect(held.context.hold).toMatchObject({ code: 'CANCEL_TOO_LATE', message: 'the shipment is with DPD' });
    expect(held.context.cancellation).toBeNull();
    expect(held.context.refunds).toEqual([]);
    expect(actions).toContainEqual(expect.objectContaining({ type: 'notifyAdmin', params: expect.objectContaining({ code: 'CANCEL_TOO_LATE' }) }));
  });

  it('late arrivals after the cancel: a document → critical notice naming it; a submit that was in flight → cancelled too', () => {
    const cancelled = run(ev.PAYMENT_CONFIRMED, ev.CANCEL, { ...ev.SHIPMENT_CANCELLED, existed: false }).snap;
    const [withDoc, actions] = transition(orderMachine, cancelled, ev.DOCUMENT_ISSUED);
    expect(withDoc.context.document?.number).toBe('FV/1/11/2026');
    expect(actions).toContainEqual(
      expect.objectContaining({ type: 'notifyAdmin', params: expect.objectContaining({ kind: 'document.after-cancel', severity: 'critical', code: 'DOCUMENT_AFTER_CANCEL', message: expect.stringContaining('FV/1/11/2026') }) }),
    );
    const [again, cancelAgain] = transition(orderMachine, cancelled, ev.SHIPMENT_ACCEPTED);
    expect(again.context.shipmentId).toBe('sh_1');
    expect(cancelAgain.map((a) => a.type)).toContain('cancelShipment');
    const [, paidLate] = transition(orderMachine, run(ev.CANCEL).snap, ev.PAYMENT_CONFIRMED);
    expect(paidLate).toContainEqual(expect.objectContaining({ params: expect.objectContaining({ kind: 'payment.after-cancel', severity: 'critical' }) }));
  });

  it('the document request out at the cancel fails for good → recorded, a warning naming its code, no longer awaited; once only', () => {
    const cancelled = run(ev.PAYMENT_CONFIRMED, ev.CANCEL, { ...ev.SHIPMENT_CANCELLED, existed: false }).snap;
    expect(awaitedEffects(cancelled).map((e) => e.type)).toContain('requestDocument');
    const [failed, actions] = transition(orderMachine, cancelled, ev.DOCUMENT_FAILED);
    expect(status(failed)).toBe('cancelled');
    expect(failed.context.documentFailure).toMatchObject({ code: 'INVOICE_BUYER_TAX_ID_INVALID', message: 'bad NIP' });
    expect(actions).toContainEqual(
      expect.objectContaining({ type: 'notifyAdmin', params: expect.objectContaining({ kind: 'document.failed', severity: 'warning', code: 'INVOICE_BUYER_TAX_ID_INVALID', message: expect.stringContaining('cancelled order') }) }),
    );
    expect(awaitedEffects(failed).map((e) => e.type)).not.toContain('requestDocument');
    // A twin failure, or one after a late document, changes nothing and tells no one again.
    const [, twice] = transition(orderMachine, failed, ev.DOCUMENT_FAILED);
    expect(twice.filter((a) => a.type === 'notifyAdmin')).toEqual([]);
    const [withDoc] = transition(orderMachine, cancelled, ev.DOCUMENT_ISSUED);
    const [, afterDoc] = transition(orderMachine, withDoc, ev.DOCUMENT_FAILED);
    expect(afterDoc.filter((a) => a.type === 'notifyAdmin')).toEqual([]);
  });

  it('REFUND (partial) after payment: that amount refunded and corrected; more than what is left is refused', () => {
    const shipped = run(...paidWithDocument, ev.HANDED_TO_CARRIER).snap;
    const [next, actions] = transition(orderMachine, shipped, ev.REFUND);
    expect(status(next)).toBe('inShipment');
    expect(next.context.refunds).toMatchObject([{ refundId: 'ord_1:refund:1', amount: 1500, reason: 'shipping refunded', status: 'requested' }]);
    expect(next.context.corrections).toMatchObject([{ correctionId: 'ord_1:correction:1', amount: 1500, full: false }]);
    expect(actions.map((a) => a.type)).toEqual(expect.arrayContaining(['refundPayment', 'issueCorrection']));
    expect(next.can({ ...ev.REFUND, amount: 5000 })).toBe(true);
    expect(next.can({ ...ev.REFUND, amount: 5001 })).toBe(false);
    expect(next.can({ ...ev.REFUND, amount: 0 })).toBe(false);
    // Without a document: the refund alone.
    const [noDoc, only] = transition(orderMachine, run(ev.PAYMENT_CONFIRMED).snap, ev.REFUND);
    expect(noDoc.context.corrections).toEqual([]);
    expect(only.map((a) => a.type)).toContain('refundPayment');
    expect(only.map((a) => a.type)).not.toContain('issueCorrection');
    // With a carrier, a cancel is not offered at all (the parcel is on its way).
    expect(next.can(ev.CANCEL)).toBe(false);
  });

  it('a later cancel refunds and corrects only what is left after a partial refund', () => {
    const partly = run(...paidWithDocument, ev.REFUND, ev.CANCEL, ev.SHIPMENT_CANCELLED).snap;
    expect(partly.context.refunds?.map((r) => r.amount)).toEqual([1500, 5000]);
    expect(partly.context.corrections?.map((c) => [c.amount, c.full])).toEqual([
      [1500, false],
      [5000, false],
    ]);
  });

  it('an order@1 snapshot (no refunds, corrections, shipmentCancel) restores and cancels', () => {
    const old = JSON.parse(JSON.stringify(run(...paidWithDocument).snap)) as { value: OrderSnapshot['value']; context: Record<string, unknown> };
    delete old.context['refunds'];
    delete old.context['corrections'];
    delete old.context['shipmentCancel'];
    const [cancelling] = transition(orderMachine, restoreOrderSnapshot(old), ev.CANCEL);
    const [cancelled] = transition(orderMachine, cancelling, ev.SHIPMENT_CANCELLED);
    expect(cancelled.context.refunds?.map((r) => r.amount)).toEqual([6500]);
  });
});

describe('order machine: ignored events in every state', () => {
  const states: Record<string, OrderEvent[]> = {
    pending: [],
    processing: [ev.PAYMENT_CONFIRMED],
    accepted: [ev.PAYMENT_CONFIRMED, ev.SHIPMENT_ACCEPTED],
    inShipment: [ev.PAYMENT_CONFIRMED, ev.SHIPMENT_ACCEPTED, ev.HANDED_TO_CARRIER],
    held: [ev.PAYMENT_CONFIRMED, ev.SHIPMENT_REJECTED],
    closed: [ev.PAYMENT_CONFIRMED, ev.SHIPMENT_ACCEPTED, ev.HANDED_TO_CARRIER, ev.DELIVERED, ev.DOCUMENT_ISSUED, ev.DOCUMENT_EMAILED],
    cancelled: [ev.CANCEL],
  };
  // What each state accepts; everything else must be ignored (no state change, no effects).
  // While the document is only requested, an admin may ask again, correct the buyer or attach one.
  const noDocument = ['ISSUE_DOCUMENT', 'UPDATE_BUYER', 'ATTACH_DOCUMENT'];
  const accepted: Record<string, string[]> = {
    pending: ['PAYMENT_CONFIRMED', 'PAYMENT_FAILED', 'PAYMENT_TIMEOUT', 'CANCEL', 'UPDATE_SHIPPING_ADDRESS', 'UPDATE_BUYER'],
    processing: ['SHIPMENT_ACCEPTED', 'SHIPMENT_REJECTED', 'SHIPMENT_PROBLEM', 'HANDED_TO_CARRIER', 'DELIVERED', 'CANCEL', 'REFUND', 'DOCUMENT_ISSUED', 'DOCUMENT_FAILED', ...noDocument],
    accepted: ['HANDED_TO_CARRIER', 'DELIVERED', 'SHIPMENT_PROBLEM', 'SHIPMENT_REJECTED', 'CANCEL', 'UPDATE_SHIPPING_ADDRESS', 'REFUND', 'DOCUMENT_ISSUED', 'DOCUMENT_FAILED', ...noDocument],
    inShipment: ['DELIVERED', 'SHIPMENT_PROBLEM', 'REFUND', 'DOCUMENT_ISSUED', 'DOCUMENT_FAILED', ...noDocument],
    held: ['RELEASE', 'MARK_SHIPPED', 'CANCEL', 'UPDATE_SHIPPING_ADDRESS', 'REFUND', 'DOCUMENT_ISSUED', 'DOCUMENT_FAILED', ...noDocument],
    closed: ['RESEND_DOCUMENT_EMAIL', 'REFUND'],
    // Cancelled before payment: late answers from the warehouse and a late document still reach it.
    cancelled: ['PAYMENT_CONFIRMED', 'SHIPMENT_ACCEPTED', 'SHIPMENT_CANCELLED', 'SHIPMENT_CANCEL_REFUSED', 'DOCUMENT_ISSUED', 'KSEF_ACCEPTED'],
  };
  for (const [name, path] of Object.entries(states)) {
    it(`${name}: accepts exactly ${accepted[name]?.join(', ') || 'nothing'}`, () => {
      const snap = run(...path).snap;
      const acceptedNow = ORDER_EVENT_TYPES.filter((type) => snap.can(ev[type]));
      expect(acceptedNow.sort()).toEqual([...(accepted[name] ?? [])].sort());
      for (const type of ORDER_EVENT_TYPES.filter((t) => !acceptedNow.includes(t))) {
        const [next, actions] = transition(orderMachine, snap, ev[type]);
        expect(next.value).toEqual(snap.value);
        expect(actions).toEqual([]);
      }
    });
  }

  it('allowedAdminEvents asks the machine', () => {
    expect(allowedAdminEvents(start())).toEqual(['CANCEL', 'UPDATE_SHIPPING_ADDRESS', 'UPDATE_BUYER']);
    expect(allowedAdminEvents(run(ev.PAYMENT_CONFIRMED, ev.SHIPMENT_REJECTED).snap)).toEqual([
      'RELEASE',
      'CANCEL',
      'ISSUE_DOCUMENT',
      'MARK_SHIPPED',
      'UPDATE_SHIPPING_ADDRESS',
      'UPDATE_BUYER',
      'ATTACH_DOCUMENT',
      'REFUND',
    ]);
    expect(allowedAdminEvents(run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_FAILED).snap)).toEqual(['CANCEL', 'ISSUE_DOCUMENT', 'RETRY_DOCUMENT', 'UPDATE_BUYER', 'ATTACH_DOCUMENT', 'REFUND']);
    // The document exists (its e-mail failed): nothing to issue, attach or correct; resend it instead.
    expect(allowedAdminEvents(run(ev.PAYMENT_CONFIRMED, ev.DOCUMENT_ISSUED, MAIL_FAILED).snap)).toEqual(['CANCEL', 'RETRY_DOCUMENT', 'RESEND_DOCUMENT_EMAIL', 'REFUND']);
    expect(ADMIN_EVENT_TYPES).toContain('RESEND_TO_KSEF');
  });
});
