import type { OrderData } from '../../machines/order/index.ts';
import type { KsefScope, SellerConfig } from '../../infra/config.ts';
import { OrderpilotError } from '../contracts/index.ts';
import { isValidNip, normalizeNip } from './nip.ts';

/**
 * KSeF rules that orderpilot checks itself, before the invoicing system is asked (Fakturownia's
 * KSeF guide, `fakturownia/API` KSeF.md): which documents go to KSeF, the buyer's tax-id kind, the
 * fields KSeF makes required and its field lengths. Pure; every problem is permanent and names the
 * Fakturownia field, so an admin knows what to fix and nothing retries in a loop.
 */

/** EU member states (VAT numbers of their companies are `nip_ue`); Greece's VAT prefix is EL. */
const EU = new Set(['AT', 'BE', 'BG', 'CY', 'CZ', 'DE', 'DK', 'EE', 'EL', 'GR', 'ES', 'FI', 'FR', 'HR', 'HU', 'IE', 'IT', 'LT', 'LU', 'LV', 'MT', 'NL', 'PL', 'PT', 'RO', 'SE', 'SI', 'SK', 'XI']);

export type BuyerTaxNoKind = '' | 'nip_ue' | 'other' | 'empty';

const isCompany = (order: OrderData): boolean => (order.customer.company?.trim() ?? '') !== '';

/**
 * `buyer_tax_no_kind`: a Polish NIP is the default (`""`); an EU VAT number (another EU country's
 * prefix, or a buyer in another EU country) is `nip_ue`; anything else `other`; a company without a
 * tax id `empty`.
 */
export function buyerTaxNoKind(order: OrderData): BuyerTaxNoKind {
  const taxId = order.customer.taxId?.replace(/\s/g, '') ?? '';
  if (taxId === '') return isCompany(order) ? 'empty' : '';
  const prefix = /^([A-Z]{2})/i.exec(taxId)?.[1]?.toUpperCase();
  const country = prefix && !/^\d/.test(taxId) ? prefix : order.billingAddress.country.toUpperCase();
  if (country === 'PL') return '';
  return EU.has(country) ? 'nip_ue' : 'other';
}

/** Whether the document goes to KSeF under the seller's scope (Fakturownia's `gov_auto_send_mode` names). */
export function inKsefScope(order: OrderData, scope: KsefScope): boolean {
  if (scope === 'all') return true;
  if (!isCompany(order)) return false;
  return scope === 'all_companies' || order.billingAddress.country.toUpperCase() === 'PL';
}

const LIMITS = { position: 256, email: 255, phone: 16, name: 255, street: 255 } as const;

/**
 * The seller fields KSeF requires, by Fakturownia field name, with the variable that sets each.
 * Throws INVOICE_SELLER_DATA_MISSING naming the first missing one(s).
 */
export function checkSellerForKsef(seller: SellerConfig): void {
  const required: Array<[string, string, string | undefined]> = [
    ['seller_name', 'SELLER_NAME', seller.name],
    ['seller_tax_no', 'SELLER_TAX_NO', seller.taxNo],
    ['seller_street', 'SELLER_STREET', seller.street],
    ['seller_post_code', 'SELLER_POST_CODE', seller.postCode],
    ['seller_city', 'SELLER_CITY', seller.city],
  ];
  const missing = required.filter(([, , v]) => v === undefined || v.trim() === '');
  if (missing.length > 0) {
    throw new OrderpilotError(
      'INVOICE_SELLER_DATA_MISSING',
      `KSeF requires the seller's ${missing.map(([f, v]) => `${f} (set ${v})`).join(', ')}`,
      { details: { fields: missing.map(([f]) => f) } },
    );
  }
  if (seller.country === 'PL' && !isValidNip(seller.taxNo ?? '')) {
    throw new OrderpilotError('INVOICE_SELLER_DATA_MISSING', `seller_tax_no "${seller.taxNo ?? ''}" is not a valid Polish NIP (set SELLER_TAX_NO)`, { details: { fields: ['seller_tax_no'] } });
  }
  tooLong('seller_phone', seller.phone, LIMITS.phone);
  tooLong('seller_email', seller.email, LIMITS.email);
  tooLong('seller_name', seller.name, LIMITS.name);
  tooLong('seller_street', seller.street, LIMITS.street);
}

function tooLong(field: string, value: string | undefined, max: number): void {
  if (value !== undefined && [...value].length > max) {
    throw new OrderpilotError('INVOICE_KSEF_FIELD_INVALID', `${field} is too long for KSeF (${[...value].length} characters, at most ${max})`, { details: { fields: [field] } });
  }
}

/**
 * The order's side of KSeF's rules: a company buyer needs a tax id unless its kind is `empty`,
 * position names at most 256 characters, phone at most 16, e-mail at most 255.
 */
export function checkOrderForKsef(order: OrderData): void {
  const kind = buyerTaxNoKind(order);
  if (kind === 'nip_ue' && !/^(?:[A-Z]{2})?[0-9A-Z+*]{1,12}$/i.test((order.customer.taxId ?? '').replace(/\s/g, ''))) {
    throw new OrderpilotError('INVOICE_BUYER_TAX_ID_INVALID', `buyer_tax_no "${order.customer.taxId ?? ''}" is not an EU VAT number (nip_ue: up to 12 letters/digits after the country prefix)`, { details: { fields: ['buyer_tax_no'] } });
  }
  if (kind === '' && (order.customer.taxId ?? '').trim() !== '' && !isValidNip(normalizeNip(order.customer.taxId ?? ''))) {
    throw new OrderpilotError('INVOICE_BUYER_TAX_ID_INVALID', `buyer_tax_no "${order.customer.taxId ?? ''}" is not a valid Polish NIP`, { details: { fields: ['buyer_tax_no'] } });
  }
  order.lines.forEach((l, i) => tooLong(`positions[${i}].name`, l.name, LIMITS.position));
  tooLong('buyer_phone', order.billingAddress.phone, LIMITS.phone);
  tooLong('buyer_email', order.customer.email, LIMITS.email);
}
