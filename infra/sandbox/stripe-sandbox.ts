import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { listenHttp } from './http-listen.ts';
import { persistInOrder } from './persist-in-order.ts';

/**
 * A Stripe stand-in for refunds, on loopback, for the demo and the tests. The official SDK talks to
 * it through its host/port/protocol options. It speaks what orderpilot uses, like Stripe does:
 * `POST /v1/refunds` (form-encoded, `Authorization: Bearer sk_…`) with `payment_intent` or `charge`
 * and `amount`; `Idempotency-Key` replays the first answer (`Idempotent-Replayed: true`), the same
 * key with other parameters is a 400 `idempotency_error`; errors are `{ error: { type, code,
 * message, param } }` with Stripe's statuses (`resource_missing`, `charge_already_refunded`,
 * `amount_too_large`, 401 for a wrong key, 500 `api_error`).
 */

export interface StripeSandboxRefund {
  id: string;
  object: 'refund';
  amount: number;
  currency: string;
  charge: string;
  payment_intent: string;
  metadata: Record<string, string>;
  reason: string | null;
  status: 'succeeded';
  created: number;
}

export interface StripeSandboxFaults {
  /** The next N requests are answered 500 `api_error` (nothing done). */
  failNext: number;
  /** The next N refunds are made, then the connection is dropped before the answer. */
  dropNext: number;
  latencyMs: number;
}

export interface StripeSandbox {
  readonly url: string;
  readonly secretKey: string;
  /** Every refund made (a replayed idempotent request adds none). */
  refunds(): StripeSandboxRefund[];
  /** Requests received on `POST /v1/refunds`. */
  readonly requests: { refunds: number };
  /** A payment the sandbox knows (what a checkout would have created): payment intent, amount, currency. */
  addPayment(paymentIntent: string, amount: number, currency: string): void;
  configure(f: Partial<StripeSandboxFaults>): void;
  close(): Promise<void>;
}

/** A payment as the sandbox keeps it: its amount, charge, and how much of it was refunded. */
export interface StripeSandboxPayment {
  amount: number;
  currency: string;
  charge: string;
  refunded: number;
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;

export async function startStripeSandbox(
  o: {
    port?: number;
    secretKey?: string;
    faults?: Partial<StripeSandboxFaults>;
    /**
     * `accept`: a payment intent the sandbox was not told of counts as paid, of any amount (the demo,
     * whose payments are signed webhooks and which restarts); default `refuse` (`resource_missing`).
     */
    unknownPayments?: 'accept' | 'refuse';
    /** Payments (and what was refunded of each) Stripe already has: a restarted demo's Stripe still knows them. */
    initialPayments?: ReadonlyArray<{ paymentIntent: string } & StripeSandboxPayment>;
    /** Called whenever a payment is added or refunded, in order (the demo keeps them in Postgres). */
    persist?: (paymentIntent: string, payment: StripeSandboxPayment) => void | Promise<void>;
  } = {},
): Promise<StripeSandbox> {
  const secretKey = o.secretKey ?? `sk_test_sandbox_${randomBytes(8).toString('hex')}`;
  let faults: StripeSandboxFaults = { failNext: 0, dropNext: 0, latencyMs: 0, ...o.faults };
  const payments = new Map<string, StripeSandboxPayment>((o.initialPayments ?? []).map(({ paymentIntent, ...p }) => [paymentIntent, { ...p }]));
  const inOrder = persistInOrder();
  const save = (intent: string) => {
    const p = payments.get(intent);
    const persist = o.persist;
    if (!p || !persist) return;
    const copy = { ...p };
    inOrder(() => persist(intent, copy));
  };

  const made: StripeSandboxRefund[] = [];
  const idempotent = new Map<string, { params: string; status: number; body: string }>();
  const requests = { refunds: 0 };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req'), ...headers });
    res.end(text);
  };
  const error = (type: string, message: string, extra: Record<string, string> = {}) => ({ error: { type, message, ...extra, request_log_url: 'https://dashboard.stripe.com/test/logs' } });
  const readBody = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };

  /** Makes the refund, or says why not (status + Stripe error body). */
  function refund(params: URLSearchParams): { status: number; body: unknown } {
    const pi = params.get('payment_intent');
    const ch = params.get('charge');
    if (pi !== null && !payments.has(pi) && o.unknownPayments === 'accept') payments.set(pi, { amount: Number.MAX_SAFE_INTEGER, currency: 'pln', charge: id('ch'), refunded: 0 });
    const entry = pi !== null ? [pi, payments.get(pi)] as const : [...payments.entries()].find(([, p]) => p.charge === ch) ?? [ch ?? '', undefined];
    const [intent, payment] = entry;
    if (pi === null && ch === null) return { status: 400, body: error('invalid_request_error', 'One of the following params should be provided for this request: payment_intent or charge.', { code: 'parameter_missing' }) };
    if (payment === undefined) return { status: 400, body: error('invalid_request_error', `No such ${pi !== null ? 'payment_intent' : 'charge'}: '${pi ?? ch}'`, { code: 'resource_missing', param: pi !== null ? 'payment_intent' : 'charge' }) };
    const left = payment.amount - payment.refunded;
    if (left <= 0) return { status: 400, body: error('invalid_request_error', `Charge ${payment.charge} has already been refunded.`, { code: 'charge_already_refunded' }) };
    const amount = params.has('amount') ? Number(params.get('amount')) : left;
    if (!Number.isInteger(amount) || amount <= 0) return { status: 400, body: error('invalid_request_error', 'Invalid integer: amount', { code: 'parameter_invalid_integer', param: 'amount' }) };
    if (amount > left) return { status: 400, body: error('invalid_request_error', `Refund amount (${amount}) is greater than unrefunded amount on charge (${left})`, { code: 'amount_too_large', param: 'amount' }) };
    payment.refunded += amount;
    save(intent);
    const metadata: Record<string, string> = {};
    for (const [k, v] of params) {
      const m = /^metadata\[(.+)\]$/.exec(k);
      if (m?.[1]) metadata[m[1]] = v;
    }
    const r: StripeSandboxRefund = { id: id('re'), object: 'refund', amount, currency: payment.currency, charge: payment.charge, payment_intent: intent, metadata, reason: params.get('reason'), status: 'succeeded', created: Math.floor(Date.now() / 1000) };
    made.push(r);
    return { status: 200, body: r };
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://sandbox');
      if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
      if (req.headers['authorization'] !== `Bearer ${secretKey}`) {
        return send(res, 401, error('invalid_request_error', `Invalid API Key provided: ${String(req.headers['authorization'] ?? '').slice(7, 15)}***`));
      }
      if (req.method !== 'POST' || url.pathname !== '/v1/refunds') return send(res, 404, error('invalid_request_error', `Unrecognized request URL (${req.method}: ${url.pathname}).`));
      requests.refunds++;
      const text = await readBody(req);
      if (faults.failNext > 0) {
        faults.failNext--;
        return send(res, 500, error('api_error', 'An unknown error occurred (injected)'));
      }
      const key = req.headers['idempotency-key'];
      const keyed = typeof key === 'string' && key !== '' ? idempotent.get(key) : undefined;
      if (keyed) {
        if (keyed.params !== text) {
          return send(res, 400, error('idempotency_error', `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${String(key)}' if you meant to execute a different request.`));
        }
        return send(res, keyed.status, keyed.body, { 'idempotent-replayed': 'true', 'idempotency-key': String(key) });
      }
      const out = refund(new URLSearchParams(text));
      const body = JSON.stringify(out.body);
      // Stripe keeps the answer of a key (errors included, except 500s) for 24 hours.
      if (typeof key === 'string' && key !== '') idempotent.set(key, { params: text, status: out.status, body });
      if (out.status === 200 && faults.dropNext > 0) {
        faults.dropNext--;
        req.socket.destroy();
        return;
      }
      send(res, out.status, body, typeof key === 'string' ? { 'idempotency-key': key } : {});
    })().catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, error('api_error', err instanceof Error ? err.message : String(err)));
    });
  });
  const listening = await listenHttp(server, o.port);
  return {
    url: listening.url,
    secretKey,
    requests,
    refunds: () => [...made],
    addPayment(paymentIntent, amount, currency) {
      if (payments.has(paymentIntent)) return;
      payments.set(paymentIntent, { amount, currency: currency.toLowerCase(), charge: id('ch'), refunded: 0 });
      save(paymentIntent);
    },
    configure(f) {
      faults = { ...faults, ...f };
    },
    close: listening.close,
  };
}
