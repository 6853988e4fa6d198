import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnvelope, natsNames } from '../../services/contracts/index.ts';
import { createSql } from '../../infra/db/postgres.ts';
import { createGroupCommitter } from '../../services/orders/group-commit.ts';
import { contextPatch, decideOrderEvent, parseOrderEvent } from '../../services/orders/order-decision.ts';
import { loadForEvent, writeOrderEvent, writeOrderEvents, type LoadResult, type OrderWrite } from '../../services/orders/order-store.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { sampleOrder } from '../support/orders.ts';

/**
 * Group commit on real Postgres: several orders' events in one statement, each part conditional on
 * its own row version and inbox; a failing statement falls back to one write at a time so only the
 * bad event fails.
 */
const CONSUMER = 'gc-test';
const names = natsNames('gc', 4);
let t: TestContext;

beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.cleanup();
});

/** The write the host would make for an event, decided from what the database holds now. */
async function decide(type: string, orderId: string, payload: unknown, id?: string): Promise<OrderWrite> {
  const env = makeEnvelope({ type, orderId, payload, ...(id ? { id } : {}) });
  const loaded = await loadForEvent(t.sql, CONSUMER, env.id, orderId);
  const d = decideOrderEvent(parseOrderEvent(env, 'test'), loaded, { names, now: new Date(), paymentTimeoutMs: 60_000 });
  if (d.outcome === 'duplicate') throw new Error('unexpected duplicate');
  return { consumer: CONSUMER, orderId, history: d.history, effects: d.effects, row: d.row };
}

const paid = (o: ReturnType<typeof sampleOrder>) => ({ provider: 'stripe', paymentId: `pi-${o.orderId}`, amount: o.total, currency: o.currency });

describe('group commit (real Postgres)', () => {
  it('writes several orders in one statement; a stale version or an applied message writes nothing for its order only', async () => {
    const [a, b, c] = [sampleOrder(), sampleOrder(), sampleOrder()];
    const placed = await Promise.all([a, b, c].map((o) => decide('ORDER_PLACED', o.orderId, { order: o })));
    expect([...(await writeOrderEvents(t.sql, placed))].sort()).toEqual(placed.map((w) => w.history.messageId).sort());

    const payA = await decide('PAYMENT_CONFIRMED', a.orderId, paid(a));
    const payB = await decide('PAYMENT_CONFIRMED', b.orderId, paid(b));
    const payC = await decide('PAYMENT_CONFIRMED', c.orderId, paid(c));
    // b moves on before the batch: the batch's write for b is stale.
    expect(await writeOrderEvents(t.sql, [payB])).toEqual(new Set([payB.history.messageId]));
    const staleB = await decide('PAYMENT_FAILED', b.orderId, { provider: 'payu', reason: 'x' });
    if (staleB.row.kind === 'create') throw new Error('expected an update');
    const staleWrite = { ...staleB, row: { ...staleB.row, expectedVersion: staleB.row.expectedVersion - 1 } };
    // c's payment was applied already: the same message again must not apply twice.
    expect(await writeOrderEvents(t.sql, [payC])).toEqual(new Set([payC.history.messageId]));
    const redelivered = { ...payC, row: { ...payC.row, ...(payC.row.kind === 'update' ? { expectedVersion: payC.row.expectedVersion + 1 } : {}) } };

    const written = await writeOrderEvents(t.sql, [payA, staleWrite, redelivered]);
    expect(written).toEqual(new Set([payA.history.messageId]));
    const states = await t.sql<{ id: string; state: string; version: number }[]>`select id, state, version from orders where id = any(${[a.orderId, b.orderId, c.orderId]})`;
    expect(Object.fromEntries(states.map((r) => [r.id, [r.state, r.version]]))).toEqual({ [a.orderId]: ['processing', 2], [b.orderId]: ['processing', 2], [c.orderId]: ['processing', 2] });
    const history = await t.sql`select order_id, type from order_history where order_id = any(${[a.orderId, b.orderId, c.orderId]}) and type <> 'ORDER_PLACED'`;
    expect(history).toHaveLength(3);
    // Each paid order got its two commands, in the machine's order, and no more.
    const outbox = await t.sql<{ order_id: string; subjects: string[] }[]>`select order_id, array_agg(subject order by seq) as subjects from outbox where order_id = any(${[a.orderId, b.orderId, c.orderId]}) group by order_id`;
    expect(outbox).toHaveLength(3);
    for (const r of outbox) expect(r.subjects).toEqual([names.subjects.command('submitShipment'), names.subjects.command('issueDocument')]);
    expect(await t.sql`select 1 from timers where order_id = any(${[a.orderId, b.orderId, c.orderId]})`).toHaveLength(0);
  });

  it('wakes the relay after a commit that queued outbox rows, alone or in a group, and only then', async () => {
    let wakes = 0;
    const committer = createGroupCommitter(t.sql, { maxBatch: 64, maxInFlight: 1, onOutboxWritten: () => wakes++ });
    const [a, b] = [sampleOrder(), sampleOrder()];
    const placed = await Promise.all([a, b].map((o) => decide('ORDER_PLACED', o.orderId, { order: o })));
    expect(placed.every((w) => w.effects.outbox.length === 0)).toBe(true);
    await Promise.all(placed.map((w) => committer.write(w)));
    expect(wakes).toBe(0);
    // One alone (writeOrderEvent), then two in one statement (writeOrderEvents): one wake each.
    const payA = await decide('PAYMENT_CONFIRMED', a.orderId, paid(a));
    expect(payA.effects.outbox.length).toBeGreaterThan(0);
    expect(await committer.write(payA)).toBe(true);
    expect(wakes).toBe(1);
    const payB = await decide('PAYMENT_CONFIRMED', b.orderId, paid(b));
    const again = { ...payA, row: { ...payA.row, ...(payA.row.kind === 'update' ? { expectedVersion: payA.row.expectedVersion + 1 } : {}) } };
    expect(await Promise.all([committer.write(payB), committer.write(again)])).toEqual([true, false]);
    expect(wakes).toBe(2);
    // A write with outbox rows that writes nothing (already applied) wakes nobody.
    expect(await committer.write(again)).toBe(false);
    expect(wakes).toBe(2);
  });

  it('a statement that fails is retried one write at a time: only the bad event fails', async () => {
    const committer = createGroupCommitter(t.sql, { maxBatch: 64, maxInFlight: 1 });
    const good = [sampleOrder(), sampleOrder()];
    const twin = sampleOrder();
    const clash = { ...sampleOrder(), externalId: twin.externalId };
    await committer.write(await decide('ORDER_PLACED', twin.orderId, { order: twin }));
    const writes = await Promise.all([...good, clash].map((o) => decide('ORDER_PLACED', o.orderId, { order: o })));
    // All three are handed over in the same turn, so they share one statement, which the
    // external id clash fails as a whole.
    const results = await Promise.allSettled(writes.map((w) => committer.write(w)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(results.slice(0, 2).map((r) => (r as PromiseFulfilledResult<boolean>).value)).toEqual([true, true]);
    const stored = await t.sql`select id from orders where id = any(${[...good, clash].map((o) => o.orderId)})`;
    expect(stored.map((r) => r['id']).sort()).toEqual(good.map((o) => o.orderId).sort());
  });

  it('an update sends only the context keys that changed; the stored snapshot is the whole new one, alone or grouped, from memory or read', async () => {
    const a = sampleOrder();
    const b = sampleOrder();
    const stored = async (id: string) => (await t.sql<{ snapshot: unknown; version: number }[]>`select snapshot, version from orders where id = ${id}`)[0];
    /** Decides from the live snapshot the host would keep in memory (`live`), or from a fresh read. */
    const step = async (o: ReturnType<typeof sampleOrder>, live: LoadResult['order'], type: string, payload: unknown) => {
      const env = makeEnvelope({ type, orderId: o.orderId, payload });
      const loaded = live ? { processed: false, order: live } : await loadForEvent(t.sql, CONSUMER, env.id, o.orderId);
      const d = decideOrderEvent(parseOrderEvent(env, 'test'), loaded, { names, now: new Date(), paymentTimeoutMs: 60_000 });
      if (d.outcome !== 'applied' || d.row.kind !== 'update' || !d.snapshot) throw new Error(`${type} was not applied: ${d.outcome}`);
      const write: OrderWrite = { consumer: CONSUMER, orderId: o.orderId, history: d.history, effects: d.effects, row: d.row };
      const next = { snapshot: { value: d.snapshot.value, context: d.snapshot.context }, machine_version: d.row.state.machineVersion, version: d.row.expectedVersion + 1, live: d.snapshot };
      return { write, patch: d.row.state.contextPatch, whole: JSON.parse(JSON.stringify(d.row.state.snapshot)) as unknown, next };
    };
    const placed = await Promise.all([a, b].map((o) => decide('ORDER_PLACED', o.orderId, { order: o })));
    await writeOrderEvents(t.sql, placed);

    // An admin corrects the address before the payment (the order data changes: it is sent), decided from a read, written alone.
    const address = { ...a.shippingAddress, line1: 'ul. Nowa 2' };
    const fix = await step(a, null, 'UPDATE_SHIPPING_ADDRESS', { shippingAddress: address, note: 'customer called' });
    expect(Object.keys(fix.patch ?? {})).toContain('order');
    expect(await writeOrderEvent(t.sql, fix.write)).toBe(true);
    const afterFix = await stored(a.orderId);
    expect(afterFix?.snapshot).toEqual(fix.whole);
    expect((afterFix?.snapshot as { context: { order: { shippingAddress: unknown } } }).context.order.shippingAddress).toEqual(address);

    // Paid, a's decided from memory and b's from a read, in one statement: the order data did not change, so it is not sent.
    const payA = await step(a, fix.next, 'PAYMENT_CONFIRMED', paid(a));
    const payB = await step(b, null, 'PAYMENT_CONFIRMED', paid(b));
    for (const pay of [payA, payB]) {
      expect(Object.keys(pay.patch ?? {})).toContain('payment');
      expect(Object.keys(pay.patch ?? {})).not.toContain('order');
    }
    expect(await writeOrderEvents(t.sql, [payA.write, payB.write])).toEqual(new Set([payA.write.history.messageId, payB.write.history.messageId]));
    expect((await stored(a.orderId))?.snapshot).toEqual(payA.whole);
    expect((await stored(b.orderId))?.snapshot).toEqual(payB.whole);

    // The document, a's from memory, grouped with b's from a read.
    const issued = (n: number) => ({ providerId: String(n), number: `FV/${n}/12/2026`, issueDate: '2026-12-02', provider: 'fakturownia' });
    const docA = await step(a, payA.next, 'DOCUMENT_ISSUED', issued(1));
    const docB = await step(b, null, 'DOCUMENT_ISSUED', issued(2));
    expect(Object.keys(docA.patch ?? {})).not.toContain('order');
    expect((await writeOrderEvents(t.sql, [docA.write, docB.write])).size).toBe(2);
    expect((await stored(a.orderId))?.snapshot).toEqual(docA.whole);
    expect((await stored(b.orderId))?.snapshot).toEqual(docB.whole);
    expect((await stored(a.orderId))?.version).toBe(4);
  });

  it('a context patch is null when a merge could not give the new context (a key gone or undefined)', () => {
    const order = { id: 1 };
    expect(contextPatch({ order, hold: null }, { order, hold: { code: 'LOST' } })).toEqual({ hold: { code: 'LOST' } });
    expect(contextPatch({ order, hold: null }, { order, hold: null })).toEqual({});
    // Same content in a new object: sent (the comparison is by reference, which is only ever more).
    expect(contextPatch({ order }, { order: { id: 1 } })).toEqual({ order: { id: 1 } });
    expect(contextPatch({ order, note: 'x' }, { order })).toBeNull();
    expect(contextPatch({ order, note: 'x' }, { order, note: undefined })).toBeNull();
    expect(contextPatch({ order, note: undefined }, { order })).toEqual({});
  });

  it("checks each event against the inbox by index, never by reading all of the consumer's inbox rows", async () => {
    // The inbox keeps a row per applied event. Taking the batch for 100 events, Postgres judged
    // hashing all of a consumer's rows cheaper than 100 index probes while the consumer had some
    // thousands: every statement then read them all (26 ms at 9k rows, on the bench).
    const consumer = 'gc-plan';
    await t.sql`insert into processed_messages (consumer, message_id) select ${consumer}, 'old-' || g from generate_series(1, 9000) g`;
    await t.sql`analyze processed_messages`; // analysed, not vacuumed: as on a busy system
    const seen: Array<{ query: string; parameters: readonly unknown[] }> = [];
    const traced = createSql(t.databaseUrl, { max: 1, onStatement: (query, parameters) => void seen.push({ query, parameters }) });
    try {
      const orders = [sampleOrder(), sampleOrder(), sampleOrder()];
      const placed = await Promise.all(orders.map(async (o) => ({ ...(await decide('ORDER_PLACED', o.orderId, { order: o })), consumer })));
      expect((await writeOrderEvents(traced, placed)).size).toBe(3);
      const statement = seen.find((s) => s.query.includes('processed_messages'));
      if (!statement) throw new Error('the group statement was not seen');
      const [row] = await traced.unsafe(`explain (format json) ${statement.query}`, statement.parameters as never[]);
      type PlanNode = { 'Node Type': string; 'Relation Name'?: string; 'Index Cond'?: string; Plans?: PlanNode[] };
      const scans: PlanNode[] = [];
      const walk = (n: PlanNode) => {
        if (n['Relation Name'] === 'processed_messages' && /Scan/.test(n['Node Type'])) scans.push(n);
        for (const c of n.Plans ?? []) walk(c);
      };
      walk((row?.['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
      expect(scans.length).toBeGreaterThan(0);
      for (const scan of scans) {
        expect(scan['Node Type']).toMatch(/^Index (Only )?Scan$/);
        expect(scan['Index Cond']).toMatch(/message_id/);
      }
    } finally {
      await traced.end();
    }
  });
  it("a front write (a new order, a payment) with a slot free goes out before the event loop's turn; other writes wait for that turn", async () => {
    const issued: string[] = [];
    const traced = createSql(t.databaseUrl, { max: 1, onStatement: (query) => void issued.push(query) });
    try {
      await traced`select 1`; // the connection is open and idle: a statement handed over is issued at once
      const front = createGroupCommitter(traced, { maxBatch: 64, maxInFlight: 2, isFront: (w) => w.history.type === 'PAYMENT_CONFIRMED' });
      /** How many order-write statements were issued when the event loop reached its next turn after `write`. */
      const issuedByTheTurn = async (write: () => Promise<boolean>): Promise<number> => {
        const before = issued.length;
        let atTurn = -1;
        // Registered before the write: it runs ahead of anything the write schedules for that turn.
        setImmediate(() => (atTurn = issued.length - before));
        expect(await write()).toBe(true);
        return atTurn;
      };
      const [a, b] = [sampleOrder(), sampleOrder()];
      // ORDER_PLACED is not front for this committer: it waits for the turn, where its partitions' neighbours would join it.
      const placed = await decide('ORDER_PLACED', a.orderId, { order: a });
      expect(await issuedByTheTurn(() => front.write(placed))).toBe(0);
      const pay = await decide('PAYMENT_CONFIRMED', a.orderId, paid(a));
      expect(await issuedByTheTurn(() => front.write(pay))).toBe(1);
      // Without `isFront` a payment waits for the turn like any other write.
      const plain = createGroupCommitter(traced, { maxBatch: 64, maxInFlight: 2 });
      await plain.write(await decide('ORDER_PLACED', b.orderId, { order: b }));
      const payB = await decide('PAYMENT_CONFIRMED', b.orderId, paid(b));
      expect(await issuedByTheTurn(() => plain.write(payB))).toBe(0);
      const states = await t.sql<{ id: string; state: string }[]>`select id, state from orders where id = any(${[a.orderId, b.orderId]}) order by id`;
      expect(new Set(states.map((r) => r.state))).toEqual(new Set(['processing']));
      expect(states).toHaveLength(2);
    } finally {
      await traced.end();
    }
  });
});
