import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookInboxStore, type InboxInsert } from '../../gateway/webhooks/webhook-inbox.store.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

/**
 * The webhook inbox's grouped insert on real Postgres: rows go as one jsonb parameter, which refuses
 * NUL and lone surrogates — so one hostile value, handed to the store directly (not through the
 * inbox, which cleans text first), must neither fail its batch nor lose the other rows; the body
 * is kept byte for byte whatever it holds.
 */
let t: TestContext;

beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.cleanup();
});

const row = (over: Partial<InboxInsert>): InboxInsert => ({
  provider: 'warehouse',
  dedupe_key: `test:${randomUUID()}`,
  event_type: 'status',
  signature: 'valid',
  verdict: 'accepted',
  detail: null,
  order_id: null,
  external_ref: null,
  headers: { 'content-type': 'application/json' },
  body: Buffer.from('{}'),
  ...over,
});

describe('webhook inbox store (real Postgres)', () => {
  it('stores a batch with NUL and lone surrogates in its text as replacement characters, the body byte for byte, and each key once', async () => {
    const store = createWebhookInboxStore({ sql: t.sql, logger: t.logger });
    const body = Buffer.from([0x7b, 0x00, 0xff, 0xfe, 0xed, 0xa0, 0x80, 0x22, 0x5c, 0x7d]);
    const hostile = row({ detail: 'a\u0000b\ud800c', external_ref: 'ref\udfff', event_type: 'x\u0000', headers: { 'x-odd': 'v\u0000\ud800', 'x-\ud800': 'k' }, body });
    const plain = row({ detail: 'fine "quoted" \\ backslash' });
    // Handed over in the same turn: one grouped statement.
    const [a, b] = await Promise.all([store.insertOnce(hostile), store.insertOnce(plain)]);
    expect(a.id).not.toBeNull();
    expect(b.id).not.toBeNull();
    const stored = await t.sql<{ id: string; detail: string; external_ref: string; event_type: string; headers: Record<string, string>; body: Buffer }[]>`
      select id::text, detail, external_ref, event_type, headers, body from webhook_inbox where dedupe_key = any(${[hostile.dedupe_key, plain.dedupe_key]}) order by id`;
    expect(stored).toHaveLength(2);
    const [h, p] = stored[0]?.id === a.id ? stored : [stored[1], stored[0]];
    expect(h?.detail).toBe('a\ufffdb\ufffdc');
    expect(h?.external_ref).toBe('ref\ufffd');
    expect(h?.event_type).toBe('x\ufffd');
    expect(h?.headers).toEqual({ 'x-odd': 'v\ufffd\ufffd', 'x-\ufffd': 'k' });
    expect(Buffer.compare(h?.body ?? Buffer.alloc(0), body)).toBe(0);
    expect(p?.detail).toBe('fine "quoted" \\ backslash');
    // A repeat of a stored key inserts nothing.
    expect((await store.insertOnce(row({ dedupe_key: plain.dedupe_key }))).id).toBeNull();
  });
});
