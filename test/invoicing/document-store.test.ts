import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentStore, type DocumentStore } from '../../services/invoicing/document.store.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

/**
 * The invoicing service's `documents` bookkeeping, with look-ups and saves of concurrent commands
 * sharing statements: each caller gets exactly the answer it would get alone.
 */
let t: TestContext;
let store: DocumentStore;

beforeAll(async () => {
  t = await createTestContext();
  store = createDocumentStore(t.sql);
});
afterAll(async () => {
  await t?.cleanup();
});

const doc = (n: number) => ({ provider: 'fakturownia', providerId: `pid-${n}`, number: `FV/${n}/12/2026`, issueDate: '2026-12-01', pdfUrl: `https://x.test/${n}.pdf` });

describe('document store', () => {
  it('saves and looks up many orders at once, each answered with its own row', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `ord_ds_${i}`);
    const poll = new Date(Date.now() + 60_000);
    const saved = await Promise.all(ids.map((id, i) => store.saveIssued(id, doc(i), i % 2 === 0 ? { ksefFirstPollAt: poll } : {})));
    saved.forEach((s, i) => expect(s).toEqual({ document: doc(i), ksef: i % 2 === 0 ? 'sent' : 'outside' }));
    const found = await Promise.all([...ids, 'ord_ds_none'].map((id) => store.issuedFor(id)));
    expect(found.at(-1)).toBeNull();
    found.slice(0, -1).forEach((f, i) => expect(f).toEqual(saved[i]));
    const rows = await t.sql<{ order_id: string; ksef_state: string | null; ksef_sends: number; kind: string }[]>`
      select order_id, ksef_state, ksef_sends, kind from documents where order_id like 'ord_ds_%' order by order_id`;
    expect(rows).toHaveLength(40);
    for (const r of rows) {
      const i = Number(r.order_id.slice('ord_ds_'.length));
      expect(r).toMatchObject({ ksef_state: i % 2 === 0 ? 'processing' : null, ksef_sends: i % 2 === 0 ? 1 : 0, kind: 'invoice' });
    }
  });

  it('keeps the first document of an order: a second save answers with the one on record', async () => {
    const [first, second] = await Promise.all([store.saveIssued('ord_ds_twice', doc(100)), store.saveIssued('ord_ds_twice', doc(101))]);
    expect(first).toEqual({ document: doc(100), ksef: 'outside' });
    expect(second).toEqual(first);
    const rows = await t.sql`select provider_id from documents where order_id = 'ord_ds_twice'`;
    expect(rows).toEqual([{ provider_id: 'pid-100' }]);
  });

  it('a save that breaks a constraint fails alone; the others in its statement are saved', async () => {
    await store.saveIssued('ord_ds_owner', doc(200));
    // The same document id at the invoicing system for another order breaks (provider, provider_id).
    const results = await Promise.allSettled([
      ...Array.from({ length: 6 }, (_, i) => store.saveIssued(`ord_ds_ok_${i}`, doc(300 + i))),
      store.saveIssued('ord_ds_clash', doc(200)),
    ]);
    expect(results.slice(0, 6).map((r) => r.status)).toEqual(Array(6).fill('fulfilled'));
    expect(results[6]).toMatchObject({ status: 'rejected', reason: { code: '23505' } });
    const [n] = await t.sql<{ n: number }[]>`select count(*)::int as n from documents where order_id like 'ord_ds_ok_%'`;
    expect(n?.n).toBe(6);
    expect(await store.issuedFor('ord_ds_clash')).toBeNull();
  });

  it('a failure on record is replaced by the issued document, never the other way round', async () => {
    await store.saveFailed('ord_ds_failed', 'fakturownia', 'PROVIDER_UNAVAILABLE', 'down');
    expect(await store.issuedFor('ord_ds_failed')).toBeNull();
    expect(await store.saveIssued('ord_ds_failed', doc(400))).toEqual({ document: doc(400), ksef: 'outside' });
    await store.saveFailed('ord_ds_failed', 'fakturownia', 'PROVIDER_UNAVAILABLE', 'down again');
    expect(await store.issuedFor('ord_ds_failed')).toEqual({ document: doc(400), ksef: 'outside' });
  });
});
