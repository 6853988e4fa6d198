import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createLogger } from '../logger.ts';
import { startNatsServer } from '../runtime/local-services.ts';
import { connectNats, type NatsConnection } from './connection.ts';

/**
 * connectNats writes a turn's commands in one go (see flushOncePerTurn): they must still reach the
 * server all, in the order issued, and `close()` or `drain()` right after them must not lose any.
 */
const prefix = `conntest${randomUUID().slice(0, 8)}`;
let listener: NatsConnection;

beforeAll(async () => {
  listener = await connectNats(inject('natsUrl'), 'connection-test-listener');
});
afterAll(async () => {
  await listener?.close();
});

async function sendAndEnd(subject: string, end: (nc: NatsConnection) => Promise<unknown>): Promise<string[]> {
  const got: string[] = [];
  const sub = listener.subscribe(subject, { callback: (_err, m) => void got.push(m.string()) });
  await listener.flush();
  const nc = await connectNats(inject('natsUrl'), 'connection-test-sender');
  for (let i = 0; i < 2_000; i++) nc.publish(subject, String(i));
  await end(nc);
  // Everything the sender wrote is at the server; a PING round trip lets it all reach the listener.
  await listener.flush();
  sub.unsubscribe();
  return got;
}

/** A nats-server of this test's own (it gets SIGSTOPped), stopped and removed afterwards. */
async function withOwnServer(run: (server: { url: string; child: ChildProcess }) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'op-nats-close-'));
  const server = await startNatsServer(dir, createLogger({ level: 'silent' }));
  try {
    await run(server);
  } finally {
    server.child.kill('SIGCONT');
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const expected = Array.from({ length: 2_000 }, (_, i) => String(i));

describe('connectNats', () => {
  it('delivers a burst of publishes in order, even when the connection is closed right after', async () => {
    expect(await sendAndEnd(`${prefix}.close`, (nc) => nc.close())).toEqual(expected);
  });

  it('delivers a burst of publishes in order, even when the connection is drained right after', async () => {
    expect(await sendAndEnd(`${prefix}.drain`, (nc) => nc.drain())).toEqual(expected);
  });

  it('close() right after a burst the server is slow to read still delivers all of it', async () => {
    // The server stopped (SIGSTOP) while the burst is written: the socket's kernel buffers fill and
    // the rest waits in the client's own buffer, which a bare socket.destroy() would drop.
    await withOwnServer(async (server) => {
      const receiver = await connectNats(server.url, 'connection-test-slow-listener');
      const got: number[] = [];
      receiver.subscribe('slow.burst', { callback: (_err, m) => void got.push(m.data.length) });
      await receiver.flush();
      const sender = await connectNats(server.url, 'connection-test-slow-sender');
      server.child.kill('SIGSTOP');
      const sizes = Array.from({ length: 3_000 }, (_, i) => 4_000 + i);
      for (const size of sizes) sender.publish('slow.burst', new Uint8Array(size));
      const closed = sender.close();
      setTimeout(() => server.child.kill('SIGCONT'), 300);
      await closed;
      // Once the sender's close resolved the server had read everything; a round trip on the
      // receiver's own connection brings what was routed to it. Every message, in order:
      const deadline = Date.now() + 30_000;
      while (got.length < sizes.length && Date.now() < deadline) await receiver.flush();
      expect(got).toEqual(sizes);
      await receiver.close();
    });
  });

  it('close() still ends, within its bound, when the server never answers', async () => {
    await withOwnServer(async (server) => {
      const sender = await connectNats(server.url, 'connection-test-silent-server');
      server.child.kill('SIGSTOP');
      sender.publish('silent.burst', new Uint8Array(1_000));
      const started = Date.now();
      await sender.close();
      expect(sender.isClosed()).toBe(true);
      // The PONG wait is capped at 2 s; a close that waited for the server would hang here.
      expect(Date.now() - started).toBeLessThan(10_000);
    });
  });

  it('delivers a burst whose commands outgrow the client buffer, in order', async () => {
    const got: number[] = [];
    const sub = listener.subscribe(`${prefix}.big`, { callback: (_err, m) => void got.push(m.data.length) });
    await listener.flush();
    const nc = await connectNats(inject('natsUrl'), 'connection-test-big');
    for (let i = 1; i <= 200; i++) nc.publish(`${prefix}.big`, new Uint8Array(1_000 + i));
    await nc.flush();
    await listener.flush();
    sub.unsubscribe();
    await nc.close();
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => 1_001 + i));
  });
});
