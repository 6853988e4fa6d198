import { OrderpilotError } from '../contracts/index.ts';
import type { IncomingOrder } from './shop-connector.port.ts';

/**
 * A Magento 2 order (`GET /V1/orders` item, `Magento\Sales\Api\Data\OrderInterface`) mapped to ours:
 * billing address, the shipping address from `extension_attributes.shipping_assignments`, visible
 * items with SKU (children of configurable products are left out: the parent carries the price),
 * `shipping_incl_tax`, `order_currency_code`, the buyer's tax id from `billing_address.vat_id` (or
 * `customer_taxvat`). Pure; throws VALIDATION_FAILED naming what is missing. Our externalId is the
 * `entity_id` (the REST id); the customer-facing `increment_id` stays at the shop.
 */

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '');
const minor = (v: unknown): number => Math.round(Number(v ?? 0) * 100);

function address(a: Json) {
  const street = Array.isArray(a['street']) ? (a['street'] as unknown[]).map(text).filter(Boolean) : [text(a['street'])].filter(Boolean);
  const name = [text(a['firstname']), text(a['lastname'])].filter(Boolean).join(' ') || text(a['company']);
  const phone = text(a['telephone']);
  return {
    name,
    line1: street[0] ?? '',
    ...(street.length > 1 ? { line2: street.slice(1).join(', ') } : {}),
    city: text(a['city']),
    postalCode: text(a['postcode']),
    country: text(a['country_id']).toUpperCase(),
    ...(phone ? { phone } : {}),
  };
}

/** Magento's `updated_at` ("YYYY-MM-DD HH:MM:SS", UTC) as ISO. */
export function magentoTime(s: string): string {
  const d = new Date(`${s.replace(' ', 'T')}Z`);
  if (Number.isNaN(d.getTime())) throw new OrderpilotError('VALIDATION_FAILED', `Magento order: "${s}" is not a time`);
  return d.toISOString();
}

export function mapMagentoOrder(body: unknown, o: { shop: string }): IncomingOrder {
  const m = obj(body);
  const bad = (what: string) => new OrderpilotError('VALIDATION_FAILED', `Magento order ${text(m['increment_id']) || '?'}: ${what}`);
  const id = text(m['entity_id']);
  if (!/^\d+$/.test(id)) throw bad('no entity_id');
  const currency = text(m['order_currency_code']).toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) throw bad('no order_currency_code');
  const email = text(m['customer_email']);
  if (!email) throw bad('no customer_email');
  const billing = obj(m['billing_address']);
  const billingAddress = address(billing);
  for (const f of ['name', 'line1', 'city', 'postalCode', 'country'] as const) if (!billingAddress[f]) throw bad(`billing ${f} is empty`);
  const assignments = Array.isArray(obj(m['extension_attributes'])['shipping_assignments']) ? (obj(m['extension_attributes'])['shipping_assignments'] as unknown[]) : [];
  const shipAddr = obj(obj(obj(assignments[0])['shipping'])['address']);
  const shippingAddress = text(shipAddr['city']) ? address(shipAddr) : billingAddress;
  const items = (Array.isArray(m['items']) ? (m['items'] as unknown[]) : []).map(obj).filter((i) => i['parent_item_id'] === undefined || i['parent_item_id'] === null);
  if (items.length === 0) throw bad('no items');
  const lines = items.map((i, n) => {
    const sku = text(i['sku']);
    if (!sku) throw bad(`item ${n + 1} has no SKU`);
    const quantity = Number(i['qty_ordered']);
    if (!Number.isInteger(quantity) || quantity < 1) throw bad(`item ${n + 1} has qty_ordered ${text(i['qty_ordered'])}`);
    return { sku, name: text(i['name']) || sku, quantity, unitPrice: minor(i['price_incl_tax']), taxRate: Number(i['tax_percent'] ?? 0) };
  });
  const shippingPrice = minor(m['shipping_incl_tax']);
  const total = lines.reduce((s, l) => s + l.unitPrice * l.quantity, 0) + shippingPrice;
  const grand = minor(m['grand_total']);
  if (Math.abs(total - grand) > lines.length) throw bad(`grand_total ${grand} differs from the items plus shipping (${total})`);
  const taxId = text(billing['vat_id']) || text(m['customer_taxvat']);
  const company = text(billing['company']);
  const state = text(m['state']);
  const paidState = state === 'processing' || state === 'complete';
  const paid = paidState || minor(m['total_paid']) >= grand ? { paymentId: `magento-${id}`, method: text(obj(m['payment'])['method']) || null } : null;
  return {
    externalId: id,
    modified: text(m['updated_at']),
    status: text(m['status']),
    paid,
    cancelled: state === 'canceled',
    order: {
      externalId: id,
      shop: o.shop,
      currency,
      language: shippingAddress.country === 'PL' ? 'pl' : 'en',
      customer: { email, name: [text(m['customer_firstname']), text(m['customer_lastname'])].filter(Boolean).join(' ') || billingAddress.name, ...(company ? { company } : {}), ...(taxId ? { taxId } : {}) },
      billingAddress,
      shippingAddress,
      lines,
      shippingPrice,
      total,
      placedAt: magentoTime(text(m['created_at'])),
    },
  };
}
