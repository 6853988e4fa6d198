import {
  ADDRESS_CHANGE_TOO_LATE,
  CANCEL_TOO_LATE,
  type ShipmentAddressChange,
  isWarehouseRejectionCode,
  OrderpilotError,
  ShipmentListSchema,
  ShipmentSchema,
  validate,
  WarehouseRejectionSchema,
  type Shipment,
  type ShipmentRequest,
} from '../contracts/index.ts';
import { createHttpClient, type HttpAnswer } from '../../infra/http/http-client.ts';
import type { WarehouseLogPort, WarehousePort } from './warehouse.port.ts';

export interface HttpWarehouseOptions {
  /** `WAREHOUSE_URL`, e.g. https://3pl.example.com/api */
  baseUrl: string;
  /** `WAREHOUSE_API_KEY`, sent as `Authorization: Bearer …`. */
  apiKey: string | undefined;
  /** Per request; a timeout is a transient failure. */
  timeoutMs: number;
  /** Every request and response is stored raw here. */
  log: WarehouseLogPort;
}

interface Answer {
  status: number;
  text: string;
  headers: Record<string, string>;
}

const KEPT_RESPONSE_HEADERS = ['content-type', 'retry-after', 'location', 'x-request-id'];

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function retryAfterMs(headers: Record<string, string>): number | undefined {
  const raw = headers['retry-after'];
  if (raw === undefined || !/^\d{1,5}$/.test(raw)) return undefined;
  return Math.min(60_000, Number(raw) * 1000);
}

/**
 * The warehouse over our documented HTTP contract (README, "Logistics"). Logs every request and
 * response raw in the warehouse log before interpreting it, and turns failures into coded errors:
 * 422 → the warehouse's rejection code (permanent); 5xx, 429, 408, timeouts and connection errors →
 * retryable; anything else → WAREHOUSE_ERROR (permanent).
 */
export function createHttpWarehouse(o: HttpWarehouseOptions): WarehousePort {
  const base = o.baseUrl.replace(/\/+$/, '');
  const http = createHttpClient();

  async function call(
    method: 'GET' | 'POST',
    path: string,
    reference: string,
    kind: 'submit' | 'lookup' | 'cancel' | 'address',
    body?: string,
  ): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (o.apiKey !== undefined) headers['authorization'] = `Bearer ${o.apiKey}`;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['idempotency-key'] = kind === 'submit' ? reference : `${kind}:${reference}`;
    }
    await o.log.record({
      orderId: reference,
      reference,
      direction: 'out',
      kind: `${kind}-request`,
      status: `${method} ${path}`,
      raw: body ?? '',
      // The API key is a secret: never stored.
      headers: { ...headers, ...(headers['authorization'] ? { authorization: 'Bearer ***' } : {}) },
    });
    let res: HttpAnswer;
    let text: string;
    try {
      res = await http.request(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }), timeoutMs: o.timeoutMs });
      text = await res.text();
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      const code = timedOut ? 'PROVIDER_TIMEOUT' : 'PROVIDER_UNAVAILABLE';
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
      const message = timedOut ? `warehouse did not answer within ${o.timeoutMs} ms` : `warehouse unreachable: ${cause}`;
      await o.log.record({
        orderId: reference,
        reference,
        direction: 'in',
        kind: `${kind}-response`,
        status: timedOut ? 'TIMEOUT' : 'NO_RESPONSE',
        raw: '',
        errorCode: code,
        summary: message,
      });
      throw new OrderpilotError(code, message, { cause: err });
    }
    const kept: Record<string, string> = {};
    for (const h of KEPT_RESPONSE_HEADERS) {
      const v = res.headers.get(h);
      if (v !== null) kept[h] = v;
    }
    await o.log.record({
      orderId: reference,
      reference,
      direction: 'in',
      kind: `${kind}-response`,
      status: String(res.status),
      httpStatus: res.status,
      raw: text,
      headers: kept,
    });
    return { status: res.status, text, headers: kept };
  }

  function failure(a: Answer, what: string): OrderpilotError {
    if (a.status >= 500 || a.status === 408) {
      return new OrderpilotError(a.status === 504 || a.status === 408 ? 'PROVIDER_TIMEOUT' : 'PROVIDER_UNAVAILABLE', `warehouse answered ${a.status} to ${what}`);
    }
    if (a.status === 429) {
      const after = retryAfterMs(a.headers);
      return new OrderpilotError('PROVIDER_RATE_LIMITED', `warehouse rate-limited ${what}`, after === undefined ? {} : { retryAfterMs: after });
    }
    return new OrderpilotError('WAREHOUSE_ERROR', `warehouse answered ${a.status} to ${what}: ${a.text.slice(0, 500)}`, { details: { httpStatus: a.status } });
  }

  function shipmentFrom(a: Answer, what: string): Shipment {
    try {
      return validate(ShipmentSchema, parseJson(a.text), `warehouse answer to ${what}`);
    } catch (err) {
      throw new OrderpilotError('WAREHOUSE_ERROR', err instanceof Error ? err.message : String(err), { details: { httpStatus: a.status } });
    }
  }

  return {
    async submit(request: ShipmentRequest) {
      const a = await call('POST', '/shipments', request.reference, 'submit', JSON.stringify(request));
      if (a.status === 201 || a.status === 200) return { created: a.status === 201, shipment: shipmentFrom(a, 'submit') };
      if (a.status === 422) {
        const parsed = parseJson(a.text);
        let code = 'REJECTED';
        let message = `warehouse rejected the shipment: ${a.text.slice(0, 500)}`;
        try {
          const r = validate(WarehouseRejectionSchema, parsed, 'warehouse rejection');
          code = r.code;
          message = r.message ?? r.code;
        } catch {
          // A 422 without our body shape is still a rejection: hold with REJECTED and the raw text.
        }
        if (isWarehouseRejectionCode(code)) throw new OrderpilotError(code, message, { details: { httpStatus: 422 } });
        throw new OrderpilotError('REJECTED', `${code}: ${message}`, { details: { httpStatus: 422, warehouseCode: code } });
      }
      throw failure(a, 'submit');
    },

    async cancel(shipmentId: string, reference: string) {
      const a = await call('POST', `/shipments/${encodeURIComponent(shipmentId)}/cancel`, reference, 'cancel', '{}');
      if (a.status === 200) {
        const s = shipmentFrom(a, 'cancel');
        return { outcome: 'cancelled' as const, message: `shipment ${s.shipmentId} cancelled (${s.status})` };
      }
      if (a.status === 409) {
        let message = a.text.slice(0, 500);
        try {
          const r = validate(WarehouseRejectionSchema, parseJson(a.text), 'warehouse cancel refusal');
          if (r.code !== CANCEL_TOO_LATE) throw new OrderpilotError('WAREHOUSE_ERROR', `warehouse refused the cancel with ${r.code}: ${r.message ?? ''}`, { details: { httpStatus: 409 } });
          message = r.message ?? r.code;
        } catch (err) {
          if (err instanceof OrderpilotError && err.code === 'WAREHOUSE_ERROR') throw err;
        }
        return { outcome: 'tooLate' as const, message };
      }
      throw failure(a, 'cancel');
    },

    async changeAddress(shipmentId: string, reference: string, change: ShipmentAddressChange) {
      const a = await call('POST', `/shipments/${encodeURIComponent(shipmentId)}/address`, reference, 'address', JSON.stringify(change));
      if (a.status === 200) return { outcome: 'changed' as const, message: `shipment ${shipmentFrom(a, 'address change').shipmentId} has the new address` };
      if (a.status === 409 || a.status === 422) {
        let code = a.status === 409 ? ADDRESS_CHANGE_TOO_LATE : 'ADDRESS_INVALID';
        let message = a.text.slice(0, 500);
        try {
          const r = validate(WarehouseRejectionSchema, parseJson(a.text), 'warehouse address refusal');
          code = r.code;
          message = r.message ?? r.code;
        } catch {
          // not our shape: keep the status's meaning and the raw text
        }
        return { outcome: code === ADDRESS_CHANGE_TOO_LATE ? ('tooLate' as const) : ('invalid' as const), message };
      }
      throw failure(a, 'address change');
    },

    async findByReference(reference: string) {
      const a = await call('GET', `/shipments?reference=${encodeURIComponent(reference)}`, reference, 'lookup');
      if (a.status === 404) return null;
      if (a.status !== 200) throw failure(a, 'look-up');
      let list;
      try {
        list = validate(ShipmentListSchema, parseJson(a.text), 'warehouse look-up answer');
      } catch (err) {
        throw new OrderpilotError('WAREHOUSE_ERROR', err instanceof Error ? err.message : String(err), { details: { httpStatus: a.status } });
      }
      return list.shipments.find((s) => s.reference === undefined || s.reference === reference) ?? null;
    },
  };
}
