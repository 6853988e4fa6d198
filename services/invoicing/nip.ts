import type { OrderData } from '../../machines/order/index.ts';
import { OrderpilotError, taxIdProblem } from '../contracts/index.ts';

export { isValidNip, normalizeNip } from '../contracts/index.ts';

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
    const problem = taxIdProblem(taxId, a.country);
    if (problem !== null) throw new OrderpilotError('INVOICE_BUYER_TAX_ID_INVALID', problem);
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
