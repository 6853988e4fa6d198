import { describe, expect, it } from 'vitest';
import { parseShopMapping, parseShopNotes } from '../../infra/config.ts';
import { DEFAULT_MAPPINGS, mappingFor, planShopCalls } from './shop-mapping.ts';

const woo = DEFAULT_MAPPINGS.woocommerce;

describe('WooCommerce status mapping (data)', () => {
  it('processing after payment, nothing else', () => {
    expect(planShopCalls(woo, { kind: 'paid' })).toEqual([{ op: 'status', status: 'processing' }]);
  });
  it('on hold, then the reason as a private note', () => {
    expect(planShopCalls(woo, { kind: 'held', code: 'OUT_OF_STOCK', message: 'MUG-1 is out of stock' })).toEqual([
      { op: 'status', status: 'on-hold' },
      { op: 'note', text: 'On hold: MUG-1 is out of stock (OUT_OF_STOCK)', customer: false },
    ]);
  });
  it('back to processing after a release', () => {
    expect(planShopCalls(woo, { kind: 'released' })[0]).toEqual({ op: 'status', status: 'processing' });
  });
  it('shipped: the configured status and a customer note with carrier and tracking', () => {
    expect(planShopCalls(woo, { kind: 'shipped', trackingNumber: 'TRK1', carrier: 'InPost' })).toEqual([
      { op: 'status', status: 'completed' },
      { op: 'note', text: 'Your order has been shipped with InPost. Tracking number: TRK1', customer: true },
    ]);
    expect(planShopCalls(woo, { kind: 'shipped', trackingNumber: 'TRK1', carrier: null })[1]).toMatchObject({ text: 'Your order has been shipped with the carrier. Tracking number: TRK1' });
  });
  it('closed and cancelled', () => {
    expect(planShopCalls(woo, { kind: 'closed' })[0]).toEqual({ op: 'status', status: 'completed' });
    expect(planShopCalls(woo, { kind: 'cancelled', reason: 'customer asked' })).toEqual([
      { op: 'status', status: 'cancelled' },
      { op: 'note', text: 'Cancelled: customer asked', customer: false },
    ]);
  });
  it('the document number as a private note, no status', () => {
    expect(planShopCalls(woo, { kind: 'documentIssued', number: 'FV 1/11/2026' })).toEqual([{ op: 'note', text: 'Invoice FV 1/11/2026 issued.', customer: false }]);
    // With the invoicing system's public link, the note carries it.
    expect(planShopCalls(woo, { kind: 'documentIssued', number: 'FV 1/11/2026', pdfUrl: 'https://shop.fakturownia.pl/invoice/abc.pdf' })).toEqual([
      { op: 'note', text: 'Invoice FV 1/11/2026 issued. PDF: https://shop.fakturownia.pl/invoice/abc.pdf', customer: false },
    ]);
  });
  it('SHOP_<NAME>_MAPPING overrides statuses; "-" means no status change; an unknown change is refused', () => {
    const m = mappingFor('woocommerce', parseShopMapping('shipped=shipped, closed=-', 'SHOP_X_MAPPING'));
    expect(planShopCalls(m, { kind: 'shipped', trackingNumber: 'T', carrier: 'DPD' })[0]).toEqual({ op: 'status', status: 'shipped' });
    expect(planShopCalls(m, { kind: 'closed' })).toEqual([{ op: 'note', text: 'Delivered to the customer.', customer: false }]);
    expect(() => mappingFor('woocommerce', { delivered: 'completed' })).toThrow(/unknown change "delivered"/);
    expect(() => parseShopMapping('shipped', 'SHOP_X_MAPPING')).toThrow(/SHOP_X_MAPPING/);
  });
  it('SHOP_<NAME>_NOTES overrides notes (JSON: a template, { text, customer }, or null for none); bad ones are refused at start', () => {
    const notes = parseShopNotes('{"held":"Wstrzymane, powód: {message} [{code}]","closed":null,"shipped":{"text":"Paczka w drodze: {trackingNumber}","customer":true}}', 'SHOP_X_NOTES');
    const m = mappingFor('woocommerce', {}, notes);
    expect(planShopCalls(m, { kind: 'held', code: 'OUT_OF_STOCK', message: 'brak towaru, dostawa w piątek' })).toEqual([
      { op: 'status', status: 'on-hold' },
      { op: 'note', text: 'Wstrzymane, powód: brak towaru, dostawa w piątek [OUT_OF_STOCK]', customer: false },
    ]);
    expect(planShopCalls(m, { kind: 'closed' })).toEqual([{ op: 'status', status: 'completed' }]);
    expect(planShopCalls(m, { kind: 'shipped', trackingNumber: 'T1', carrier: null })[1]).toEqual({ op: 'note', text: 'Paczka w drodze: T1', customer: true });
    // Statuses and notes together; the defaults stay for what is not named.
    const both = mappingFor('woocommerce', parseShopMapping('held=pending', 'SHOP_X_MAPPING'), notes);
    expect(planShopCalls(both, { kind: 'held', code: 'X', message: 'm' })[0]).toEqual({ op: 'status', status: 'pending' });
    expect(planShopCalls(both, { kind: 'released' })[1]).toEqual({ op: 'note', text: 'Hold released; the order goes on.', customer: false });
    expect(() => parseShopNotes('held=x', 'SHOP_X_NOTES')).toThrow(/SHOP_X_NOTES: expected a JSON object/);
    expect(() => parseShopNotes('{"held":{"customer":true}}', 'SHOP_X_NOTES')).toThrow(/"held": expected a template string/);
    expect(() => mappingFor('woocommerce', {}, { held: { text: 'on hold: {why}', customer: false } })).toThrow(/unknown placeholder \{why\}/);
    expect(() => mappingFor('woocommerce', {}, { delivered: null })).toThrow(/unknown change "delivered" in the notes/);
    expect(() => mappingFor('webhook', {}, { held: null })).toThrow(/sends events, not notes/);
  });
});

describe('generic signed webhooks mapping (data)', () => {
  const hook = DEFAULT_MAPPINGS.webhook;
  it('one event per change, with our status word', () => {
    expect(planShopCalls(hook, { kind: 'paid' })).toEqual([{ op: 'event', type: 'order.status_changed', status: 'processing', change: { kind: 'paid' } }]);
    expect(planShopCalls(hook, { kind: 'shipped', trackingNumber: 'T1', carrier: 'DPD' })).toEqual([
      { op: 'event', type: 'shipment.handed_over', status: 'inShipment', change: { kind: 'shipped', trackingNumber: 'T1', carrier: 'DPD' } },
    ]);
    expect(planShopCalls(hook, { kind: 'documentIssued', number: 'FV 1' })).toEqual([{ op: 'event', type: 'document.issued', status: null, change: { kind: 'documentIssued', number: 'FV 1' } }]);
    expect(planShopCalls(hook, { kind: 'held', code: 'LOST', message: 'lost' })[0]).toMatchObject({ type: 'order.status_changed', status: 'held' });
  });
});

describe('Magento 2 mapping (data)', () => {
  const mage = DEFAULT_MAPPINGS.magento;
  it('hold with the reason as a comment, unhold after a release, a shipment with the track, status comments', () => {
    expect(planShopCalls(mage, { kind: 'paid' })).toEqual([{ op: 'status', status: 'processing' }]);
    expect(planShopCalls(mage, { kind: 'held', code: 'LOST', message: 'parcel lost' })).toEqual([
      { op: 'action', action: 'hold' },
      { op: 'note', text: 'On hold: parcel lost (LOST)', customer: false },
    ]);
    expect(planShopCalls(mage, { kind: 'released' })[0]).toEqual({ op: 'action', action: 'unhold' });
    expect(planShopCalls(mage, { kind: 'shipped', trackingNumber: 'T1', carrier: 'DPD' })).toEqual([{ op: 'ship', trackingNumber: 'T1', carrier: 'DPD' }]);
    expect(planShopCalls(mage, { kind: 'closed' })).toEqual([
      { op: 'status', status: 'complete' },
      { op: 'note', text: 'Delivered to the customer.', customer: false },
    ]);
    expect(planShopCalls(mage, { kind: 'cancelled', reason: null })[0]).toEqual({ op: 'action', action: 'cancel' });
    expect(planShopCalls(mage, { kind: 'documentIssued', number: 'FV 2' })).toEqual([{ op: 'note', text: 'Invoice FV 2 issued.', customer: false }]);
  });
});
