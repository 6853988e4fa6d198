import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logArrivals, settledArrivals, warehouseArrival } from '../../services/logistics/warehouse-arrival.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { expectKeyedProbes, genericPlan, statementOf } from '../support/generic-plan.ts';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.cleanup();
});

/** A log of `orders` submitted shipments with six statuses each, never analysed (autovacuum looks once a minute). */
async function logOf(orders: number, prefix: string): Promise<void> {
  for (let i = 0; i < orders; i++) {
    const ref = `${prefix}_${i}`;
    await t.sql`insert into warehouse_log (order_id, reference, direction, kind, raw) values (${ref}, ${ref}, 'out', 'submit-request', '{}')`;
    for (let k = 0; k < 6; k++) {
      await t.sql`insert into warehouse_log (order_id, reference, direction, kind, raw, dedupe_key, matched)
        values (${ref}, ${ref}, 'in', 'webhook', '{}', ${`warehouse:evt_${prefix}_${i}_${k}`}, true)`;
    }
  }
}

const arrival = (reference: string) =>
  warehouseArrival({ eventId: `evt_new_${reference}`, reference, shipmentId: 'shp_1', status: 'PICKING', occurredAt: new Date().toISOString() }, '{}');

/** Every lookup of the log is a probe keyed by the arrival (its reference, its dedupe key); the reference's is there. */
function expectProbesOnly(plan: string): void {
  expect(plan).toContain('Index Cond: (reference = v.reference)');
  expectKeyedProbes(plan, 'warehouse_log', ['reference = v.reference', 'dedupe_key = v.dedupe_key']);
}

describe('warehouse arrivals: "one of our shipments?" is one index probe per arrival, at any size of the log', () => {
  // The generic plan a connection keeps after a statement's fifth execution is costed on the log as
  // it was then. Without the fences the probes became a hash of the whole log, or of every submitted
  // reference (migration 020's index read end to end), built again by every later statement.
  for (const [name, orders] of [['a young log', 1], ['a grown log', 40]] as const) {
    it(`the statement that settles status-only arrivals, on ${name}`, async () => {
      await logOf(orders, `settle_${orders}`);
      const a = arrival(`settle_${orders}_0`);
      expect(a?.orderEvent).toBeNull();
      const probe = await statementOf(t.databaseUrl, 'warehouse_log', (sql) => sql`${settledArrivals(sql, [a!])!}`);
      expectProbesOnly(await genericPlan(t.sql, probe, ['text[]', 'text[]']));
    });
  }

  it('the insert that logs arrivals alongside the webhook inbox row', async () => {
    await logOf(40, 'log');
    const a = arrival('log_0');
    // As in the webhook inbox's grouped insert: the arrivals are logged for the inbox rows new in the same statement.
    const probe = await statementOf(t.databaseUrl, 'warehouse_log', (sql) =>
      sql`with new_inbox_rows as (select ${a!.dedupeKey}::text as dedupe_key), logged as (${logArrivals(sql, [a!])}) select count(*) from logged`,
    );
    // The new inbox row's key, then the arrivals as one jsonb parameter.
    expect(probe.parameters).toHaveLength(2);
    const plan = await genericPlan(t.sql, probe, ['text', 'jsonb']);
    expect(plan).toContain('Insert on warehouse_log');
    expectProbesOnly(plan);
  });
});

describe('warehouse arrivals: the log rows written alongside the inbox insert', () => {
  it('stores every field as given (quotes, backslashes, non-Latin text, a missing time), only for new inbox rows of submitted references', async () => {
    await logOf(2, 'fields');
    const raw = '{"note":"a \\"quoted\\" \\\\ path","city":"Łódź — 東京"}';
    const at = new Date('2026-12-01T10:00:00.000Z').toISOString();
    const picked = warehouseArrival({ eventId: 'evt_fields_a', reference: 'fields_0', shipmentId: 'shp_"x"', status: 'PICKING', occurredAt: at }, raw);
    const handed = warehouseArrival({ eventId: 'evt_fields_b', reference: 'fields_1', shipmentId: 'shp_2', status: 'HANDED_TO_CARRIER', occurredAt: 'not a time' }, '{}');
    const unknownRef = warehouseArrival({ eventId: 'evt_fields_c', reference: 'never_submitted', shipmentId: 'shp_3', status: 'PICKING', occurredAt: at }, '{}');
    const notNew = warehouseArrival({ eventId: 'evt_fields_d', reference: 'fields_0', shipmentId: 'shp_4', status: 'PACKED', occurredAt: at }, '{}');
    const all = [picked!, handed!, unknownRef!, notNew!];
    const written = await t.sql<{ dedupe_key: string }[]>`
      with new_inbox_rows as (select unnest(${[picked!.dedupeKey, handed!.dedupeKey, unknownRef!.dedupeKey]}::text[]) as dedupe_key),
           logged as (${logArrivals(t.sql, all)})
      select dedupe_key from logged order by dedupe_key`;
    expect(written.map((r) => r.dedupe_key)).toEqual([picked!.dedupeKey, handed!.dedupeKey].sort());
    const rows = await t.sql<{ dedupe_key: string; order_id: string; shipment_id: string; status: string; event_id: string; order_event: string | null; timeline: boolean; summary: string; raw: string; occurred_at: Date | null; matched: boolean }[]>`
      select dedupe_key, order_id, shipment_id, status, event_id, order_event, timeline, summary, raw, occurred_at, matched
        from warehouse_log where dedupe_key = any(${all.map((a) => a.dedupeKey)}) order by event_id`;
    expect(rows).toHaveLength(2);
    const [a, b] = rows;
    expect(a).toMatchObject({ order_id: 'fields_0', shipment_id: 'shp_"x"', status: 'PICKING', event_id: 'evt_fields_a', order_event: picked!.orderEvent?.type ?? null, timeline: picked!.timeline, summary: picked!.summary, raw, matched: true });
    expect(a?.occurred_at?.toISOString()).toBe(at);
    expect(b).toMatchObject({ order_id: 'fields_1', status: 'HANDED_TO_CARRIER', order_event: handed!.orderEvent?.type ?? null, timeline: handed!.timeline, summary: handed!.summary, raw: '{}', occurred_at: null });
  });

  it('sends text jsonb cannot hold (a NUL, a lone surrogate) the long way, and keeps a surrogate pair', () => {
    const hook = { eventId: 'evt_x', reference: 'ref', shipmentId: 'shp', status: 'PICKING', occurredAt: new Date().toISOString() };
    expect(warehouseArrival({ ...hook, reference: 'ref\ud800' }, '{}')).toBeNull();
    expect(warehouseArrival({ ...hook, shipmentId: 'shp\udfff' }, '{}')).toBeNull();
    expect(warehouseArrival({ ...hook, eventId: 'evt\u0000' }, '{}')).toBeNull();
    expect(warehouseArrival(hook, '{"a":"\u0000"}')).toBeNull(); // a NUL in the raw body itself
    expect(warehouseArrival({ ...hook, reference: 'ref\ud83d\ude00' }, '{}')?.reference).toBe('ref\ud83d\ude00');
  });
});
