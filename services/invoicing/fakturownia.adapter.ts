import type { DocumentInfo, OrderData, Payment } from '../../machines/order/index.ts';
import type { SellerConfig } from '../../infra/config.ts';
import { createHttpClient, type HttpAnswer } from '../../infra/http/http-client.ts';
import { isOrderpilotError, OrderpilotError, type ErrorCode } from '../contracts/index.ts';
import type { CorrectionSpec, InvoicingProvider, IssueOptions } from './invoicing.port.ts';
import { buyerTaxNoKind, type BuyerTaxNoKind } from './ksef.rules.ts';
import type { KsefReading } from './ksef-status.mapping.ts';
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
  /** The seller printed on every document (SELLER_*); unset fields are left to the account's defaults. */
  seller?: SellerConfig;
}

/** The subset of a Fakturownia invoice we send (field names as in the public API and its KSeF guide). */
export interface FakturowniaInvoiceInput {
  kind: 'vat';
  sell_date: string;
  issue_date: string;
  payment_to: string;
  currency: string;
  lang: string;
  seller_name?: string;
  seller_tax_no?: string;
  seller_street?: string;
  seller_post_code?: string;
  seller_city?: string;
  seller_country?: string;
  seller_email?: string;
  seller_phone?: string;
  seller_bank_account?: string;
  buyer_name: string;
  buyer_first_name?: string;
  buyer_last_name?: string;
  buyer_tax_no?: string;
  buyer_tax_no_kind?: BuyerTaxNoKind;
  buyer_company: boolean;
  buyer_email: string;
  buyer_phone?: string;
  buyer_street: string;
  buyer_city: string;
  buyer_post_code: string;
  buyer_country: string;
  /** `paid` once the payment is confirmed, so the document needs no follow-up. */
  status?: 'paid' | 'issued';
  paid?: string;
  paid_date?: string;
  payment_type?: string;
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
  /** Opens the invoice without logging in: `/invoice/<token>` (view) and `/invoice/<token>.pdf` (API README, "view_url"). */
  token?: string | null;
}

const warsawDate = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Warsaw', year: 'numeric', month: '2-digit', day: '2-digit' });
export const todayInPoland = (): string => warsawDate.format(new Date());
/** The calendar day in Poland of an ISO instant (a payment confirmed at 23:30 UTC in winter is paid the next day there). */
export const dayInPoland = (iso: string): string => warsawDate.format(new Date(iso));

/**
 * Fakturownia's `payment_type` for a confirmed payment: the provider's method where it names one
 * Fakturownia knows (card, transfer, PayPal), else the provider itself (`payu` is a Fakturownia
 * value; others are written as text, which the API accepts).
 */
export function paymentTypeOf(p: Payment): string {
  const method = p.method?.toLowerCase();
  if (method === 'card' || method === 'transfer' || method === 'paypal' || method === 'cash_on_delivery') return method;
  const provider = p.provider.toLowerCase();
  if (provider === 'payu') return 'payu';
  if (provider === 'stripe') return method ? `Stripe (${method})` : 'card';
  return method ? `${p.provider} (${method})` : p.provider;
}

export interface InvoiceMappingOptions {
  today: string;
  seller?: SellerConfig | undefined;
  payment?: Payment | null;
}

/** "Jan Maria Kowalski" → first "Jan Maria", last "Kowalski"; a single word is both. */
const splitName = (full: string): { first: string; last: string } => {
  const parts = full.trim().split(/\s+/);
  const last = parts[parts.length - 1] ?? '';
  return { first: parts.length > 1 ? parts.slice(0, -1).join(' ') : last, last };
};

/**
 * Maps our order to a Fakturownia invoice: one position per line (gross line total from exact minor
 * units) plus shipping, taxed at the highest rate among the lines (shipping follows the goods).
 */
export function toFakturowniaInvoice(order: OrderData, opts: InvoiceMappingOptions): FakturowniaInvoiceInput {
  const today = opts.today;
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
    // Always sent: KSeF's automatic sending and its required fields depend on it.
    buyer_company: company !== '',
    buyer_email: c.email,
    buyer_street: a.line2 ? `${a.line1}, ${a.line2}` : a.line1,
    buyer_city: a.city,
    buyer_post_code: a.postalCode,
    buyer_country: a.country,
    oid: order.orderId,
    oid_unique: 'yes',
    positions,
  };
  const kind = buyerTaxNoKind(order);
  if (taxId) invoice.buyer_tax_no = kind === '' ? normalizeNip(taxId) : taxId.replace(/\s/g, '');
  if (kind !== '') invoice.buyer_tax_no_kind = kind;
  if (!company) {
    // A private buyer: KSeF needs the first and last name (Fakturownia builds buyer_name from them).
    const { first, last } = splitName(a.name || c.name);
    invoice.buyer_first_name = first;
    invoice.buyer_last_name = last;
  }
  if (a.phone?.trim()) invoice.buyer_phone = a.phone.trim();
  const s = opts.seller;
  if (s) {
    const set = (k: keyof FakturowniaInvoiceInput & `seller_${string}`, v: string | undefined) => {
      if (v !== undefined && v.trim() !== '') invoice[k] = v.trim();
    };
    set('seller_name', s.name);
    set('seller_tax_no', s.taxNo === undefined ? undefined : normalizeNip(s.taxNo));
    set('seller_street', s.street);
    set('seller_post_code', s.postCode);
    set('seller_city', s.city);
    set('seller_country', s.country);
    set('seller_email', s.email);
    set('seller_phone', s.phone);
    set('seller_bank_account', s.bankAccount);
  }
  const p = opts.payment;
  if (p) {
    const paidDate = dayInPoland(p.confirmedAt);
    invoice.status = 'paid';
    invoice.paid = minorToDecimal(p.amount, order.currency);
    invoice.paid_date = paidDate;
    invoice.payment_to = paidDate;
    invoice.payment_type = paymentTypeOf(p);
  }
  return invoice;
}

/** One position of a correction: the difference, with the state before and after (Fakturownia's correction fields). */
interface CorrectionPosition {
  name: string;
  tax: number;
  quantity: number;
  total_price_gross: string;
  kind: 'correction';
  correction_before_attributes: { name: string; tax: number; quantity: number; total_price_gross: string; kind: 'correction_before' };
  correction_after_attributes: { name: string; tax: number; quantity: number; total_price_gross: string; kind: 'correction_after' };
}

/**
 * A correction document of `original` (README "Faktura korygująca" of the Fakturownia API):
 * `kind: "correction"`, `invoice_id` / `from_invoice_id` of the original, `correction_reason`, and
 * positions carrying the difference with their state before and after. A full reversal takes every
 * line (and the shipping) to zero; a partial one (a refund of part of the price) takes `-amount`
 * gross split over the order's VAT rates in proportion to what the order had at each rate
 * (`splitByVatRate`), one position per rate, so each rate's tax is corrected by its own share.
 */
export function toFakturowniaCorrection(order: OrderData, original: DocumentInfo, c: CorrectionSpec, opts: InvoiceMappingOptions): Record<string, unknown> {
  const base = toFakturowniaInvoice(order, { today: opts.today, seller: opts.seller, payment: null });
  const cur = order.currency;
  const neg = (minor: number) => minorToDecimal(-minor, cur);
  const topRate = Math.max(...order.lines.map((l) => l.taxRate));
  const lines = [
    ...order.lines.map((l) => ({ name: l.name, tax: l.taxRate, quantity: l.quantity, gross: l.unitPrice * l.quantity })),
    ...(order.shippingPrice > 0 ? [{ name: order.language === 'pl' ? 'Dostawa' : 'Shipping', tax: topRate, quantity: 1, gross: order.shippingPrice }] : []),
  ];
  const reason = c.reason.slice(0, 180) || (order.language === 'pl' ? 'Korekta' : 'Correction');
  const shares = splitByVatRate(lines, c.amount);
  const positions: CorrectionPosition[] = c.full
    ? lines.map((l) => ({
        name: l.name,
        tax: l.tax,
        quantity: -l.quantity,
        total_price_gross: neg(l.gross),
        kind: 'correction',
        correction_before_attributes: { name: l.name, tax: l.tax, quantity: l.quantity, total_price_gross: minorToDecimal(l.gross, cur), kind: 'correction_before' },
        correction_after_attributes: { name: l.name, tax: l.tax, quantity: 0, total_price_gross: minorToDecimal(0, cur), kind: 'correction_after' },
      }))
    : shares.map((s) => {
        const name = shares.length > 1 ? `${reason} (VAT ${s.tax}%)` : reason;
        return {
          name,
          tax: s.tax,
          quantity: 1,
          total_price_gross: neg(s.gross),
          kind: 'correction',
          correction_before_attributes: { name, tax: s.tax, quantity: 1, total_price_gross: minorToDecimal(0, cur), kind: 'correction_before' },
          correction_after_attributes: { name, tax: s.tax, quantity: 1, total_price_gross: neg(s.gross), kind: 'correction_after' },
        };
      });
  const { status: _s, paid: _p, paid_date: _pd, payment_type: _pt, ...rest } = base;
  return {
    ...rest,
    kind: 'correction',
    invoice_id: original.providerId,
    from_invoice_id: original.providerId,
    correction_reason: c.reason.slice(0, 500) || 'Korekta',
    oid: c.correctionId,
    oid_unique: 'yes',
    positions,
  };
}

/**
 * `amount` (minor units) split over the VAT rates of `lines` in proportion to their gross at each
 * rate, highest rate first; the shares add up to `amount` exactly (the largest remainders get the
 * odd grosz). Lines without gross → all at the highest rate.
 */
export function splitByVatRate(lines: ReadonlyArray<{ tax: number; gross: number }>, amount: number): Array<{ tax: number; gross: number }> {
  const byRate = new Map<number, number>();
  for (const l of lines) byRate.set(l.tax, (byRate.get(l.tax) ?? 0) + l.gross);
  const rates = [...byRate].sort((a, b) => b[0] - a[0]);
  const total = rates.reduce((s, [, g]) => s + g, 0);
  if (total <= 0 || rates.length === 0) return [{ tax: rates[0]?.[0] ?? 0, gross: amount }];
  const shares = rates.map(([tax, g]) => {
    const exact = (amount * g) / total;
    return { tax, gross: Math.floor(exact), rest: exact - Math.floor(exact) };
  });
  let left = amount - shares.reduce((s, x) => s + x.gross, 0);
  for (const s of [...shares].sort((a, b) => b.rest - a.rest)) {
    if (left <= 0) break;
    s.gross++;
    left--;
  }
  return shares.filter((s) => s.gross > 0).map(({ tax, gross }) => ({ tax, gross }));
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

/** The `gov_*` fields of an invoice (KSeF.md, "Sprawdzanie statusu wysyłki"). */
function readKsef(body: unknown): KsefReading {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);
  const errors = b['gov_error_messages'];
  return {
    govStatus: text(b['gov_status']),
    ksefNumber: text(b['gov_id']),
    verificationLink: text(b['gov_verification_link']),
    errors: Array.isArray(errors) ? errors.map(String) : typeof errors === 'string' && errors !== '' ? [errors] : [],
  };
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

/**
 * Fakturownia REST adapter: `POST /invoices.json` (with `oid` = our order id and `oid_unique: "yes"`),
 * `GET /invoices.json?oid=…`, `GET /invoices/{id}.pdf`. HTTP outcomes become error codes here, once:
 * timeouts, connection errors, 408, 429 (with Retry-After) and 5xx are retryable; 4xx are not.
 */
/** `GET /invoices.json` pages: the API's largest page, and a bound on how many are read. */
const PER_PAGE = 100;
const MAX_PAGES = 20;

export function createFakturowniaAdapter(o: FakturowniaOptions): InvoicingProvider {
  const base = o.baseUrl.replace(/\/+$/, '');
  const today = o.today ?? todayInPoland;
  const http = createHttpClient();

  async function request(method: 'GET' | 'POST', path: string, query: Record<string, string>, body?: unknown): Promise<HttpAnswer> {
    const url = new URL(`${base}${path}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    if (method === 'GET') url.searchParams.set('api_token', o.apiToken);
    const what = `${method} ${path}`;
    let res: HttpAnswer;
    try {
      res = await http.request(url, {
        method,
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        timeoutMs: o.timeoutMs,
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

  /**
   * Every page of `GET /invoices.json` for a filter (`page=1,2,…`, 100 a page) until a short page; at
   * most MAX_PAGES pages (a filter matching more is not an order's documents).
   */
  async function listAll(filter: Record<string, string>, what: string): Promise<unknown[]> {
    const out: unknown[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const res = await request('GET', '/invoices.json', { ...filter, period: 'all', per_page: String(PER_PAGE), page: String(page) });
      const list = await json<unknown>(res, what);
      if (!Array.isArray(list)) throw new OrderpilotError('PROVIDER_UNAVAILABLE', `invoicing system: ${what} did not return a list`);
      out.push(...list);
      if (list.length < PER_PAGE) return out;
    }
    return out;
  }

  async function findAllByOrder(orderId: string): Promise<DocumentInfo[]> {
    const list = await listAll({ oid: orderId }, 'GET /invoices.json');
    // The provider's filter may be a search; only an exact oid is ours. Oldest first.
    const mine = list.filter((i): i is FakturowniaInvoice => isInvoice(i) && i.oid === orderId);
    mine.sort((x, y) => Number(x.id) - Number(y.id));
    return mine.map(toDocument);
  }

  async function json<T>(res: HttpAnswer, what: string): Promise<T> {
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
    ...(typeof inv.token === 'string' && /^[A-Za-z0-9_-]{1,200}$/.test(inv.token) ? { pdfUrl: `${base}/invoice/${inv.token}.pdf` } : {}),
  });

  const isInvoice = (v: unknown): v is FakturowniaInvoice =>
    typeof v === 'object' && v !== null && (typeof (v as FakturowniaInvoice).id === 'number' || typeof (v as FakturowniaInvoice).id === 'string') &&
    typeof (v as FakturowniaInvoice).number === 'string' && typeof (v as FakturowniaInvoice).issue_date === 'string';

  return {
    name: 'fakturownia',
    async findByOrder(orderId) {
      return (await findAllByOrder(orderId))[0] ?? null;
    },
    findAllByOrder,
    async findByNumber(number) {
      const res = await request('GET', '/invoices.json', { number, period: 'all', per_page: '100' });
      const list = await json<unknown>(res, 'GET /invoices.json?number');
      if (!Array.isArray(list)) throw new OrderpilotError('PROVIDER_UNAVAILABLE', 'invoicing system: GET /invoices.json did not return a list');
      // Like oid, the provider's filter may be a search: only the exact number counts.
      return list.filter((i): i is FakturowniaInvoice => isInvoice(i) && i.number === number).map((i) => ({ ...toDocument(i), oid: typeof i.oid === 'string' && i.oid !== '' ? i.oid : null }));
    },
    async issue(order, opts: IssueOptions = { payment: null, sendToKsef: false }) {
      const invoice = toFakturowniaInvoice(order, { today: today(), seller: o.seller, payment: opts.payment });
      const res = await request('POST', '/invoices.json', {}, { api_token: o.apiToken, ...(opts.sendToKsef ? { gov_save_and_send: true } : {}), invoice });
      const inv = await json<unknown>(res, 'POST /invoices.json');
      if (!isInvoice(inv)) throw new OrderpilotError('PROVIDER_UNAVAILABLE', 'invoicing system: POST /invoices.json answered without id, number and issue_date');
      return toDocument(inv);
    },
    async issueCorrection(order, original, c, opts) {
      const invoice = toFakturowniaCorrection(order, original, c, { today: today(), seller: o.seller });
      const res = await request('POST', '/invoices.json', {}, { api_token: o.apiToken, ...(opts.sendToKsef ? { gov_save_and_send: true } : {}), invoice });
      const inv = await json<unknown>(res, 'POST /invoices.json (correction)');
      if (!isInvoice(inv)) throw new OrderpilotError('PROVIDER_UNAVAILABLE', 'invoicing system: POST /invoices.json answered without id, number and issue_date');
      return toDocument(inv);
    },
    async ksefStatus(providerId) {
      const res = await request('GET', `/invoices/${encodeURIComponent(providerId)}.json`, {});
      return readKsef(await json<unknown>(res, 'GET /invoices/{id}.json'));
    },
    async sendToKsef(providerId) {
      // KSeF.md: `GET /invoices/{ID}.json?send_to_ksef=yes` sends an existing document (again).
      const res = await request('GET', `/invoices/${encodeURIComponent(providerId)}.json`, { send_to_ksef: 'yes' });
      await res.arrayBuffer().catch(() => undefined);
    },
    async findByKsefNumber(ksefNumber) {
      const res = await request('GET', '/invoices.json', { gov_id: ksefNumber, period: 'all', per_page: '100' });
      const list = await json<unknown>(res, 'GET /invoices.json?gov_id');
      if (!Array.isArray(list)) throw new OrderpilotError('PROVIDER_UNAVAILABLE', 'invoicing system: GET /invoices.json did not return a list');
      return list.filter(isInvoice).map((i) => String(i.id));
    },
    async downloadKsefFile(providerId, kind) {
      let res: HttpAnswer;
      try {
        // A 302 to the file when it is ready (followed), 404 while there is none.
        res = await request('GET', `/invoices/${encodeURIComponent(providerId)}/attachment`, { kind });
      } catch (err) {
        if (isOrderpilotError(err) && err.code === 'NOT_FOUND') return null;
        throw err;
      }
      try {
        return await res.bytes();
      } catch (err) {
        throw new OrderpilotError('PROVIDER_UNAVAILABLE', `invoicing system: KSeF file ${kind} of document ${providerId} was cut off`, { cause: err });
      }
    },
    async downloadPdf(providerId) {
      const res = await request('GET', `/invoices/${encodeURIComponent(providerId)}.pdf`, {});
      let pdf: Buffer;
      try {
        pdf = await res.bytes();
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
