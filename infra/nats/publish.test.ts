import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { jetstreamManager, RetentionPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { makeEnvelope, decodeEnvelope, type Envelope } from '../../services/contracts/index.ts';
import { connectNats, type NatsConnection } from './connection.ts';
import { isRetryable } from './consumer-runner.ts';
import { publishEnvelope } from './publish.ts';

/** publishEnvelope against a real nats-server: what callers see is what nats.js's `js.publish` gave them. */
const prefix = `pubtest${randomUUID().slice(0, 8)}`;
const stream = `${prefix}_S`;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  nc = await connectNats(inject('natsUrl'), 'publish-test');
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${prefix}.s.>`], retention: RetentionPolicy.Limits, duplicate_window: 60_000_000_000 });
});
afterAll(async () => {
  await jsm?.streams.delete(stream).catch(() => {});
  await nc?.close();
});

const envelope = (n: number): Envelope => makeEnvelope({ type: 'ORDER_PLACED', orderId: `o-${n}`, payload: { n } });

describe('publishEnvelope', () => {
  it('stores each envelope once under its message id, in publish order, including concurrent publishes', async () => {
    const envs = Array.from({ length: 50 }, (_, i) => envelope(i));
    for (const e of envs.slice(0, 10)) await publishEnvelope(nc, `${prefix}.s.a`, e);
    await Promise.all(envs.slice(10).map((e) => publishEnvelope(nc, `${prefix}.s.a`, e)));
    // The same ids again: inside the duplicate window the server drops them, and the publish still resolves.
    await Promise.all(envs.map((e) => publishEnvelope(nc, `${prefix}.s.a`, e)));
    await publishEnvelope(nc, `${prefix}.s.a`, envs[0] as Envelope, 'another-id');

    const info = await jsm.streams.info(stream);
    expect(info.state.messages).toBe(51);
    for (let seq = 1; seq <= 10; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      expect(decodeEnvelope(m?.data ?? new Uint8Array()).id).toBe(envs[seq - 1]?.id);
      expect(m?.header.get('Nats-Msg-Id')).toBe(envs[seq - 1]?.id);
    }
    const last = await jsm.streams.getMessage(stream, { seq: 51 });
    expect(last?.header.get('Nats-Msg-Id')).toBe('another-id');
  });

  it('a subject no stream takes: rejects with JetStreamNotEnabled, a retryable error', async () => {
    const err: unknown = await publishEnvelope(nc, `${prefix}.nostream`, envelope(1)).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'JetStreamNotEnabled', message: 'jetstream is not enabled' });
    expect(isRetryable(err)).toBe(true);
  });

  it('a closed connection: rejects with ClosedConnectionError, a retryable error', async () => {
    const other = await connectNats(inject('natsUrl'), 'publish-test-closed');
    await publishEnvelope(other, `${prefix}.s.b`, envelope(2));
    await other.close();
    const err: unknown = await publishEnvelope(other, `${prefix}.s.b`, envelope(3)).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ClosedConnectionError' });
    expect(isRetryable(err)).toBe(true);
  });
  it('`now`: the message is written before the call returns; without it, at the event loop\'s turn; both stored', async () => {
    // What the connection has not written yet sits in nats.js's outbound buffer (the internals the
    // per-turn write in `connection.ts` relies on).
    const buffered = () => (nc as unknown as { protocol: { outbound: { size(): number } } }).protocol.outbound.size();
    const [later, now] = [envelope(11), envelope(12)];
    const stored = [publishEnvelope(nc, `${prefix}.s.later`, later)];
    expect(buffered()).toBeGreaterThan(0);
    stored.push(publishEnvelope(nc, `${prefix}.s.now`, now, now.id, { now: true }));
    expect(buffered()).toBe(0);
    await Promise.all(stored);
    for (const [subject, env] of [['later', later], ['now', now]] as const) {
      const m = await jsm.streams.getMessage(stream, { last_by_subj: `${prefix}.s.${subject}` });
      expect(decodeEnvelope(m?.data ?? new Uint8Array()).id).toBe(env.id);
    }
  });
});
