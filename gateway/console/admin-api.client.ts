import type { FastifyInstance } from 'fastify';
import type { StateValue } from 'xstate';
import type { AdminEventType, DocumentInfo, Failure, Hold, OrderContext } from '../../machines/order/index.ts';
import type { OrderHistoryEntry, OrderSummary } from '../../services/orders/index.ts';
import type { DeadLetterRow } from '../../infra/db/dead-letters.ts';

/**
 * The console is a client of the admin API (`/admin/api/orders…`): it asks the same routes, with
 * the signed-in admin's own token, so listing, loading, the "allowed now" check and publishing an
 * admin event have one implementation. Requests are injected in-process (no socket).
 */

/** The wire shapes are the orders read model's (`services/orders`), serialized as JSON. */
export type OrderListItem = OrderSummary;
export type { OrderHistoryEntry };

export interface OrderDetail {
  id: string;
  externalId: string;
  state: string;
  documentState: string;
  value: StateValue;
  createdAt: string;
  updatedAt: string;
  hold: Hold | null;
  document: DocumentInfo | null;
  documentFailure: Failure | null;
  documentEmailedAt: string | null;
  tracking: { shipmentId: string | null; trackingNumber: string | null; carrier: string | null };
  payment: OrderContext['payment'];
  cancellation: OrderContext['cancellation'];
  lastAdminNote: OrderContext['lastAdminNote'];
  context: OrderContext;
  history: OrderHistoryEntry[];
  allowedEvents: AdminEventType[];
}

export interface ApiError {
  status: number;
  code: string;
  message: string;
  /** A 422's fields (`body.shippingAddress.postalCode`) and what is wrong with each. */
  fields?: Array<{ field: string; message: string }>;
}

export type ApiResult<T> = { ok: true; value: T } | { ok: false; error: ApiError };

export interface AdminEventInput {
  type: AdminEventType;
  note?: string;
  trackingNumber?: string;
  carrier?: string;
  shippingAddress?: Record<string, string>;
  customer?: Record<string, string>;
  billingAddress?: Record<string, string>;
  number?: string;
  issueDate?: string;
  email?: string;
  amount?: number;
  reason?: string;
  correctionId?: string;
}

function errorOf(status: number, body: string): ApiError {
  try {
    const b = JSON.parse(body) as { code?: unknown; message?: unknown; error?: { code?: unknown; message?: unknown; details?: { fields?: unknown } } };
    const e = b.error ?? b;
    const fields = b.error?.details?.fields;
    return {
      status,
      code: typeof e.code === 'string' ? e.code : String(status),
      message: typeof e.message === 'string' ? e.message : body.slice(0, 300),
      ...(Array.isArray(fields) ? { fields: fields.filter((f): f is { field: string; message: string } => typeof f?.field === 'string' && typeof f?.message === 'string') } : {}),
    };
  } catch {
    return { status, code: String(status), message: body.slice(0, 300) };
  }
}

/** A dead letter as `GET /admin/api/dead-letters` lists it: the stored row, its times as JSON strings. */
export type DeadLetterView = Omit<DeadLetterRow, 'created_at' | 'replayed_at'> & { created_at: string; replayed_at: string | null };

/** A stored webhook as `GET /admin/api/webhooks` lists it. */
export interface WebhookView {
  id: string;
  provider: string;
  eventType: string | null;
  signature: string;
  verdict: string;
  detail: string | null;
  orderId: string | null;
  externalRef: string | null;
  headers: Record<string, string>;
  bodyPreview: string;
  bodyBytes: number;
  receivedAt: string;
  replayCount: number;
  replayedAt: string | null;
  replayedBy: string | null;
  replayNote: string | null;
  replayForced: boolean;
}

function query(q: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') params.set(k, String(v));
  return params.toString();
}

export function createAdminApiClient(app: FastifyInstance, token: string) {
  const headers = { authorization: `Bearer ${token}` };
  async function call<T>(method: 'GET' | 'POST', url: string, payload?: unknown, extra: Record<string, string> = {}): Promise<ApiResult<T>> {
    const res = await app.inject({ method, url, headers: { ...headers, ...extra }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
    if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, value: res.json<T>() };
    return { ok: false, error: errorOf(res.statusCode, res.body) };
  }
  return {
    listOrders(q: { state?: string; q?: string; from?: string; to?: string; sort?: string; limit?: number; cursor?: string }) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') params.set(k, String(v));
      return call<{ items: OrderListItem[]; nextCursor: string | null }>('GET', `/admin/api/orders?${params.toString()}`);
    },
    getOrder(id: string) {
      return call<OrderDetail>('GET', `/admin/api/orders/${encodeURIComponent(id)}`);
    },
    listDeadLetters(q: { status?: 'open' | 'all'; consumer?: string; code?: string; cursor?: string; limit?: number }) {
      return call<{ items: DeadLetterView[]; nextCursor: string | null }>('GET', `/admin/api/dead-letters?${query(q)}`);
    },
    replayDeadLetter(id: string, note: string) {
      return call<DeadLetterView>('POST', `/admin/api/dead-letters/${encodeURIComponent(id)}/replay`, { note });
    },
    listWebhooks(q: { verdict?: string; provider?: string; orderId?: string; cursor?: string; limit?: number }) {
      return call<{ items: WebhookView[]; nextCursor: string | null }>('GET', `/admin/api/webhooks?${query(q)}`);
    },
    replayWebhook(id: string, body: { force?: boolean; note?: string }) {
      return call<{ webhook: WebhookView; messageIds: string[] }>('POST', `/admin/api/webhooks/${encodeURIComponent(id)}/replay`, body);
    },
    replayShopUpdates(id: string) {
      return call<{ replayed: Array<{ messageId: string; version: number; changes: string[] }> }>('POST', `/admin/api/orders/${encodeURIComponent(id)}/shop/replay`);
    },
    sendEvent(id: string, e: AdminEventInput, idempotencyKey?: string) {
      return call<{ accepted: boolean; messageId: string }>('POST', `/admin/api/orders/${encodeURIComponent(id)}/events`, e, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {});
    },
  };
}

export type AdminApiClient = ReturnType<typeof createAdminApiClient>;
