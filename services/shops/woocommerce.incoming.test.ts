import { describe, expect, it } from 'vitest';
import { mapWooCommerceOrder } from './woocommerce.incoming.ts';

const order = {
  id: 1234,
  status: 'pending',
  currency: 'PLN',
  date_created_gmt: '2026-11-30T08:00:00',
  date_modified_gmt: '2026-11-30T08:00:05',
  date_paid_gmt: null,
  shipping_total: '12.20',
  shipping_tax: '2.80',
  total: '65.00',
  transaction_id: '',
  payment_method: 'bacs',
  billing: { first_name: 'Anna', last_name: 'Nowak', company: 'Nowak Sp. z o.o.', address_1: 'ul. Prosta 1', address_2: '', city: 'Warszawa', postcode: '00-001', country: 'PL', email: 'anna@example.com', phone: '+48500100200' },
  shipping: { first_name: 'Jan', last_name: 'Nowak', company: '', address_1: 'ul. Krzywa 2', address_2: 'm. 3', city: 'Kraków', postcode: '30-001', country: 'PL', phone: '' },
  meta_data: [{ id: 9, key: '_billing_nip', value: '5260250274' }, { id: 10, key: 'vat_number', value: 'PL1111111111' }],
  line_items: [
    { id: 1, name: 'Kubek', quantity: 2, total: '20.33', total_tax: '4.67', sku: 'MUG-1' },
    { id: 2, name: 'Koszulka', quantity: 1, total: '20.32', total_tax: '4.68', sku: 'TSHIRT-1' },
  ],
};

describe('WooCommerce order → ORDER_PLACED data', () => {
  it('maps billing, shipping, lines with SKU (gross unit price, tax rate), shipping total, currency and the NIP meta', () => {
    const m = mapWooCommerceOrder(order, { shop: 'woo', nipMetaKey: '_billing_nip' });
    expect(m).toMatchObject({ externalId: '1234', modified: '2026-11-30T08:00:05', status: 'pending', paid: null });
    expect(m.order).toEqual({
      externalId: '1234',
      shop: 'woo',
      currency: 'PLN',
      language: 'pl',
      customer: { email: 'anna@example.com', name: 'Anna Nowak', company: 'Nowak Sp. z o.o.', taxId: '5260250274' },
      billingAddress: { name: 'Anna Nowak', line1: 'ul. Prosta 1', city: 'Warszawa', postalCode: '00-001', country: 'PL', phone: '+48500100200' },
      shippingAddress: { name: 'Jan Nowak', line1: 'ul. Krzywa 2', line2: 'm. 3', city: 'Kraków', postalCode: '30-001', country: 'PL' },
      lines: [
        { sku: 'MUG-1', name: 'Kubek', quantity: 2, unitPrice: 1250, taxRate: 23 },
        { sku: 'TSHIRT-1', name: 'Koszulka', quantity: 1, unitPrice: 2500, taxRate: 23 },
      ],
      shippingPrice: 1500,
      total: 6500,
      placedAt: '2026-11-30T08:00:00.000Z',
    });
  });
  it('the NIP meta key is configurable', () => {
    expect(mapWooCommerceOrder(order, { shop: 'woo', nipMetaKey: 'vat_number' }).order.customer.taxId).toBe('PL1111111111');
    expect(mapWooCommerceOrder(order, { shop: 'woo', nipMetaKey: 'none' }).order.customer.taxId).toBeUndefined();
  });
  it('no shipping address → ships to the billing address', () => {
    const m = mapWooCommerceOrder({ ...order, shipping: { address_1: '' } }, { shop: 'woo', nipMetaKey: '_billing_nip' });
    expect(m.order.shippingAddress).toEqual(m.order.billingAddress);
  });
  it("the shop's paid signal: date_paid or a paid status, with the transaction id", () => {
    const paid = mapWooCommerceOrder({ ...order, status: 'processing', date_paid_gmt: '2026-11-30T08:01:00', transaction_id: 'tx_9' }, { shop: 'woo', nipMetaKey: 'x' });
    expect(paid.paid).toEqual({ paymentId: 'tx_9', method: 'bacs' });
  });
  it('refuses what it cannot map, naming it: a line without SKU, fees that make the total differ, no e-mail', () => {
    const opts = { shop: 'woo', nipMetaKey: 'x' };
    expect(() => mapWooCommerceOrder({ ...order, line_items: [{ ...order.line_items[0], sku: '' }] }, opts)).toThrow(/line 1 \(Kubek\) has no SKU/);
    expect(() => mapWooCommerceOrder({ ...order, total: '75.00' }, opts)).toThrow(/differs from the lines plus shipping/);
    expect(() => mapWooCommerceOrder({ ...order, billing: { ...order.billing, email: '' } }, opts)).toThrow(/billing.email/);
  });
});
