import { OrderpilotError } from '../contracts/index.ts';
import type { RefundProvider, RefundRequest, RefundResult } from './refund.port.ts';

export interface PayuRefundOptions {
  /** `https://secure.payu.com`, `https://secure.snd.payu.com` or the sandbox. */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  timeoutMs: number;
}

interface PayuStatus {
  statusCode?: string;
  code?: string;
  codeLiteral?: string;
  statusDesc?: string;
}
interface PayuRefund {
  refundId?: string;
  extRefundId?: string;
  amount?: string;
  status?: string;
}

/**
 * PayU refunds (REST API v2.1): an OAuth token (`POST /pl/standard/user/oauth/authorize`,
 * client credentials, kept until shortly before it expires), then
 * `POST /api/v2_1/orders/{orderId}/refunds` `{ refund: { description, amount, extRefundId,
 * currencyCode } }`. Idempotent by `extRefundId` = our refund id: the order's refunds are listed
 * first (`GET /api/v2_1/orders/{orderId}/refunds`), so a retry after a lost answer (or a crash)
 * finds the refund instead of asking for a second one.
 */
export function createPayuRefundAdapter(o: PayuRefundOptions): RefundProvider {
  const base = o.baseUrl.replace(/\/+$/, '');
  let token: { value: string; until: number } | null = null;

  async function http(method: 'GET' | 'POST', path: string, init: { headers?: Record<string, string>; body?: string }): Promise<{ status: number; json: unknown }> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, { method, headers: { accept: 'application/json', ...init.headers }, ...(init.body === undefined ? {} : { body: init.body }), signal: AbortSignal.timeout(o.timeoutMs), redirect: 'manual' });
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new OrderpilotError(timedOut ? 'PROVIDER_TIMEOUT' : 'PROVIDER_UNAVAILABLE', `PayU: ${method} ${path} ${timedOut ? `timed out after ${o.timeoutMs} ms` : `failed: ${err instanceof Error ? err.message : String(err)}`}`, { cause: err });
    }
    const text = await res.text().catch(() => '');
    let json: unknown = null;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      json = text;
    }
    if (res.status === 429) throw new OrderpilotError('PROVIDER_RATE_LIMITED', `PayU: ${method} ${path} rate limited`);
    if (res.status >= 500 || res.status === 408) throw new OrderpilotError('PROVIDER_UNAVAILABLE', `PayU: ${method} ${path} answered ${res.status}`);
    return { status: res.status, json };
  }

  async function bearer(): Promise<string> {
    if (token !== null && token.until > Date.now()) return token.value;
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: o.clientId, client_secret: o.clientSecret }).toString();
    const r = await http('POST', '/pl/standard/user/oauth/authorize', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const j = (r.json ?? {}) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
    if (r.status !== 200 || typeof j.access_token !== 'string') {
      throw new OrderpilotError('REFUND_REJECTED', `PayU refused the OAuth client credentials (${r.status}): ${String(j.error_description ?? j.error ?? '')}; check PAYU_CLIENT_ID / PAYU_CLIENT_SECRET`);
    }
    const ttl = typeof j.expires_in === 'number' ? j.expires_in : 3600;
    token = { value: j.access_token, until: Date.now() + Math.max(0, ttl - 60) * 1000 };
    return token.value;
  }

  async function authed(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const headers = { authorization: `Bearer ${await bearer()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
    const r = await http(method, path, body === undefined ? { headers } : { headers, body: JSON.stringify(body) });
    if (r.status === 401) token = null; // expired early: the next attempt takes a new one
    if (r.status === 401) throw new OrderpilotError('PROVIDER_UNAVAILABLE', `PayU: ${method} ${path} answered 401 (token expired); will retry`);
    return r;
  }

  const statusOf = (json: unknown): PayuStatus => ((json as { status?: PayuStatus } | null)?.status ?? {}) as PayuStatus;
  const ordersPath = (orderId: string) => `/api/v2_1/orders/${encodeURIComponent(orderId)}/refunds`;

  async function existing(req: RefundRequest): Promise<RefundResult | null> {
    const r = await authed('GET', ordersPath(req.paymentId));
    if (r.status === 404) return null;
    if (r.status !== 200) throw new OrderpilotError('REFUND_REJECTED', `PayU: listing refunds of order ${req.paymentId} answered ${r.status}: ${statusOf(r.json).statusDesc ?? ''}`);
    const list = ((r.json as { refunds?: PayuRefund[] } | null)?.refunds ?? []) as PayuRefund[];
    const mine = list.find((x) => x.extRefundId === req.refundId);
    return mine?.refundId ? { providerRefundId: mine.refundId, status: mine.status ?? 'PENDING' } : null;
  }

  return {
    name: 'payu',
    async refund(req) {
      const found = await existing(req);
      if (found) return found;
      const r = await authed('POST', ordersPath(req.paymentId), {
        refund: { description: req.reason.slice(0, 100) || 'Refund', amount: String(req.amount), extRefundId: req.refundId, currencyCode: req.currency },
      });
      const st = statusOf(r.json);
      const refund = (r.json as { refund?: PayuRefund } | null)?.refund;
      if (r.status === 200 && st.statusCode === 'SUCCESS' && refund?.refundId) return { providerRefundId: refund.refundId, status: refund.status ?? 'PENDING' };
      // Someone (a twin delivery) created it between the look-up and the create: take that one.
      const again = await existing(req);
      if (again) return again;
      throw new OrderpilotError('REFUND_REJECTED', `PayU refused the refund (${r.status} ${st.statusCode ?? ''}${st.codeLiteral ? ` ${st.codeLiteral}` : ''}): ${st.statusDesc ?? ''}`.trim(), {
        details: { status: r.status, statusCode: st.statusCode ?? null, code: st.code ?? null, codeLiteral: st.codeLiteral ?? null },
      });
    },
  };
}
