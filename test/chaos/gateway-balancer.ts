import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A small HTTP front for several gateway processes (what a load balancer does in production): each
 * request goes to a random live gateway; a gateway that refuses the connection (killed, restarting)
 * is skipped and the next one tried, since nothing reached it. A gateway that dies mid-request gives
 * 502 and the caller retries — the webhook arrives twice, which the gateway must absorb.
 */
export interface GatewayBalancer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startGatewayBalancer(targets: () => readonly string[]): Promise<GatewayBalancer> {
  const sockets = new Set<Socket>();
  const forward = (target: string, req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: Record<string, string>; body: Buffer } | null> =>
    new Promise((resolve) => {
      const u = new URL(req.url ?? '/', target);
      const headers = { ...req.headers, host: u.host, 'content-length': String(body.length) };
      const r = request(u, { method: req.method, headers, timeout: 15_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string' && k !== 'connection' && k !== 'transfer-encoding') h[k] = v;
          resolve({ status: res.statusCode ?? 502, headers: h, body: Buffer.concat(chunks) });
        });
        res.on('error', () => resolve({ status: 502, headers: {}, body: Buffer.from('{"error":"upstream died"}') }));
      });
      r.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? null : { status: 502, headers: {}, body: Buffer.from('{"error":"upstream failed"}') }));
      r.on('timeout', () => r.destroy(new Error('timeout')));
      r.end(body);
    });

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const all = [...targets()].sort(() => Math.random() - 0.5);
        for (const t of all) {
          const out = await forward(t, req, body);
          if (out === null) continue; // refused: nothing was sent, try another gateway
          res.writeHead(out.status, out.headers);
          res.end(out.body);
          return;
        }
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"error":"no gateway is up"}');
      })();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
