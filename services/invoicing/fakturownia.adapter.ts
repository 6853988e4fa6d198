import type { DocumentInfo, OrderData } from '../../machines/order/index.ts';
import { OrderpilotError, type ErrorCode } from '../contracts/index.ts';
import type { InvoicingProvider } from './invoicing.port.ts';
import { minorToDecimal } from '../contracts/index.ts';
import { normalizeNip } from './nip.ts';

export interface FakturowniaOptions {
  /** e.g. `https://yourcompany.fakturownia.pl` or the sandbox's URL. */
  baseUrl: string;
  apiToken: string;
  /** Timeout of one request (a timeout is a retryable PROVIDER_TIMEOUT). */
  timeoutMs: number;
  /** Today's date in the seller's time zone, `YYYY-MM-DD` (injectable for tests). */
  today?: () => string;
}

/** The subset of a Fakturownia invoice we send (field names as in the public API). */
export interface FakturowniaInvoiceInput {
  kind: 'vat';
  sell_date: string;
  issue_date: string;
  payment_to: string;
  currency: string;
  lang: string;
  buyer_name: string;
  buyer_tax_no?: string;
  buyer_company: '1' | '0';
  buyer_email: string;
  buyer_street: string;
  buyer_city: string;
  buyer_post_code: string;
  buyer_country: string;
  oid: string;
  oid_unique: 'yes';
  positions: Array<{ name: string; tax: number; total_price_gross: string; quantity: number }>;
}

/** The fields of a Fakturownia invoice we read. */
interface FakturowniaInvoice {
  id: number | string;
  number: string;
  issue_date: string;
  oid?: string | null;
}

const warsawDate = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Warsaw', year: 'numeric', month: '2-digit', day: '2-digit' });
export const todayInPoland = (): string => warsawDate.format(new Date());

/**
 * Maps our order to a Fakturownia invoice: one position per line (gross line total from exact minor
 * units) plus shipping, taxed at the highest rate among the lines (shipping follows the goods).
 */
export function toFakturowniaInvoice(order: OrderData, today: string): FakturowniaInvoiceInput {
  const c = order.customer;
  const a = order.billingAddress;
  const company = c.company?.trim() ?? '';
  const taxId = c.taxId?.trim() ?? '';
  const positions = order.lines.map((l) => ({
    name: l.name,
    tax: l.taxRate,
    total_price_gross: minorToDecimal(l.unitPrice * l.quantity, order.currency),
    quantity: l.quantity,
  }));
  if (order.shippingPrice > 0) {
    positions.push({
      name: order.language === 'pl' ? 'Dostawa' : 'Shipping',
      tax: Math.max(...order.lines.map((l) => l.taxRate)),
      total_price_gross: minorToDecimal(order.shippingPrice, order.currency),
      quantity: 1,
    });
  }
  const invoice: FakturowniaInvoiceInput = {
    kind: 'vat',
    sell_date: today,
    issue_date: today,
    // Paid already (the document is issued after the payment is confirmed).
    payment_to: today,
    currency: order.currency,
    lang: order.language,
    buyer_name: company || a.name || c.name,
    buyer_company: company ? '1' : '0',
    buyer_email: c.email,
    buyer_street: a.line2 ? `${a.line1}, ${a.line2}` : a.line1,
    buyer_city: a.city,
    buyer_post_code: a.postalCode,
    buyer_country: a.country,
    oid: order.orderId,
    oid_unique: 'yes',
    positions,
  };
  if (taxId) invoice.buyer_tax_no = a.country === 'PL' ? normalizeNip(taxId) : taxId;
  return invoice;
}

function parseRetryAfter(h: string | null): number | undefined {
  if (h === null || h.trim() === '') return undefined;
  if (/^\d+$/.test(h.trim())) return Number(h.trim()) * 1000;
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Flattens Fakturownia's `{ code: "error", message: { field: ["…"] } | "…" }` into fields + text. */
function providerMessage(body: unknown): { fields: string[]; text: string } {
  const msg = typeof body === 'object' && body !== null && 'message' in body ? (body as { message: unknown }).message : body;
  if (typeof msg === 'string') return { fields: [], text: msg };
  if (typeof msg === 'object' && msg !== null) {
    const entries = Object.entries(msg as Record<string, unknown>);
    return {
      fields: entries.map(([k]) => k),
      text: entries.map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`).join('; '),
    };
  }
  return { fields: [], text: 'no message' };
}

function rejectionCode(fields: string[]): ErrorCode {
  if (fields.includes('oid')) return 'INVOICE_ALREADY_EXISTS';
  if (fields.includes('buyer_tax_no')) return 'INVOICE_BUYER_TAX_ID_INVALID';
  if (fields.some((f) => f.startsWith('buyer_'))) return 'INVOICE_BUYER_DATA_MISSING';
  return 'INVOICE_REJECTED';
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

/**
 * Fakturownia REST adapter: `POST /invoices.json` (with `oid` = our order id and `oid_unique: "yes"`),
 * `GET /invoices.json?oid=…`, `GET /invoices/{id}.pdf`. HTTP outcomes become error codes here, once:
 * timeouts, connection errors, 408, 429 (with Retry-After) and 5xx are retryable; 4xx are not.
 */
export function createFakturowniaAdapter(o: FakturowniaOptions): InvoicingProvider {
  const base = o.baseUrl.replace(/\/+$/, '');
  const today = o.today ?? todayInPoland;

  async function request(method: 'GET' | 'POST', path: string, query: Record<string, string>, body?: unknown): Promise<Response> {
    const url = new URL(`${base}${path}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    if (method === 'GET') url.searchParams.set('api_token', o.apiToken);
    const what = `${method} ${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(o.timeoutMs),
      });
    } catch (err) {
      if (isTimeout(err)) throw new OrderpilotError('PROVIDER_TIMEOUT', `invoicing system: ${what} timed out after ${o.timeoutMs} ms`, { cause: err });
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
      throw new OrderpilotError('PROVIDER_UNAVAILABLE', `invoicing system: ${what} failed: ${cause}`, { cause: err });
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
    if (res.status === 429) {
      throw new OrderpilotError('PROVIDER_RATE_LIMITED', `invoicing system: ${what} rate limited (429)`, retryAfterMs === undefined ? {} : { retryAfterMs });
    }
    if (res.status >= 500 || res.status === 408) {
      throw new OrderpilotError('PROVIDER_UNAVAILABLE', `invoicing system: ${what} answered ${res.status}`, retryAfterMs === undefined ? {} : { retryAfterMs });
    }
    if (res.status === 401 || res.status === 403) {
      throw new OrderpilotError('INVOICE_REJECTED', `invoicing system refused the API token (${res.status}); check FAKTUROWNIA_API_TOKEN`);
    }
    if (res.status === 404) throw new OrderpilotError('NOT_FOUND', `invoicing system: ${what} not found (404)`);
    const { fields, text: message } = providerMessage(parsed);
    throw new OrderpilotError(rejectionCode(fields), `invoicing system rejected the document (${res.status}): ${message}`.slice(0, 1900), { details: { status: res.status, fields } });
  }

  async function json<T>(res: Response, what: string): Promise<T> {
    try {
      return (await res.json()) as T;
    } catch (err) {
      // Cut-off or garbled answer (a dropped connection, a proxy page): worth another attempt.
      throw new OrderpilotError('PROVIDER_UNAVAILABLE', `invoicing system: unreadable answer to ${what}`, { cause: err });
    }
  }

  const toDocument = (inv: FakturowniaInvoice): DocumentInfo => ({
    providerId: String(inv.id),
    number: inv.number,
    issueDate: inv.issue_date,
    provider: 'fakturownia',
  });

  const isInvoice = (v: unknown): v is FakturowniaInvoice =>
    typeof v === 'object' && v !== null && (typeof (v as FakturowniaInvoice).id === 'number' || typeof (v as FakturowniaInvoice).id === 'string') &&
    typeof (v as FakturowniaInvoice).number === 'string' && typeof (v as FakturowniaInvoice).issue_date === 'string';

  return {
    name: 'fakturownia',
    async findByOrder(orderId) {
      const res = await request('GET', '/invoices.json', { oid: orderId, period: 'all', per_page: '100' });
      const list = await json<unknown>(res, 'GET /invoices.json');
      if (!Array.isArray(list)) throw new OrderpilotError('PROVIDER_UNAVAILABLE', 'invoicing system: GET /invoices.json did not return a list');
      // The provider's filter may be a search; only an exact oid is ours. The oldest one wins.
      const mine = list.filter((i): i is FakturowniaInvoice => isInvoice(i) && i.oid === orderId);
      mine.sort((x, y) => Number(x.id) - Number(y.id));
      const first = mine[0];
      return first ? toDocument(first) : null;
    },
    async issue(order) {
      const res = await request('POST', '/invoices.json', {}, { api_token: o.apiToken, invoice: toFakturowniaInvoice(order, today()) });
      const inv = await json<unknown>(res, 'POST /invoices.json');
      if (!isInvoice(inv)) throw new OrderpilotError('PROVIDER_UNAVAILABLE', 'invoicing system: POST /invoices.json answered without id, number and issue_date');
      return toDocument(inv);
    },
    async downloadPdf(providerId) {
      const res = await request('GET', `/invoices/${encodeURIComponent(providerId)}.pdf`, {});
      let pdf: Buffer;
      try {
        pdf = Buffer.from(await res.arrayBuffer());
      } catch (err) {
        throw new OrderpilotError('PROVIDER_UNAVAILABLE', `invoicing system: PDF of document ${providerId} was cut off`, { cause: err });
      }
      if (pdf.subarray(0, 5).toString('latin1') !== '%PDF-') {
        throw new OrderpilotError('PROVIDER_UNAVAILABLE', `invoicing system: document ${providerId} did not come back as a PDF`);
      }
      return pdf;
    },
  };
}
