import type { OrderData } from '../../machines/order/index.ts';
import { OrderpilotError } from '../contracts/index.ts';

const NIP_WEIGHTS = [6, 5, 7, 2, 3, 4, 5, 6, 7] as const;

/** Strips separators and an optional `PL` prefix: `"PL 526-000-12-46"` → `"5260001246"`. */
export function normalizeNip(raw: string): string {
  return raw.replace(/[\s-]/g, '').replace(/^PL/i, '');
}

/** True when `raw` is a Polish NIP with a valid checksum (weights 6,5,7,2,3,4,5,6,7 mod 11). */
export function isValidNip(raw: string): boolean {
  const nip = normalizeNip(raw);
  if (!/^\d{10}$/.test(nip)) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(nip[i]) * (NIP_WEIGHTS[i] ?? 0);
  const check = sum % 11;
  return check !== 10 && check === Number(nip[9]);
}

/** Whether the buyer's tax id is a Polish NIP (billing address in PL, or a PL-prefixed id). */
function isPolishTaxId(order: OrderData, taxId: string): boolean {
  return order.billingAddress.country === 'PL' || /^PL/i.test(taxId.trim());
}

const blank = (s: string | undefined): boolean => s === undefined || s.trim() === '';

/**
 * Checks done before the invoicing system is called: every problem found here is permanent (the same
 * order data would be rejected again), so finding it locally saves a round trip and a retry loop.
 * Throws INVOICE_BUYER_DATA_MISSING, INVOICE_BUYER_TAX_ID_INVALID or VALIDATION_FAILED.
 */
export function precheckOrderForInvoice(order: OrderData): void {
  const c = order.customer;
  const a = order.billingAddress;
  const company = c.company?.trim() ?? '';
  const taxId = c.taxId?.trim() ?? '';
  if (company !== '' && taxId === '') {
    throw new OrderpilotError('INVOICE_BUYER_DATA_MISSING', `buyer "${company}" is a company but has no tax id (NIP)`);
  }
  if (taxId !== '') {
    if (isPolishTaxId(order, taxId)) {
      if (!isValidNip(taxId)) throw new OrderpilotError('INVOICE_BUYER_TAX_ID_INVALID', `buyer tax id "${taxId}" is not a valid Polish NIP (checksum)`);
    } else if (!/^[A-Z]{0,2}[A-Z0-9+*.\s-]{2,20}$/i.test(taxId)) {
      throw new OrderpilotError('INVOICE_BUYER_TAX_ID_INVALID', `buyer tax id "${taxId}" is not a valid tax id`);
    }
    if (company === '' && blank(a.name)) {
      throw new OrderpilotError('INVOICE_BUYER_DATA_MISSING', 'buyer with a tax id has no company or billing name');
    }
  }
  const missing: string[] = [];
  if (blank(a.name) && blank(c.name) && company === '') missing.push('name');
  for (const f of ['line1', 'city', 'postalCode', 'country'] as const) if (blank(a[f])) missing.push(f);
  if (missing.length > 0) {
    throw new OrderpilotError('INVOICE_BUYER_DATA_MISSING', `billing address is missing: ${missing.join(', ')}`);
  }
  if (order.lines.length === 0) throw new OrderpilotError('VALIDATION_FAILED', 'order has no lines');
  const sum = order.lines.reduce((s, l) => s + l.unitPrice * l.quantity, 0) + order.shippingPrice;
  if (sum !== order.total) {
    throw new OrderpilotError('VALIDATION_FAILED', `order total ${order.total} does not equal lines + shipping ${sum} (minor units)`);
  }
}
