import { OrderpilotError } from '../contracts/index.ts';
import type { ShopExchange, ShopLogPort } from './shop-connector.port.ts';

/** Answers kept in the shop log at most this long. */
const MAX_LOGGED = 20_000;

export interface ShopHttpCall {
  shop: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  /** The request body (JSON text), or null for none. */
  body: string | null;
  timeoutMs: number;
  /** The shop log and the exchange's fixed fields (null: a read nobody needs in the log, e.g. a poll). */
  log: ShopLogPort;
  entry: Omit<ShopExchange, 'ok' | 'summary' | 'httpStatus' | 'response' | 'errorCode'> | null;
  /** What the call does, for the log ("Status → processing"). */
  summary: string;
  /** What the call is, for error messages ("PUT /orders/12"). */
  what: string;
  /** The shop's own words for a refusal, read from its error body ('' when it has none). */
  describeError?: (answer: string) => string;
}

/**
 * One HTTP call to a shop, the same way for every connector: the request and its answer go to the
 * shop log; a timeout or connection error is PROVIDER_TIMEOUT / PROVIDER_UNAVAILABLE, 408 and 5xx
 * PROVIDER_UNAVAILABLE, 429 PROVIDER_RATE_LIMITED (Retry-After honoured) — all retryable — and any
 * other 4xx SHOP_REJECTED with the shop's words. Returns the answer's text on 2xx.
 */
export async function shopHttpCall(c: ShopHttpCall): Promise<string> {
  const record = async (e: Pick<ShopExchange, 'ok' | 'summary'> & Partial<ShopExchange>) => {
    if (c.entry) await c.log.record({ ...c.entry, ...e });
  };
  let res: Response;
  let answer: string;
  try {
    res = await fetch(c.url, { method: c.method, headers: c.headers, ...(c.body === null ? {} : { body: c.body }), signal: AbortSignal.timeout(c.timeoutMs) });
    answer = await res.text();
  } catch (err) {
    const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    const code = timeout ? 'PROVIDER_TIMEOUT' : 'PROVIDER_UNAVAILABLE';
    const message = err instanceof Error ? err.message : String(err);
    await record({ ok: false, errorCode: code, summary: `${c.summary}: ${timeout ? 'no answer in time' : `unreachable (${message})`}` });
    throw new OrderpilotError(code, `shop ${c.shop}: ${c.what}: ${message}`, { cause: err });
  }
  const logged = answer.slice(0, MAX_LOGGED);
  if (res.ok) {
    await record({ httpStatus: res.status, response: logged, ok: true, summary: c.summary });
    return answer;
  }
  let words = '';
  try {
    words = c.describeError?.(answer) ?? '';
  } catch {
    // Not the shop's error shape (a proxy's page): the status says enough.
  }
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
  const code = retryable ? (res.status === 429 ? 'PROVIDER_RATE_LIMITED' : 'PROVIDER_UNAVAILABLE') : 'SHOP_REJECTED';
  const why = `${res.status}${words ? ` ${words}` : ''}`;
  await record({ httpStatus: res.status, response: logged, ok: false, errorCode: code, summary: `${c.summary}: refused (${why})` });
  const retryAfter = Number(res.headers.get('retry-after'));
  throw new OrderpilotError(code, `shop ${c.shop}: ${c.what} answered ${why}`, Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {});
}
