import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { listenHttp } from './http-listen.ts';

/**
 * A PayU REST API (v2.1) stand-in for refunds, on loopback, for the demo and the tests:
 * - `POST /pl/standard/user/oauth/authorize` (client credentials) → `{ access_token, token_type,
 *   expires_in, grant_type }`, 401 `{ error: "invalid_client" }` for wrong credentials;
 * - `POST /api/v2_1/orders/{orderId}/refunds` `{ refund: { description, amount, extRefundId,
 *   currencyCode } }` → `{ orderId, refund: { refundId, extRefundId, amount, currencyCode, description,
 *   creationDateTime, status: "PENDING", statusDateTime }, status: { statusCode: "SUCCESS" } }`;
 *   errors in PayU's shape `{ status: { statusCode, severity, code, codeLiteral, statusDesc } }`;
 * - `GET /api/v2_1/orders/{orderId}/refunds` → `{ refunds: [...] }`.
 * Faults: 500s, dropped answers after the refund was made, latency.
 */

export interface PayuSandboxRefund {
  refundId: string;
  extRefundId: string;
  amount: string;
  currencyCode: string;
  description: string;
  creationDateTime: string;
  status: string;
  statusDateTime: string;
  orderId: string;
}

export interface PayuSandboxFaults {
  failNext: number;
  dropNext: number;
  latencyMs: number;
}

export interface PayuSandbox {
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  refunds(): PayuSandboxRefund[];
  readonly requests: { refunds: number; lists: number; tokens: number };
  /** A completed PayU order the sandbox knows (its id, total in minor units, currency). */
  addOrder(orderId: string, amount: number, currency: string): void;
  configure(f: Partial<PayuSandboxFaults>): void;
  close(): Promise<void>;
}

export async function startPayuSandbox(o: { port?: number; clientId?: string; clientSecret?: string; faults?: Partial<PayuSandboxFaults> } = {}): Promise<PayuSandbox> {
  const clientId = o.clientId ?? '300746';
  const clientSecret = o.clientSecret ?? randomBytes(16).toString('hex');
  let faults: PayuSandboxFaults = { failNext: 0, dropNext: 0, latencyMs: 0, ...o.faults };
  const tokens = new Set<string>();
  const orders = new Map<string, { amount: number; currency: string; refunds: PayuSandboxRefund[] }>();
  const requests = { refunds: 0, lists: 0, tokens: 0 };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8' });
    res.end(JSON.stringify(body));
  };
  const failure = (res: ServerResponse, http: number, statusCode: string, statusDesc: string, code?: string, codeLiteral?: string) =>
    send(res, http, { status: { statusCode, severity: 'ERROR', ...(code ? { code } : {}), ...(codeLiteral ? { codeLiteral } : {}), statusDesc } });
  const readBody = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://sandbox');
      if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
      if (faults.failNext > 0) {
        faults.failNext--;
        return failure(res, 500, 'ERROR_INTERNAL', 'Internal error (injected)');
      }
      if (req.method === 'POST' && url.pathname === '/pl/standard/user/oauth/authorize') {
        requests.tokens++;
        const f = new URLSearchParams(await readBody(req));
        if (f.get('grant_type') !== 'client_credentials' || f.get('client_id') !== clientId || f.get('client_secret') !== clientSecret) {
          return send(res, 401, { error: 'invalid_client', error_description: 'Bad client credentials' });
        }
        const token = randomBytes(16).toString('hex');
        tokens.add(token);
        return send(res, 200, { access_token: token, token_type: 'bearer', expires_in: 43199, grant_type: 'client_credentials' });
      }
      const m = /^\/api\/v2_1\/orders\/([^/]+)\/refunds$/.exec(url.pathname);
      if (!m) return failure(res, 404, 'DATA_NOT_FOUND', 'Could not find data for given criteria.');
      const auth = req.headers['authorization'];
      if (typeof auth !== 'string' || !tokens.has(auth.replace(/^Bearer /i, ''))) return failure(res, 401, 'UNAUTHORIZED', 'Invalid access token');
      const orderId = decodeURIComponent(m[1] ?? '');
      const order = orders.get(orderId);
      if (req.method === 'GET') {
        requests.lists++;
        if (!order) return failure(res, 404, 'DATA_NOT_FOUND', 'Could not find data for given criteria.');
        return send(res, 200, { refunds: order.refunds.map(({ orderId: _o, ...r }) => r) });
      }
      if (req.method !== 'POST') return failure(res, 405, 'ERROR_SYNTAX', 'Method not allowed');
      requests.refunds++;
      if (!order) return failure(res, 404, 'DATA_NOT_FOUND', `Order ${orderId} not found`, '9024', 'ORDER_NOT_FOUND');
      let body: { refund?: { description?: unknown; amount?: unknown; extRefundId?: unknown; currencyCode?: unknown } };
      try {
        body = JSON.parse(await readBody(req)) as typeof body;
      } catch {
        return failure(res, 400, 'ERROR_SYNTAX', 'Bad syntax');
      }
      const r = body.refund ?? {};
      if (typeof r.description !== 'string' || r.description === '') return failure(res, 400, 'ERROR_VALUE_MISSING', 'Missing required field: refund.description', '8000', 'MISSING_REFUND_SECTION');
      const amount = typeof r.amount === 'string' && /^\d+$/.test(r.amount) ? Number(r.amount) : order.amount - order.refunds.reduce((s, x) => s + Number(x.amount), 0);
      const ext = typeof r.extRefundId === 'string' ? r.extRefundId : '';
      if (ext !== '' && order.refunds.some((x) => x.extRefundId === ext)) return failure(res, 400, 'ERROR_VALUE_INVALID', `Refund with extRefundId ${ext} already exists`, '9112', 'REFUND_DUPLICATED');
      const left = order.amount - order.refunds.reduce((s, x) => s + Number(x.amount), 0);
      if (amount <= 0 || amount > left) return failure(res, 400, 'BUSINESS_ERROR', `Refund amount ${amount} exceeds what is left to refund (${left})`, '9111', 'REFUND_AMOUNT_TOO_BIG');
      const now = new Date().toISOString();
      const refund: PayuSandboxRefund = { refundId: String(5000000000 + Math.floor(Math.random() * 999999999)), extRefundId: ext, amount: String(amount), currencyCode: order.currency, description: r.description, creationDateTime: now, status: 'PENDING', statusDateTime: now, orderId };
      order.refunds.push(refund);
      if (faults.dropNext > 0) {
        faults.dropNext--;
        req.socket.destroy();
        return;
      }
      const { orderId: _o, ...view } = refund;
      return send(res, 200, { orderId, refund: view, status: { statusCode: 'SUCCESS', statusDesc: 'Refund queued for processing' } });
    })().catch((err: unknown) => {
      if (!res.headersSent) failure(res, 500, 'ERROR_INTERNAL', err instanceof Error ? err.message : String(err));
    });
  });
  const listening = await listenHttp(server, o.port);
  return {
    url: listening.url,
    clientId,
    clientSecret,
    requests,
    refunds: () => [...orders.values()].flatMap((x) => x.refunds),
    addOrder(orderId, amount, currency) {
      orders.set(orderId, { amount, currency, refunds: [] });
    },
    configure(f) {
      faults = { ...faults, ...f };
    },
    close: listening.close,
  };
}
