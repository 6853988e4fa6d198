import { OrderpilotError } from '../contracts/index.ts';
import type { IncomingOrder } from './shop-connector.port.ts';

/**
 * A WooCommerce order (REST v3 / webhook `order.created` / `order.updated` body) mapped to ours:
 * billing, shipping (billing when the order has no shipping address), line items with SKU (gross
 * unit price and tax rate from `total` / `total_tax`), shipping total, currency, the buyer's NIP from
 * a configurable meta key. Pure; throws VALIDATION_FAILED naming what is missing.
 */

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '');

/** WooCommerce money is a decimal string ("12.30"): minor units. */
export function wooMoney(v: unknown, field: string): number {
  const s = text(v);
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw new OrderpilotError('VALIDATION_FAILED', `WooCommerce order: ${field} is not an amount ("${s}")`);
  return Math.round(Number(s) * 100);
}

function address(a: Json, fallbackName: string) {
  const name = [text(a['first_name']), text(a['last_name'])].filter(Boolean).join(' ') || text(a['company']) || fallbackName;
  const line2 = text(a['address_2']);
  const phone = text(a['phone']);
  return {
    name,
    line1: text(a['address_1']),
    ...(line2 ? { line2 } : {}),
    city: text(a['city']),
    postalCode: text(a['postcode']),
    country: text(a['country']).toUpperCase(),
    ...(phone ? { phone } : {}),
  };
}

/** The value of a meta key (`meta_data: [{ key, value }]`), or ''. */
function meta(order: Json, key: string): string {
  const list = Array.isArray(order['meta_data']) ? (order['meta_data'] as unknown[]) : [];
  for (const m of list) {
    const e = obj(m);
    if (e['key'] === key) return text(e['value']);
  }
  return '';
}

export interface WooIncomingOptions {
  shop: string;
  /** The meta key holding the buyer's NIP (SHOP_<NAME>_NIP_META). */
  nipMetaKey: string;
}

const PAID_STATUSES = new Set(['processing', 'completed']);

export function mapWooCommerceOrder(body: unknown, o: WooIncomingOptions): IncomingOrder {
  const w = obj(body);
  const missing = (what: string) => new OrderpilotError('VALIDATION_FAILED', `WooCommerce order: ${what}`);
  const id = text(w['id']);
  if (!/^\d+$/.test(id)) throw missing('no order id');
  const currency = text(w['currency']).toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) throw missing(`currency "${currency}" is not ISO 4217`);
  const billing = obj(w['billing']);
  const email = text(billing['email']);
  if (!email) throw missing('billing.email is empty');
  const billingAddress = address(billing, email);
  for (const f of ['line1', 'city', 'postalCode', 'country'] as const) {
    if (!billingAddress[f]) throw missing(`billing ${f} is empty`);
  }
  const shipping = obj(w['shipping']);
  const shippingAddress = text(shipping['address_1']) ? address(shipping, billingAddress.name) : billingAddress;

  const items = Array.isArray(w['line_items']) ? (w['line_items'] as unknown[]).map(obj) : [];
  if (items.length === 0) throw missing('no line items');
  const lines = items.map((l, i) => {
    const sku = text(l['sku']);
    if (!sku) throw missing(`line ${i + 1} (${text(l['name']) || 'unnamed'}) has no SKU`);
    const quantity = Number(l['quantity']);
    if (!Number.isInteger(quantity) || quantity < 1) throw missing(`line ${i + 1} has quantity ${text(l['quantity'])}`);
    const net = wooMoney(l['total'], `line ${i + 1} total`);
    const tax = wooMoney(l['total_tax'] ?? '0', `line ${i + 1} total_tax`);
    return {
      sku,
      name: text(l['name']) || sku,
      quantity,
      unitPrice: Math.round((net + tax) / quantity),
      taxRate: net > 0 ? Math.round((tax / net) * 100) : 0,
    };
  });
  const shippingPrice = wooMoney(w['shipping_total'] ?? '0', 'shipping_total') + wooMoney(w['shipping_tax'] ?? '0', 'shipping_tax');
  const total = lines.reduce((s, l) => s + l.unitPrice * l.quantity, 0) + shippingPrice;
  const shopTotal = wooMoney(w['total'], 'total');
  // Rounding a line's gross unit price may move a cent per line; anything more (fees we do not map) is refused.
  if (Math.abs(total - shopTotal) > lines.length) {
    throw missing(`total ${shopTotal} differs from the lines plus shipping (${total}): fees or other items we do not map`);
  }
  const nip = meta(w, o.nipMetaKey);
  const company = text(billing['company']);
  const status = text(w['status']);
  const datePaid = text(w['date_paid_gmt']) || text(w['date_paid']);
  const paid = datePaid || PAID_STATUSES.has(status) ? { paymentId: text(w['transaction_id']) || `wc-${id}`, method: text(w['payment_method']) || null } : null;
  const created = text(w['date_created_gmt']);
  return {
    externalId: id,
    modified: text(w['date_modified_gmt']) || text(w['date_modified']) || created,
    status,
    paid,
    cancelled: status === 'cancelled',
    order: {
      externalId: id,
      shop: o.shop,
      currency,
      language: shippingAddress.country === 'PL' ? 'pl' : 'en',
      customer: { email, name: billingAddress.name, ...(company ? { company } : {}), ...(nip ? { taxId: nip } : {}) },
      billingAddress,
      shippingAddress,
      lines,
      shippingPrice,
      total,
      placedAt: placedAt(created),
    },
  };
}

/** `date_created_gmt` is UTC without a zone ("2026-11-30T08:00:00"). */
function placedAt(created: string): string {
  const d = new Date(`${created.replace(/Z$/, '')}Z`);
  if (Number.isNaN(d.getTime())) throw new OrderpilotError('VALIDATION_FAILED', `WooCommerce order: date_created_gmt "${created}" is not a time`);
  return d.toISOString();
}
