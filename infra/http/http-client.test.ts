import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from './http-client.ts';

/** The provider client against a real server on loopback: what the adapters rely on from it. */
let server: http.Server;
let base: string;
const sockets = new Set<number>();
let releaseSlow: (() => void) | null = null;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    sockets.add(req.socket.remotePort ?? 0);
    const url = new URL(req.url ?? '/', 'http://x');
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (url.pathname === '/echo') {
        res.writeHead(201, { 'content-type': 'application/json', 'retry-after': '3' });
        res.end(JSON.stringify({ method: req.method, body, type: req.headers['content-type'] ?? null, length: req.headers['content-length'] ?? null }));
      } else if (url.pathname === '/moved') {
        res.writeHead(302, { location: '/echo?from=moved' }).end();
      } else if (url.pathname === '/see-other') {
        res.writeHead(303, { location: '/echo' }).end();
      } else if (url.pathname === '/gzip') {
        res.writeHead(200, { 'content-encoding': 'gzip' }).end(zlib.gzipSync('packed text'));
      } else if (url.pathname === '/cut') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('only a part');
        setTimeout(() => res.socket?.destroy(), 20);
      } else if (url.pathname === '/stall') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('a part, then nothing');
      } else if (url.pathname === '/slow') {
        releaseSlow = () => res.end('late');
      } else {
        res.writeHead(404).end('no');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  releaseSlow?.();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('http client', () => {
  it('sends the body with its length and reads status, headers and JSON', async () => {
    const res = await createHttpClient().request(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"zł":1}', timeoutMs: 2000 });
    expect(res.ok).toBe(true);
    expect(res.status).toBe(201);
    expect(res.headers.get('Retry-After')).toBe('3');
    expect(res.headers.get('x-absent')).toBeNull();
    expect(await res.json()).toEqual({ method: 'POST', body: '{"zł":1}', type: 'application/json', length: String(Buffer.byteLength('{"zł":1}')) });
  });

  it('keeps the connection open between calls', async () => {
    const client = createHttpClient();
    sockets.clear();
    for (let i = 0; i < 3; i++) await (await client.request(`${base}/echo`, { method: 'GET', timeoutMs: 2000 })).text();
    expect(sockets.size).toBe(1);
  });

  it('follows redirects like fetch: a 302 keeps a GET, a 303 turns a POST into a GET without body', async () => {
    const client = createHttpClient();
    expect(await (await client.request(`${base}/moved`, { method: 'GET', timeoutMs: 2000 })).json()).toMatchObject({ method: 'GET' });
    expect(await (await client.request(`${base}/see-other`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', timeoutMs: 2000 })).json()).toEqual({
      method: 'GET',
      body: '',
      type: null,
      length: null,
    });
  });

  it('decodes a gzip answer', async () => {
    expect(await (await createHttpClient().request(`${base}/gzip`, { method: 'GET', timeoutMs: 2000 })).text()).toBe('packed text');
  });

  it('a body cut off after the headers: the call resolves, reading the body rejects', async () => {
    const res = await createHttpClient().request(`${base}/cut`, { method: 'GET', timeoutMs: 2000 });
    expect(res.status).toBe(200);
    await expect(res.bytes()).rejects.toThrow();
  });

  it('no answer in time: rejects with a TimeoutError', async () => {
    await expect(createHttpClient().request(`${base}/slow`, { method: 'GET', timeoutMs: 100 })).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('an answer that stalls after its headers: reading the body rejects with a TimeoutError at the deadline', async () => {
    const res = await createHttpClient().request(`${base}/stall`, { method: 'GET', timeoutMs: 200 });
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('nobody listening: rejects with the connection error code', async () => {
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    await expect(createHttpClient().request(`http://127.0.0.1:${port}/`, { method: 'GET', timeoutMs: 2000 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
