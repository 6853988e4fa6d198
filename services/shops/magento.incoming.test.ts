import { describe, expect, it } from 'vitest';
import { mapMagentoOrder } from './magento.incoming.ts';

const address = { firstname: 'Jan', lastname: 'Kowalski', company: 'Firma', street: ['ul. Długa 5', 'lok. 2'], city: 'Gdańsk', postcode: '80-001', country_id: 'PL', telephone: '+48600700800', vat_id: '5260250274' };
const order = {
  entity_id: 7,
  increment_id: '100000007',
  state: 'new',
  status: 'pending',
  created_at: '2026-11-30 08:00:00',
  updated_at: '2026-11-30 08:00:03',
  order_currency_code: 'PLN',
  customer_email: 'jan@example.com',
  customer_firstname: 'Jan',
  customer_lastname: 'Kowalski',
  grand_total: 65,
  total_paid: 0,
  shipping_incl_tax: 15,
  billing_address: address,
  payment: { method: 'checkmo' },
  items: [
    { item_id: 1, sku: 'MUG-1', name: 'Kubek', qty_ordered: 2, price_incl_tax: 12.5, tax_percent: 23, parent_item_id: null },
    { item_id: 2, sku: 'TSHIRT-1', name: 'Koszulka', qty_ordered: 1, price_incl_tax: 25, tax_percent: 23 },
    { item_id: 3, sku: 'TSHIRT-1-M', name: 'Koszulka M', qty_ordered: 1, price_incl_tax: 0, tax_percent: 0, parent_item_id: 2 },
  ],
  extension_attributes: { shipping_assignments: [{ shipping: { address: { ...address, street: ['ul. Krótka 1'] } } }] },
};

describe('Magento order → ORDER_PLACED data', () => {
  it('maps addresses (street lines), visible items with SKU, shipping incl. tax, currency, the VAT id; children of configurables are left out', () => {
    const m = mapMagentoOrder(order, { shop: 'mage' });
    expect(m).toMatchObject({ externalId: '7', modified: '2026-11-30 08:00:03', paid: null });
    expect(m.order).toMatchObject({
      externalId: '7',
      shop: 'mage',
      currency: 'PLN',
      customer: { email: 'jan@example.com', name: 'Jan Kowalski', company: 'Firma', taxId: '5260250274' },
      billingAddress: { name: 'Jan Kowalski', line1: 'ul. Długa 5', line2: 'lok. 2', city: 'Gdańsk', postalCode: '80-001', country: 'PL' },
      shippingAddress: { line1: 'ul. Krótka 1' },
      lines: [
        { sku: 'MUG-1', quantity: 2, unitPrice: 1250, taxRate: 23 },
        { sku: 'TSHIRT-1', quantity: 1, unitPrice: 2500, taxRate: 23 },
      ],
      shippingPrice: 1500,
      total: 6500,
      placedAt: '2026-11-30T08:00:00.000Z',
    });
  });
  it("the shop's paid signal: an invoiced (processing) order or total_paid", () => {
    expect(mapMagentoOrder({ ...order, state: 'processing' }, { shop: 'mage' }).paid).toEqual({ paymentId: 'magento-7', method: 'checkmo' });
    expect(mapMagentoOrder({ ...order, total_paid: 65 }, { shop: 'mage' }).paid).not.toBeNull();
  });
  it('refuses an item without SKU and a grand total that does not add up', () => {
    expect(() => mapMagentoOrder({ ...order, items: [{ ...order.items[0], sku: '' }] }, { shop: 'mage' })).toThrow(/item 1 has no SKU/);
    expect(() => mapMagentoOrder({ ...order, grand_total: 80 }, { shop: 'mage' })).toThrow(/differs/);
  });
});
