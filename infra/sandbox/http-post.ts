import { Agent, request } from 'node:http';

/** What a POST was answered: the HTTP status and the body as text. */
export interface HttpAnswer {
  status: number;
  ok: boolean;
  text: string;
}

/** POSTs over kept-alive loopback connections: the sandboxes' webhooks and the demo shop's / bench's calls to the gateway. */
export interface HttpPost {
  /**
   * Rejects on a network error or when the server sends nothing for `timeoutMs` (default 10 s) —
   * an idle timeout on the socket, which for these small bodies is the whole exchange.
   */
  post(url: string, body: string, headers: Record<string, string>, timeoutMs?: number): Promise<HttpAnswer>;
  /** Drops the idle connections. */
  close(): void;
}

/**
 * A plain `node:http` client with a keep-alive agent. Global `fetch` (undici through web streams,
 * an AbortSignal timer per request) cost the bench driver about 0.5 ms of CPU more per request
 * than this (test/bench: 773 vs 201 µs client + server for a small JSON POST), and the driver
 * sends eight per order — CPU taken from the system it measures. Plain http only (loopback).
 */
export function createHttpPost(opts: { maxSockets?: number } = {}): HttpPost {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? Infinity });
  return {
    post(url, body, headers, timeoutMs = 10_000) {
      return new Promise<HttpAnswer>((resolve, reject) => {
        const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, timeout: timeoutMs }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            resolve({ status, ok: status >= 200 && status < 300, text: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on('error', reject);
        req.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}
