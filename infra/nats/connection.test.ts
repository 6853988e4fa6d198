import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
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

const expected = Array.from({ length: 2_000 }, (_, i) => String(i));

describe('connectNats', () => {
  it('delivers a burst of publishes in order, even when the connection is closed right after', async () => {
    expect(await sendAndEnd(`${prefix}.close`, (nc) => nc.close())).toEqual(expected);
  });

  it('delivers a burst of publishes in order, even when the connection is drained right after', async () => {
    expect(await sendAndEnd(`${prefix}.drain`, (nc) => nc.drain())).toEqual(expected);
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
