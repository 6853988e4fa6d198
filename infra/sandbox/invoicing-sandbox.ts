import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenHttp } from './http-listen.ts';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { renderInvoicePdf, type PdfInvoice } from './invoice-pdf.ts';

/**
 * A Fakturownia-compatible invoicing system on loopback, for the demo and the tests: a real HTTP
 * server speaking the subset orderpilot uses, storing documents in memory, numbering them
 * `FV/<n>/<MM>/<YYYY>` and rendering real PDFs. Faults are injected by configuration.
 *
 * - `POST /invoices.json` `{ api_token, invoice }` → 201 with the invoice; 422 `{ code: "error",
 *   message: { field: ["…"] } }` for bad data, a bad NIP, or a taken `oid` when `oid_unique: "yes"`.
 * - `GET /invoices.json?oid=…&api_token=…` (or `number=…`) → the invoices whose oid (number)
 *   *contains* the value (a search, like a real list filter; clients must match exactly on their side).
 * - `GET /invoices/{id}.json`, `GET /invoices/{id}.pdf` (`?api_token=…`).
 */

export interface InvoicingSandboxFaults {
  /** Added to every request before it is answered. */
  latencyMs: number;
  /** Share of requests answered 503 (before anything is done). */
  errorRate: number;
  /** Share of requests never answered (the client times out). */
  timeoutRate: number;
  /** Share of creates that store the document and then drop the connection without an answer. */
  dropResponseRate: number;
  /** Share of requests answered 429 with `Retry-After: 1`. */
  rateLimitRate: number;
  /** The next N requests are answered 503 (deterministic, counts down). */
  failNext: number;
  /** Reject invalid Polish NIPs with 422 like the real system (default true). */
  rejectBadNip: boolean;
  /** KSeF: how long a sent document stays `processing` before its verdict (default 300 ms). */
  ksefProcessingMs: number;
  /** KSeF: the next N sends are refused (`send_error` with KSeF's messages). */
  ksefRejectNext: number;
  /** KSeF: share of sends refused. */
  ksefRejectRate: number;
  /** KSeF: the next N sends meet a KSeF outage (`server_error`; Fakturownia does not retry). */
  ksefServerErrorNext: number;
  /** KSeF: the next N sends go `offline` first (accepted after another processing delay). */
  ksefOfflineNext: number;
  /** KSeF: the next N sends end in `duplicate_error` (KSeF already holds the document; its number is in the message). */
  ksefDuplicateNext: number;
}

/**
 * The account's KSeF integration: `off` (no KSeF: `gov_save_and_send` ends `not_connected`), `demo`
 * (statuses prefixed `demo_`), `on`. With KSeF on, creates are validated like Fakturownia's
 * "block invoices that do not meet KSeF" setting (422 naming the fields).
 */
export type SandboxKsefMode = 'off' | 'demo' | 'on';

export interface SandboxInvoice {
  id: number;
  kind: string;
  number: string;
  issue_date: string;
  sell_date: string;
  payment_to: string | null;
  currency: string;
  lang: string;
  buyer_name: string;
  buyer_tax_no: string | null;
  buyer_email: string;
  buyer_street: string;
  buyer_city: string;
  buyer_post_code: string;
  buyer_country: string;
  oid: string | null;
  positions: Array<{ name: string; tax: string | number; quantity: number; total_price_gross: string; total_price_net: string }>;
  price_net: string;
  price_gross: string;
  price_tax: string;
  token: string;
  status: string;
  paid: string | null;
  paid_date: string | null;
  payment_type: string | null;
  buyer_company: boolean;
  buyer_tax_no_kind: string;
  seller_name: string | null;
  seller_tax_no: string | null;
  seller_street: string | null;
  seller_post_code: string | null;
  seller_city: string | null;
  gov_status: string | null;
  gov_id: string | null;
  gov_send_date: string | null;
  gov_error_messages: string[] | null;
  gov_verification_link: string | null;
  gov_link: string | null;
  gov_corrected_invoice_number: string | null;
  /** A correction: the corrected document's id, and why. */
  invoice_id: number | null;
  correction_reason: string | null;
  created_at: string;
}

export type SandboxRoute = 'create' | 'list' | 'get' | 'pdf' | 'ksef' | 'other';

export interface InvoicingSandbox {
  readonly url: string;
  readonly port: number;
  readonly apiToken: string;
  /** Requests received per route (counted before faults are applied). */
  readonly requests: Record<SandboxRoute, number>;
  /** Faults applied so far, by kind. */
  readonly injected: { errors: number; timeouts: number; dropped: number; rateLimited: number };
  invoices(): SandboxInvoice[];
  /** Sends to KSeF so far (gov_save_and_send and send_to_ksef). */
  ksefSends(): number;
  configure(faults: Partial<InvoicingSandboxFaults>): void;
  /**
   * Creates whose `oid` starts with `prefix` wait unanswered until released (tests: a document stays
   * `requested` for as long as a step needs). An order id holds its document and its corrections.
   */
  holdCreates(prefix: string): void;
  /**
   * KSeF verdicts of documents whose `oid` starts with `prefix` wait (`processing`, or `offline` after
   * an offline verdict) until `releaseKsef` gives one (tests: the verdict a step needs, when it needs it).
   */
  holdKsef(prefix: string): void;
  /** Whether the newest document with exactly this `oid` waits for a held KSeF verdict. */
  heldKsef(oid: string): boolean;
  /** Gives the held KSeF verdict of the newest document with this `oid`: accepted, refused (`send_error`) or offline. */
  releaseKsef(oid: string, outcome: 'ok' | 'send_error' | 'offline'): boolean;
  /** Stops holding creates of `prefix` and lets every waiting one through as usual. */
  unholdCreates(prefix: string): void;
  /** Creates with exactly this `oid` waiting under `holdCreates`. */
  heldCreates(oid: string): number;
  /**
   * Look-ups by order (`GET /invoices.json?oid=`) for `oid` wait unanswered until `answerOrderLookups`
   * (tests: a look-up that is slow while the order's create is answered meanwhile).
   */
  holdOrderLookups(oid: string): void;
  heldOrderLookups(oid: string): number;
  /** Stops holding look-ups for `oid` and answers those waiting, with the invoices as they are then. */
  answerOrderLookups(oid: string): number;
  /** Answers the oldest waiting create of exactly this `oid`: as usual (`ok`) or refused with 422 and these messages. */
  releaseCreate(oid: string, outcome?: 'ok' | { refuse: Record<string, string[]> }): boolean;
  close(): Promise<void>;
}

export interface InvoicingSandboxOptions {
  port?: number;
  host?: string;
  /** The token clients must send (default: a random one, see `apiToken`). */
  apiToken?: string;
  faults?: Partial<InvoicingSandboxFaults>;
  /** Random source for fault injection (tests may make it deterministic). */
  random?: () => number;
  /** Documents issued before a restart (the demo keeps them in Postgres): numbering continues after them. */
  initialInvoices?: readonly SandboxInvoice[];
  /** Awaited after a document is stored and before it is answered, so it survives a restart (demo). */
  persist?: (invoice: SandboxInvoice) => Promise<void>;
  /** The account's KSeF integration (default `off`). */
  ksef?: SandboxKsefMode;
}

const DEFAULT_FAULTS: InvoicingSandboxFaults = {
  latencyMs: 0,
  errorRate: 0,
  timeoutRate: 0,
  dropResponseRate: 0,
  rateLimitRate: 0,
  failNext: 0,
  rejectBadNip: true,
  ksefProcessingMs: 300,
  ksefRejectNext: 0,
  ksefRejectRate: 0,
  ksefServerErrorNext: 0,
  ksefOfflineNext: 0,
  ksefDuplicateNext: 0,
};

/** Messages KSeF 2.0 gives for refused documents, as Fakturownia shows them in gov_error_messages. */
const KSEF_REJECTIONS = [
  'Błąd weryfikacji semantyki dokumentu faktury: Nieprawidłowy NIP nabywcy (Podmiot2/DaneIdentyfikacyjne/NIP)',
  'Błąd weryfikacji semantyki dokumentu faktury: Data wystawienia faktury późniejsza niż data przesłania do KSeF',
  'Błąd weryfikacji semantyki dokumentu faktury: Suma kwot P_13 i P_14 niezgodna z kwotą należności ogółem P_15',
];

const SELLER = { name: 'orderpilot Sandbox Sp. z o.o.', taxNo: '5260250274', street: 'ul. Testowa 1', city: '00-950 Warszawa' };
const MAX_BODY = 1024 * 1024;

function isValidNip(raw: string): boolean {
  const nip = raw.replace(/[\s-]/g, '').replace(/^PL/i, '');
  if (!/^\d{10}$/.test(nip)) return false;
  const w = [6, 5, 7, 2, 3, 4, 5, 6, 7];
  const sum = w.reduce((s, k, i) => s + k * Number(nip[i]), 0);
  return sum % 11 !== 10 && sum % 11 === Number(nip[9]);
}

/** Decimal string/number → integer hundredths (BigInt), or null when it is not a plain decimal. */
function cents(v: unknown): bigint | null {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim().replace(',', '.') : '';
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(s);
  if (!m) return null;
  const abs = BigInt(m[2] ?? '0') * 100n + BigInt((m[3] ?? '').padEnd(2, '0'));
  return m[1] === '-' ? -abs : abs;
}
const fmt = (c: bigint): string => `${c < 0n ? '-' : ''}${(c < 0n ? -c : c) / 100n}.${String((c < 0n ? -c : c) % 100n).padStart(2, '0')}`;

function taxRate(t: unknown): number | null {
  if (typeof t === 'number' && t >= 0 && t <= 100) return t;
  if (typeof t === 'string') {
    if (['zw', 'np', 'oo', 'na'].includes(t.toLowerCase())) return 0;
    const n = Number(t);
    if (t.trim() !== '' && Number.isFinite(n) && n >= 0 && n <= 100) return n;
  }
  return null;
}

const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '');
const truthy = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 'true' || v === 'yes';
const hex = (n: number): string => randomBytes(n).toString('hex').toUpperCase();
const isDate = (v: string): boolean => /^\d{4}-\d{2}-\d{2}$/.test(v);

export async function startInvoicingSandbox(opts: InvoicingSandboxOptions = {}): Promise<InvoicingSandbox> {
  const apiToken = opts.apiToken ?? `sandbox_${randomBytes(8).toString('hex')}`;
  const random = opts.random ?? Math.random;
  let faults: InvoicingSandboxFaults = { ...DEFAULT_FAULTS, ...opts.faults };
  const byId = new Map<number, SandboxInvoice>();
  const monthly = new Map<string, number>();
  let nextId = 1000;
  for (const inv of opts.initialInvoices ?? []) {
    byId.set(inv.id, inv);
    nextId = Math.max(nextId, inv.id + 1);
    const m = /^(FV|FK)\/(\d+)\/(\d{2})\/(\d{4})$/.exec(inv.number);
    const series = m ? `${m[1] === 'FK' ? 'FK-' : ''}${m[4]}-${m[3]}` : null;
    if (m && series) monthly.set(series, Math.max(monthly.get(series) ?? 0, Number(m[2])));
  }
  const holds = new Set<string>();
  const ksefHolds = new Set<string>();
  const ksefHeld = (inv: SandboxInvoice) => inv.oid !== null && inv.oid !== undefined && [...ksefHolds].some((p) => String(inv.oid).startsWith(p));
  const newestByOid = (oid: string) => [...byId.values()].filter((i) => i.oid === oid).sort((a, b) => b.id - a.id)[0];
  const lookupHolds = new Set<string>();
  const heldLookups = new Map<string, Array<() => void>>();
  const heldByOid = new Map<string, Array<(o: 'ok' | { refuse: Record<string, string[]> }) => void>>();
  const requests: Record<SandboxRoute, number> = { create: 0, list: 0, get: 0, pdf: 0, ksef: 0, other: 0 };
  const ksefMode: SandboxKsefMode = opts.ksef ?? 'off';
  const prefix = ksefMode === 'demo' ? 'demo_' : '';
  /** Pending KSeF work per invoice id: what KSeF will say, and when. */
  const ksefQueue = new Map<number, { outcome: 'ok' | 'send_error' | 'server_error' | 'offline' | 'duplicate_error'; at: number }>();
  /** KSeF numbers KSeF holds (gov_id → invoice id), also those only named in a duplicate_error. */
  const ksefRegistry = new Map<string, number>();
  const sends = { total: 0 };

  /** Starts a KSeF send (gov_save_and_send or send_to_ksef): `processing` now, the verdict later. */
  function sendToKsef(inv: SandboxInvoice): void {
    sends.total++;
    inv.gov_send_date = new Date().toISOString();
    if (ksefMode === 'off') {
      inv.gov_status = 'not_connected';
      return;
    }
    const take = (k: 'ksefRejectNext' | 'ksefServerErrorNext' | 'ksefOfflineNext' | 'ksefDuplicateNext'): boolean => {
      if (faults[k] <= 0) return false;
      faults[k]--;
      return true;
    };
    const outcome = take('ksefServerErrorNext') ? 'server_error' : take('ksefRejectNext') || (faults.ksefRejectRate > 0 && random() < faults.ksefRejectRate) ? 'send_error' : take('ksefOfflineNext') ? 'offline' : take('ksefDuplicateNext') ? 'duplicate_error' : 'ok';
    inv.gov_status = `${prefix}processing`;
    inv.gov_error_messages = null;
    ksefQueue.set(inv.id, ksefHeld(inv) ? { outcome: 'ok', at: Number.POSITIVE_INFINITY } : { outcome, at: Date.now() + faults.ksefProcessingMs });
  }

  function ksefNumberFor(inv: SandboxInvoice): string {
    const nip = (inv.seller_tax_no ?? SELLER.taxNo).replace(/\D/g, '').slice(-10);
    return `${nip}-${inv.issue_date.replace(/-/g, '')}-${hex(6)}-${hex(1)}`;
  }

  /** Applies a due verdict (status reads see KSeF's progress). */
  function settleKsef(inv: SandboxInvoice): void {
    const job = ksefQueue.get(inv.id);
    if (!job || Date.now() < job.at) return;
    ksefQueue.delete(inv.id);
    const host = ksefMode === 'demo' ? 'https://ksef-demo.mf.gov.pl' : 'https://ksef.mf.gov.pl';
    switch (job.outcome) {
      case 'ok': {
        const id = ksefNumberFor(inv);
        ksefRegistry.set(id, inv.id);
        Object.assign(inv, { gov_status: `${prefix}ok`, gov_id: id, gov_error_messages: null, gov_verification_link: `${host}/web/verify/${id}/${randomBytes(12).toString('base64url')}`, gov_link: `${host}/invoice/${inv.id}` });
        return;
      }
      case 'offline':
        // Offline: valid, waiting to be passed to KSeF; it gets there after another delay.
        inv.gov_status = `${prefix}offline`;
        ksefQueue.set(inv.id, { outcome: 'ok', at: ksefHeld(inv) ? Number.POSITIVE_INFINITY : Date.now() + faults.ksefProcessingMs });
        return;
      case 'send_error':
        inv.gov_status = `${prefix}send_error`;
        inv.gov_error_messages = [KSEF_REJECTIONS[Math.floor(random() * KSEF_REJECTIONS.length)] ?? 'Błąd weryfikacji semantyki dokumentu faktury'];
        return;
      case 'server_error':
        inv.gov_status = `${prefix}server_error`;
        inv.gov_error_messages = ['Błąd serwera KSeF (500): usługa chwilowo niedostępna, spróbuj ponownie później'];
        return;
      case 'duplicate_error': {
        // KSeF already holds this document (an earlier send whose answer was lost): it names its number.
        const id = ksefNumberFor(inv);
        ksefRegistry.set(id, inv.id);
        inv.gov_status = `${prefix}duplicate_error`;
        inv.gov_error_messages = [`Duplikat faktury. Faktura o numerze ${inv.number} została już przyjęta w KSeF pod numerem ${id}`];
        return;
      }
    }
  }

  /** Fakturownia's KSeF validation (KSeF.md "Nowe wymagane pola", "Ograniczenia długości pól"). */
  function ksefErrors(i: Record<string, unknown>, errors: Record<string, string[]>): void {
    for (const f of ['seller_name', 'seller_tax_no', 'seller_street', 'seller_post_code', 'seller_city']) {
      if (!str(i[f])) errors[f] = ['- nie może być puste'];
    }
    const company = truthy(i['buyer_company']);
    if (company && str(i['buyer_tax_no_kind']) !== 'empty' && !str(i['buyer_tax_no'])) errors['buyer_tax_no'] = ['- nie może być puste'];
    if (!company && !str(i['buyer_last_name']) && !str(i['buyer_name'])) errors['buyer_last_name'] = ['- nie może być puste'];
    for (const f of ['buyer_phone', 'seller_phone']) if ([...str(i[f])].length > 16) errors[f] = ['- pole jest za długie (maksymalna ilość znaków: 16)'];
    for (const f of ['buyer_email', 'seller_email']) if ([...str(i[f])].length > 255) errors[f] = ['- pole jest za długie (maksymalna ilość znaków: 255)'];
    const positions = Array.isArray(i['positions']) ? (i['positions'] as Array<Record<string, unknown>>) : [];
    positions.forEach((p, n) => {
      if ([...str(p?.['name'])].length > 256) errors[`positions[${n}].name`] = ['- pole jest za długie (maksymalna ilość znaków: 256)'];
    });
  }
  const injected = { errors: 0, timeouts: 0, dropped: 0, rateLimited: 0 };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const data = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(data.length), ...headers });
    res.end(data);
  };
  const invalid = (res: ServerResponse, message: Record<string, string[]>) => send(res, 422, { code: 'error', message });

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          reject(new Error('body too large'));
          req.destroy();
        } else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  function create(body: unknown, res: ServerResponse): SandboxInvoice | null {
    if (typeof body !== 'object' || body === null) {
      send(res, 400, { code: 'error', message: 'body must be a JSON object' });
      return null;
    }
    const b = body as { api_token?: unknown; invoice?: unknown };
    if (b.api_token !== apiToken) {
      send(res, 401, { code: 'error', message: 'Nieprawidłowy token API' });
      return null;
    }
    if (typeof b.invoice !== 'object' || b.invoice === null) {
      invalid(res, { invoice: ['nie może być puste'] });
      return null;
    }
    const i = b.invoice as Record<string, unknown>;
    const errors: Record<string, string[]> = {};
    const buyerName = str(i['buyer_name']);
    if (!buyerName) errors['buyer_name'] = ['nie może być puste'];
    const taxNo = str(i['buyer_tax_no']);
    const country = str(i['buyer_country']) || 'PL';
    if (taxNo && faults.rejectBadNip && country === 'PL' && !isValidNip(taxNo)) errors['buyer_tax_no'] = ['NIP jest nieprawidłowy'];
    // A correction (`kind: "correction"`) names the corrected document and carries differences
    // (negative amounts and quantities), like Fakturownia's "Faktura korygująca".
    const correction = str(i['kind']) === 'correction';
    const corrected = correction ? byId.get(Number(str(i['invoice_id']))) : undefined;
    if (correction && corrected === undefined) errors['invoice_id'] = ['- faktura korygowana nie istnieje'];
    const rawPositions = Array.isArray(i['positions']) ? (i['positions'] as unknown[]) : [];
    if (rawPositions.length === 0) errors['positions'] = ['nie może być puste'];
    const positions: SandboxInvoice['positions'] = [];
    let gross = 0n;
    let net = 0n;
    rawPositions.forEach((p, n) => {
      const pos = (typeof p === 'object' && p !== null ? p : {}) as Record<string, unknown>;
      const g = cents(pos['total_price_gross']);
      const rate = taxRate(pos['tax']);
      const qty = Number(pos['quantity'] ?? 1);
      if (!str(pos['name']) || g === null || rate === null || !Number.isFinite(qty) || (correction ? false : qty <= 0 || g < 0n)) {
        errors[`positions[${n}]`] = ['name, tax, total_price_gross (decimal) and quantity are required'];
        return;
      }
      const bp = BigInt(Math.round(rate * 100));
      const lineNet = (g * 10000n * 2n + (10000n + bp)) / (2n * (10000n + bp));
      gross += g;
      net += lineNet;
      positions.push({ name: str(pos['name']), tax: pos['tax'] as string | number, quantity: qty, total_price_gross: fmt(g), total_price_net: fmt(lineNet) });
    });
    if (ksefMode !== 'off') ksefErrors(i, errors);
    const oid = str(i['oid']) || null;
    if (oid && str(i['oid_unique']) === 'yes' && [...byId.values()].some((x) => x.oid === oid)) errors['oid'] = ['jest już zajęte'];
    const today = new Date().toISOString().slice(0, 10);
    const issueDate = str(i['issue_date']) || today;
    if (!isDate(issueDate)) errors['issue_date'] = ['nieprawidłowa data'];
    if (Object.keys(errors).length > 0) {
      invalid(res, errors);
      return null;
    }
    const [yyyy, mm] = issueDate.split('-') as [string, string];
    const series = correction ? `FK-${yyyy}-${mm}` : `${yyyy}-${mm}`;
    const n = (monthly.get(series) ?? 0) + 1;
    monthly.set(series, n);
    const inv: SandboxInvoice = {
      id: nextId++,
      kind: str(i['kind']) || 'vat',
      number: `${correction ? 'FK' : 'FV'}/${n}/${mm}/${yyyy}`,
      issue_date: issueDate,
      sell_date: str(i['sell_date']) || issueDate,
      payment_to: str(i['payment_to']) || null,
      currency: str(i['currency']) || 'PLN',
      lang: str(i['lang']) || 'pl',
      buyer_name: buyerName,
      buyer_tax_no: taxNo || null,
      buyer_email: str(i['buyer_email']),
      buyer_street: str(i['buyer_street']),
      buyer_city: str(i['buyer_city']),
      buyer_post_code: str(i['buyer_post_code']),
      buyer_country: country,
      oid,
      positions,
      price_net: fmt(net),
      price_gross: fmt(gross),
      price_tax: fmt(gross - net),
      token: randomBytes(10).toString('hex'),
      status: ['issued', 'sent', 'paid', 'partial', 'rejected'].includes(str(i['status'])) ? str(i['status']) : 'issued',
      paid: str(i['paid']) || null,
      paid_date: str(i['paid_date']) || null,
      payment_type: str(i['payment_type']) || null,
      buyer_company: truthy(i['buyer_company']),
      buyer_tax_no_kind: str(i['buyer_tax_no_kind']),
      seller_name: str(i['seller_name']) || null,
      seller_tax_no: str(i['seller_tax_no']) || null,
      seller_street: str(i['seller_street']) || null,
      seller_post_code: str(i['seller_post_code']) || null,
      seller_city: str(i['seller_city']) || null,
      gov_status: null,
      gov_id: null,
      gov_send_date: null,
      gov_error_messages: null,
      gov_verification_link: null,
      gov_link: null,
      gov_corrected_invoice_number: corrected?.number ?? null,
      invoice_id: corrected?.id ?? null,
      correction_reason: correction ? str(i['correction_reason']) || null : null,
      created_at: new Date().toISOString(),
    };
    byId.set(inv.id, inv);
    return inv;
  }

  // A document's PDF never changes once issued: rendered once, on its first download.
  const pdfs = new Map<number, Promise<Buffer>>();
  function pdfOf(inv: SandboxInvoice): Promise<Buffer> {
    const cached = pdfs.get(inv.id);
    if (cached) return cached;
    const pdf = renderPdf(inv);
    pdfs.set(inv.id, pdf);
    pdf.catch(() => pdfs.delete(inv.id));
    // Keep the most recent documents only (a long demo issues many).
    if (pdfs.size > 1000) pdfs.delete(pdfs.keys().next().value as number);
    return pdf;
  }

  function renderPdf(inv: SandboxInvoice): Promise<Buffer> {
    const doc: PdfInvoice = {
      number: inv.number,
      issueDate: inv.issue_date,
      sellDate: inv.sell_date,
      currency: inv.currency,
      seller: SELLER,
      buyer: { name: inv.buyer_name, taxNo: inv.buyer_tax_no, street: inv.buyer_street, postCode: inv.buyer_post_code, city: inv.buyer_city, country: inv.buyer_country, email: inv.buyer_email },
      positions: inv.positions.map((p) => ({ name: p.name, quantity: p.quantity, tax: typeof p.tax === 'number' ? `${p.tax}%` : p.tax, net: p.total_price_net, gross: p.total_price_gross })),
      totals: { net: inv.price_net, tax: inv.price_tax, gross: inv.price_gross },
      oid: inv.oid,
    };
    return renderInvoicePdf(doc);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const method = req.method ?? 'GET';
    const one = /^\/invoices\/(\d+)\.(json|pdf)$/.exec(url.pathname);
    const attachment = /^\/invoices\/(\d+)\/attachment$/.exec(url.pathname);
    const file = /^\/ksef-files\/(\d+)\/(gov|gov_upo)\.xml$/.exec(url.pathname);
    const route: SandboxRoute =
      url.pathname === '/invoices.json' ? (method === 'POST' ? 'create' : 'list') : one ? (one[2] === 'pdf' ? 'pdf' : 'get') : attachment || file ? 'ksef' : 'other';
    requests[route]++;
    if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
    if (faults.failNext > 0) {
      faults.failNext--;
      injected.errors++;
      send(res, 503, { code: 'error', message: 'Service Unavailable (injected)' });
      return;
    }
    if (faults.timeoutRate > 0 && random() < faults.timeoutRate) {
      injected.timeouts++;
      return; // never answered; the socket is closed by the client's timeout or by close()
    }
    if (faults.errorRate > 0 && random() < faults.errorRate) {
      injected.errors++;
      send(res, 503, { code: 'error', message: 'Service Unavailable (injected)' });
      return;
    }
    if (faults.rateLimitRate > 0 && random() < faults.rateLimitRate) {
      injected.rateLimited++;
      send(res, 429, { code: 'error', message: 'Too Many Requests (injected)' }, { 'retry-after': '1' });
      return;
    }
    if (route === 'create') {
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        send(res, 400, { code: 'error', message: 'body is not JSON' });
        return;
      }
      const oid = String(((body as { invoice?: { oid?: unknown } }).invoice?.oid ?? '') || '');
      if (oid !== '' && [...holds].some((p) => oid.startsWith(p))) {
        const outcome = await new Promise<'ok' | { refuse: Record<string, string[]> }>((resolve) => heldByOid.set(oid, [...(heldByOid.get(oid) ?? []), resolve]));
        if (outcome !== 'ok') {
          send(res, 422, { code: 'error', message: outcome.refuse });
          return;
        }
      }
      const inv = create(body, res);
      if (inv === null) return;
      if (truthy((body as Record<string, unknown>)['gov_save_and_send']) || truthy(url.searchParams.get('gov_save_and_send'))) sendToKsef(inv);
      if (opts.persist) {
        try {
          await opts.persist(inv);
        } catch (err) {
          byId.delete(inv.id); // not durable: answer 500 and keep no trace, like a failed insert
          throw err;
        }
      }
      if (faults.dropResponseRate > 0 && random() < faults.dropResponseRate) {
        injected.dropped++;
        req.socket.destroy(); // issued, but the answer is lost
        return;
      }
      send(res, 201, inv);
      return;
    }
    // The public link a customer may be sent (API README, "view_url"): the PDF by the invoice's token, no API token.
    const shared = method === 'GET' ? /^\/invoice\/([A-Za-z0-9_-]+)\.pdf$/.exec(url.pathname) : null;
    if (shared) {
      const inv = [...byId.values()].find((i) => i.token === shared[1]);
      if (!inv) {
        send(res, 404, { code: 'error', message: 'Nie znaleziono' });
        return;
      }
      const pdf = await pdfOf(inv);
      res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': String(pdf.length), 'content-disposition': `inline; filename="${inv.number.replace(/\//g, '-')}.pdf"` });
      res.end(pdf);
      return;
    }
    if (url.searchParams.get('api_token') !== apiToken) {
      send(res, 401, { code: 'error', message: 'Nieprawidłowy token API' });
      return;
    }
    if (route === 'list') {
      const oid = url.searchParams.get('oid');
      if (oid !== null && lookupHolds.has(oid)) await new Promise<void>((resolve) => heldLookups.set(oid, [...(heldLookups.get(oid) ?? []), resolve]));
      const govId = url.searchParams.get('gov_id');
      const number = url.searchParams.get('number');
      const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 25) || 25));
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
      for (const i of byId.values()) settleKsef(i);
      const list = [...byId.values()]
        .filter((i) => oid === null || (i.oid ?? '').includes(oid))
        .filter((i) => govId === null || i.gov_id === govId || ksefRegistry.get(govId) === i.id)
        .filter((i) => number === null || i.number.includes(number))
        .slice((page - 1) * perPage, page * perPage);
      send(res, 200, list);
      return;
    }
    if (attachment || file) {
      const inv = byId.get(Number((attachment ?? file)?.[1]));
      if (inv) settleKsef(inv);
      const kind = attachment ? url.searchParams.get('kind') : file?.[2];
      if (!inv || (kind !== 'gov' && kind !== 'gov_upo') || !inv.gov_id || !/ok$/.test(inv.gov_status ?? '')) {
        send(res, 404, { code: 'error', message: 'Nie znaleziono' });
        return;
      }
      if (attachment) {
        // KSeF.md: 302 to the file when it is ready.
        res.writeHead(302, { location: `/ksef-files/${inv.id}/${kind}.xml?api_token=${encodeURIComponent(apiToken)}`, 'content-length': '0' });
        res.end();
        return;
      }
      const xml =
        kind === 'gov'
          ? `<?xml version="1.0" encoding="UTF-8"?>\n<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/"><Naglowek><KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza></Naglowek><Fa><P_1>${inv.issue_date}</P_1><P_2>${inv.number}</P_2><P_15>${inv.price_gross}</P_15></Fa></Faktura>\n`
          : `<?xml version="1.0" encoding="UTF-8"?>\n<Potwierdzenie xmlns="http://upo.schematy.mf.gov.pl/KSeF/v4-3"><NumerKSeFDokumentu>${inv.gov_id}</NumerKSeFDokumentu><NumerFaktury>${inv.number}</NumerFaktury><DataPrzyjecia>${inv.gov_send_date ?? ''}</DataPrzyjecia></Potwierdzenie>\n`;
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8', 'content-length': String(Buffer.byteLength(xml)) });
      res.end(xml);
      return;
    }
    if (one) {
      const inv = byId.get(Number(one[1]));
      if (!inv) {
        send(res, 404, { code: 'error', message: 'Nie znaleziono' });
        return;
      }
      if (one[2] === 'json') {
        settleKsef(inv);
        if (truthy(url.searchParams.get('send_to_ksef'))) sendToKsef(inv);
        send(res, 200, inv);
        return;
      }
      const pdf = await pdfOf(inv);
      res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': String(pdf.length), 'content-disposition': `inline; filename="${inv.number.replace(/\//g, '-')}.pdf"` });
      res.end(pdf);
      return;
    }
    send(res, 404, { code: 'error', message: 'Nie znaleziono' });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { code: 'error', message: err instanceof Error ? err.message : String(err) });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  const { url, port, close } = await listenHttp(server, opts.port, opts.host);
  return {
    url,
    port,
    apiToken,
    requests,
    injected,
    ksefSends: () => sends.total,
    invoices: () => {
      for (const i of byId.values()) settleKsef(i);
      return [...byId.values()];
    },
    configure(f) {
      faults = { ...faults, ...f };
    },
    holdCreates(p) {
      holds.add(p);
    },
    holdKsef(p) {
      ksefHolds.add(p);
    },
    heldKsef(oid) {
      const inv = newestByOid(oid);
      return inv !== undefined && ksefQueue.get(inv.id)?.at === Number.POSITIVE_INFINITY;
    },
    releaseKsef(oid, outcome) {
      const inv = newestByOid(oid);
      if (inv === undefined || ksefQueue.get(inv.id)?.at !== Number.POSITIVE_INFINITY) return false;
      ksefQueue.set(inv.id, { outcome, at: Date.now() });
      return true;
    },
    unholdCreates(p) {
      ksefHolds.delete(p);
      holds.delete(p);
      for (const oid of [...heldByOid.keys()].filter((o) => o.startsWith(p))) {
        for (const r of heldByOid.get(oid) ?? []) r('ok');
        heldByOid.delete(oid);
      }
    },
    heldCreates: (oid) => heldByOid.get(oid)?.length ?? 0,
    holdOrderLookups(oid) {
      lookupHolds.add(oid);
    },
    heldOrderLookups: (oid) => heldLookups.get(oid)?.length ?? 0,
    answerOrderLookups(oid) {
      lookupHolds.delete(oid);
      const waiting = heldLookups.get(oid) ?? [];
      heldLookups.delete(oid);
      for (const r of waiting) r();
      return waiting.length;
    },
    releaseCreate(oid, outcome = 'ok') {
      const [first, ...rest] = heldByOid.get(oid) ?? [];
      if (rest.length > 0) heldByOid.set(oid, rest);
      else heldByOid.delete(oid);
      first?.(outcome);
      return first !== undefined;
    },
    close: async () => {
      holds.clear();
      lookupHolds.clear();
      for (const waiting of heldLookups.values()) for (const r of waiting) r();
      heldLookups.clear();
      for (const oid of [...heldByOid.keys()]) {
        for (const r of heldByOid.get(oid) ?? []) r({ refuse: { base: ['sandbox closing'] } });
        heldByOid.delete(oid);
      }
      await close();
    },
  };
}

/** `tsx infra/sandbox/invoicing-sandbox.ts --port 4010 --latency 50 --error-rate 0.1 …` */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '4010' },
      host: { type: 'string', default: '127.0.0.1' },
      'api-token': { type: 'string' },
      latency: { type: 'string', default: '0' },
      'error-rate': { type: 'string', default: '0' },
      'timeout-rate': { type: 'string', default: '0' },
      'drop-rate': { type: 'string', default: '0' },
      'rate-limit-rate': { type: 'string', default: '0' },
      'accept-bad-nip': { type: 'boolean', default: false },
    },
  });
  const num = (name: string, v: string | undefined, max: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > max) throw new Error(`--${name}: expected a number 0..${max}, got "${v}"`);
    return n;
  };
  const sandbox = await startInvoicingSandbox({
    port: num('port', values.port, 65535),
    host: values.host,
    ...(values['api-token'] ? { apiToken: values['api-token'] } : {}),
    faults: {
      latencyMs: num('latency', values.latency, 600_000),
      errorRate: num('error-rate', values['error-rate'], 1),
      timeoutRate: num('timeout-rate', values['timeout-rate'], 1),
      dropResponseRate: num('drop-rate', values['drop-rate'], 1),
      rateLimitRate: num('rate-limit-rate', values['rate-limit-rate'], 1),
      rejectBadNip: !values['accept-bad-nip'],
    },
  });
  process.stdout.write(`invoicing sandbox listening\nFAKTUROWNIA_URL=${sandbox.url}\nFAKTUROWNIA_API_TOKEN=${sandbox.apiToken}\n`);
  const stop = () => void sandbox.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`invoicing sandbox: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
