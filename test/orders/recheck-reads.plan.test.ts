import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderAnswers } from '../../services/orders/order-answers.read.ts';
import { missingOrders } from '../../services/orders/order.queries.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { expectKeyedProbes, genericPlan, statementOf } from '../support/generic-plan.ts';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
  // A young database, never analysed: what the plan a connection keeps is costed on.
  for (let i = 0; i < 30; i++) {
    const id = `ord_recheck_${i}`;
    await t.sql`insert into orders (id, external_id, state, state_value, snapshot, machine_version, version, customer_email)
      values (${id}, ${`EXT-${i}`}, 'processing', '"processing"', '{}', 'order@test', 3, 'jan@example.com')`;
    for (let k = 0; k < 7; k++) {
      await t.sql`insert into order_history (order_id, message_id, type, source, outcome, payload, occurred_at)
        values (${id}, ${`msg_${i}_${k}`}, 'PAYMENT_CONFIRMED', 'test', 'applied', '{}', now())`;
    }
  }
});
afterAll(async () => {
  await t?.cleanup();
});

describe('the rechecks\' reads probe an index per order, at any size of the tables', () => {
  it('missingOrders: one primary-key probe per id', async () => {
    expect(await missingOrders(t.sql, ['ord_recheck_1', 'ord_recheck_nobody'])).toEqual(['ord_recheck_nobody']);
    const s = await statementOf(t.databaseUrl, 'from orders', (sql) => missingOrders(sql, ['ord_recheck_2', 'ord_recheck_none']));
    expectKeyedProbes(await genericPlan(t.sql, s, ['text[]']), 'orders', ['id = t.id']);
  });

  it("orderAnswers: each order's history through its index", async () => {
    const answers = await orderAnswers(t.sql, [
      { orderId: 'ord_recheck_1', messageId: 'msg_1_3' },
      { orderId: 'ord_recheck_2', messageId: 'msg_2_6' },
      { orderId: 'ord_recheck_2', messageId: 'msg_nobody' },
    ]);
    expect(answers.map((a) => [a.orderId, a.messageId, a.outcome])).toEqual([
      ['ord_recheck_1', 'msg_1_3', 'applied'],
      ['ord_recheck_2', 'msg_2_6', 'applied'],
    ]);
    const s = await statementOf(t.databaseUrl, 'from order_history', (sql) => orderAnswers(sql, [{ orderId: 'ord_recheck_3', messageId: 'msg_3_1' }]));
    expectKeyedProbes(await genericPlan(t.sql, s, ['text[]', 'text[]']), 'order_history', ['order_id = u.id']);
  });
});
