import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenHttp, type Listening } from '../../infra/sandbox/http-listen.ts';
import { createHttpPost } from '../../infra/sandbox/http-post.ts';

let listening: Listening;
const sockets = new Set<unknown>();
beforeAll(async () => {
  const server: Server = createServer((req, res) => {
    sockets.add(req.socket);
    if (req.url === '/hang') return; // never answered
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = JSON.stringify({ got: Buffer.concat(chunks).toString('utf8'), auth: req.headers['authorization'] ?? null });
      res.writeHead(req.url === '/fail' ? 503 : 201, { 'content-type': 'application/json' });
      res.end(text);
    });
  });
  listening = await listenHttp(server);
});
afterAll(async () => {
  await listening.close();
});

describe('createHttpPost (the sandboxes\' and the bench\'s client, real HTTP on loopback)', () => {
  it('sends the body and headers, answers status and text, and reuses its connection', async () => {
    const http = createHttpPost();
    const a = await http.post(`${listening.url}/x`, '{"ą":1}', { 'content-type': 'application/json', authorization: 'Bearer k' });
    expect(a).toEqual({ status: 201, ok: true, text: JSON.stringify({ got: '{"ą":1}', auth: 'Bearer k' }) });
    const before = sockets.size;
    const b = await http.post(`${listening.url}/fail`, 'x', {});
    expect(b).toMatchObject({ status: 503, ok: false });
    expect(sockets.size).toBe(before);
    http.close();
  });

  it('rejects when the server sends nothing within the timeout', async () => {
    const http = createHttpPost();
    await expect(http.post(`${listening.url}/hang`, '{}', {}, 200)).rejects.toThrow('no answer within 200 ms');
    http.close();
  });
});
