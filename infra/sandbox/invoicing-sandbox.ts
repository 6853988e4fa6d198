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
 * - `GET /invoices.json?oid=…&api_token=…` → the invoices whose oid *contains* the value (a search,
 *   like a real list filter; clients must match exactly on their side).
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
}

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
  created_at: string;
}

export type SandboxRoute = 'create' | 'list' | 'get' | 'pdf' | 'other';

export interface InvoicingSandbox {
  readonly url: string;
  readonly port: number;
  readonly apiToken: string;
  /** Requests received per route (counted before faults are applied). */
  readonly requests: Record<SandboxRoute, number>;
  /** Faults applied so far, by kind. */
  readonly injected: { errors: number; timeouts: number; dropped: number; rateLimited: number };
  invoices(): SandboxInvoice[];
  configure(faults: Partial<InvoicingSandboxFaults>): void;
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
}

const DEFAULT_FAULTS: InvoicingSandboxFaults = {
  latencyMs: 0,
  errorRate: 0,
  timeoutRate: 0,
  dropResponseRate: 0,
  rateLimitRate: 0,
  failNext: 0,
  rejectBadNip: true,
};

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
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(s);
  return m ? BigInt(m[1] ?? '0') * 100n + BigInt((m[2] ?? '').padEnd(2, '0')) : null;
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

const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');
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
    const m = /^FV\/(\d+)\/(\d{2})\/(\d{4})$/.exec(inv.number);
    if (m) monthly.set(`${m[3]}-${m[2]}`, Math.max(monthly.get(`${m[3]}-${m[2]}`) ?? 0, Number(m[1])));
  }
  const requests: Record<SandboxRoute, number> = { create: 0, list: 0, get: 0, pdf: 0, other: 0 };
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
      if (!str(pos['name']) || g === null || rate === null || !Number.isFinite(qty) || qty <= 0) {
        errors[`positions[${n}]`] = ['name, tax, total_price_gross (decimal) and quantity are required'];
        return;
      }
      const bp = BigInt(Math.round(rate * 100));
      const lineNet = (g * 10000n * 2n + (10000n + bp)) / (2n * (10000n + bp));
      gross += g;
      net += lineNet;
      positions.push({ name: str(pos['name']), tax: pos['tax'] as string | number, quantity: qty, total_price_gross: fmt(g), total_price_net: fmt(lineNet) });
    });
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
    const n = (monthly.get(`${yyyy}-${mm}`) ?? 0) + 1;
    monthly.set(`${yyyy}-${mm}`, n);
    const inv: SandboxInvoice = {
      id: nextId++,
      kind: str(i['kind']) || 'vat',
      number: `FV/${n}/${mm}/${yyyy}`,
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
      status: 'issued',
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
    const route: SandboxRoute =
      url.pathname === '/invoices.json' ? (method === 'POST' ? 'create' : 'list') : one ? (one[2] === 'pdf' ? 'pdf' : 'get') : 'other';
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
      const inv = create(body, res);
      if (inv === null) return;
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
    if (url.searchParams.get('api_token') !== apiToken) {
      send(res, 401, { code: 'error', message: 'Nieprawidłowy token API' });
      return;
    }
    if (route === 'list') {
      const oid = url.searchParams.get('oid');
      const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 25) || 25));
      const list = [...byId.values()].filter((i) => oid === null || (i.oid ?? '').includes(oid)).slice(0, perPage);
      send(res, 200, list);
      return;
    }
    if (one) {
      const inv = byId.get(Number(one[1]));
      if (!inv) {
        send(res, 404, { code: 'error', message: 'Nie znaleziono' });
        return;
      }
      if (one[2] === 'json') {
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
    invoices: () => [...byId.values()],
    configure(f) {
      faults = { ...faults, ...f };
    },
    close,
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
