import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';

/**
 * HTTP calls to providers over `node:http` / `node:https` with keep-alive agents, in the shape of the
 * few parts of `fetch` the adapters use (`ok`, `status`, `headers.get`, `text`, `json`,
 * `arrayBuffer`). Why not `fetch`: the bench measured ~0.75 ms of CPU per call in undici's
 * WHATWG machinery (Request clones, web streams, AbortSignal, its wasm parser) against ~0.1 ms
 * here, and an order makes four provider calls.
 *
 * Kept from `fetch`: redirects are followed (at most 20; 303, and 301/302 after a POST, become a
 * GET without body), gzip/deflate/br answers are decoded, the timeout covers the whole exchange up
 * to the body's last byte and rejects with an error named `TimeoutError`, a connection failure
 * rejects at once (with Node's error: `code` ECONNREFUSED, ECONNRESET, …), and a body cut off after
 * the headers arrived makes `text()`/`json()`/`arrayBuffer()` reject, not the call.
 */

export interface HttpCall {
  method: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** The whole exchange, first byte to last; then the call (or its body) rejects with a `TimeoutError`. */
  timeoutMs: number;
}

export interface HttpAnswer {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
  /** The body as a Buffer (no copy). */
  bytes(): Promise<Buffer>;
}

export interface HttpClient {
  request(url: string | URL, call: HttpCall): Promise<HttpAnswer>;
}

const MAX_REDIRECTS = 20;
const UTF8 = new TextDecoder('utf-8');

export class HttpTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** One client per adapter: its agents keep connections to the provider open between calls (idle ones do not hold the process). */
export function createHttpClient(): HttpClient {
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  function once(url: URL, call: HttpCall, deadline: { timer: NodeJS.Timeout | null; onTimeout: (() => void) | null }): Promise<{ res: http.IncomingMessage; req: http.ClientRequest }> {
    return new Promise((resolve, reject) => {
      const secure = url.protocol === 'https:';
      if (!secure && url.protocol !== 'http:') return reject(new TypeError(`unsupported protocol ${url.protocol}`));
      const headers: Record<string, string> = { ...call.headers };
      if (call.body !== undefined) headers['content-length'] = String(Buffer.byteLength(call.body));
      const req = (secure ? https : http).request(url, { method: call.method, headers, agent: secure ? agents.https : agents.http });
      // The deadline settles the call itself, whatever events the destroyed request still emits.
      deadline.onTimeout = () => {
        const err = new HttpTimeoutError(`no answer within ${call.timeoutMs} ms`);
        reject(err);
        req.destroy(err);
      };
      // Kept for the request's life: an error after the answer came (the body's own error tells) must not go unhandled.
      req.on('error', reject);
      req.once('response', (res) => resolve({ res, req }));
      req.end(call.body);
    });
  }

  async function request(input: string | URL, call: HttpCall): Promise<HttpAnswer> {
    const deadline: { timer: NodeJS.Timeout | null; onTimeout: (() => void) | null } = { timer: null, onTimeout: null };
    deadline.timer = setTimeout(() => deadline.onTimeout?.(), call.timeoutMs);
    let url = new URL(input);
    let current = call;
    try {
      for (let redirects = 0; ; redirects++) {
        const { res } = await once(url, current, deadline);
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if ([301, 302, 303, 307, 308].includes(status) && location !== undefined) {
          res.resume();
          if (redirects >= MAX_REDIRECTS) throw new TypeError(`more than ${MAX_REDIRECTS} redirects`);
          url = new URL(location, url);
          // As fetch does: 303, and 301/302 after a POST, continue as a GET without a body.
          if (status === 303 || ((status === 301 || status === 302) && current.method === 'POST')) {
            const { body: _body, headers = {}, ...rest } = current;
            const { 'content-type': _type, ...kept } = headers;
            current = { ...rest, method: status === 303 && current.method === 'HEAD' ? 'HEAD' : 'GET', headers: kept };
          }
          continue;
        }
        return answer(res, status, deadline);
      }
    } catch (err) {
      if (deadline.timer) clearTimeout(deadline.timer);
      throw err;
    }
  }

  function answer(res: http.IncomingMessage, status: number, deadline: { timer: NodeJS.Timeout | null; onTimeout: (() => void) | null }): HttpAnswer {
    const body = readBody(res, (fail) => {
      deadline.onTimeout = () => {
        const err = new HttpTimeoutError('the answer did not end in time');
        fail(err);
        res.destroy(err);
      };
    }).finally(() => {
      if (deadline.timer) clearTimeout(deadline.timer);
    });
    // Read it even if the caller never asks: the connection is free for the next call only then.
    body.catch(() => {});
    const bytes = () => body;
    return {
      ok: status >= 200 && status < 300,
      status,
      headers: {
        get(name) {
          const v = res.headers[name.toLowerCase()];
          return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
        },
      },
      bytes,
      async text() {
        return UTF8.decode(await body);
      },
      async json() {
        return JSON.parse(UTF8.decode(await body)) as unknown;
      },
      async arrayBuffer() {
        const b = await body;
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
      },
    };
  }

  return { request };
}

/**
 * The body to its end, decoded; rejects when the connection ends before it (`complete` is false),
 * or when the caller's deadline calls the `fail` it is handed.
 */
function readBody(res: http.IncomingMessage, onFail: (fail: (err: Error) => void) => void): Promise<Buffer> {
  const encoding = String(res.headers['content-encoding'] ?? '').trim().toLowerCase();
  const decoder = encoding === 'gzip' || encoding === 'x-gzip' ? zlib.createGunzip() : encoding === 'deflate' ? zlib.createInflate() : encoding === 'br' ? zlib.createBrotliDecompress() : null;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    onFail(fail);
    const cutOff = () => fail(Object.assign(new Error('the answer was cut off'), { code: 'ECONNRESET' }));
    res.once('error', fail);
    res.once('aborted', cutOff);
    // Closed before its end without an error event: cut off as well (settling twice is a no-op).
    res.once('close', () => {
      if (!res.complete) cutOff();
    });
    const source: Readable = decoder ? res.pipe(decoder) : res;
    if (decoder) decoder.once('error', fail);
    source.on('data', (c: Buffer) => chunks.push(c));
    source.once('end', () => {
      if (!res.complete) return cutOff();
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    });
  });
}
