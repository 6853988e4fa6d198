import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { connectNats, flushNow, type NatsConnection } from '../../infra/nats/connection.ts';
import { uniqueName } from '../support/world.ts';
import { eventually } from '../support/context.ts';

/**
 * The connections' write deferral (`flushOncePerTurn`: one socket write per event-loop turn) and
 * its way out for a message someone waits on (`flushNow`), on the run's real NATS server. What a
 * connection has not written yet sits in nats.js's outbound buffer — the same internals the
 * deferral itself relies on.
 */
let pub: NatsConnection;
let sub: NatsConnection;
const buffered = (nc: NatsConnection) => (nc as unknown as { protocol: { outbound: { size(): number } } }).protocol.outbound.size();
/** The event loop's next turn, after what nats.js schedules for it (it asks for a flush in a microtask). */
const nextTurn = () => new Promise<void>((resolve) => queueMicrotask(() => setImmediate(resolve)));

beforeAll(async () => {
  pub = await connectNats(inject('natsUrl'), 'flush-test-pub');
  sub = await connectNats(inject('natsUrl'), 'flush-test-sub');
});
afterAll(async () => {
  await pub?.close();
  await sub?.close();
});

describe('NATS writes: once per turn, or now', () => {
  it('a publish waits in the buffer for the event loop’s turn; flushNow writes it at once; both arrive', async () => {
    const subject = uniqueName('flush');
    const got: string[] = [];
    sub.subscribe(subject, { callback: (_err, m) => void got.push(m.string()) });
    await sub.flush();

    pub.publish(subject, 'deferred');
    expect(buffered(pub)).toBeGreaterThan(0);
    await nextTurn();
    expect(buffered(pub)).toBe(0);

    pub.publish(subject, 'now');
    expect(buffered(pub)).toBeGreaterThan(0);
    flushNow(pub);
    expect(buffered(pub)).toBe(0);

    await eventually(async () => got.length === 2, 'both messages delivered', 30_000);
    expect(got).toEqual(['deferred', 'now']);
  });
});
