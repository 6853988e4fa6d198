import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentStore } from '../../services/invoicing/document.store.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { expectKeyedProbes, genericPlan, statementOf } from '../support/generic-plan.ts';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.cleanup();
});

describe('documents: the grouped look-up of issued documents', () => {
  it('probes the order id index once per order, not the status index through every issued document', async () => {
    // A young table, never analysed: what the plan a connection keeps is costed on.
    for (let i = 0; i < 30; i++) {
      await t.sql`insert into documents (order_id, provider, provider_id, number, issue_date, status)
        values (${`ord_plan_${i}`}, 'fakturownia', ${String(i)}, ${`FV ${i}/2026`}, '2026-12-01', ${i % 5 === 0 ? 'failed' : 'issued'})`;
    }
    const store = createDocumentStore(t.sql);
    expect((await store.issuedFor('ord_plan_1'))?.document.number).toBe('FV 1/2026');
    expect(await store.issuedFor('ord_plan_5')).toBeNull(); // failed, not issued
    expect(await store.issuedFor('ord_plan_none')).toBeNull();

    const lookUp = await statementOf(t.databaseUrl, 'from documents', (sql) => createDocumentStore(sql).issuedFor('ord_plan_3'));
    const plan = await genericPlan(t.sql, lookUp, ['text[]']);
    expect(plan).toContain('Index Cond: (order_id = u.id)');
    expect(plan).not.toContain('documents_status_idx');
    expect(plan).not.toMatch(/Seq Scan on documents|Hash/);
    expectKeyedProbes(plan, 'documents', ['order_id = u.id']);
  });
});
