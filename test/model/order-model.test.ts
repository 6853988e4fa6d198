import { describe, expect, it } from 'vitest';
import { allTransitions, planPaths } from './order-model.ts';

/**
 * The model's half of issue 17, pure: `xstate/graph` finds, for every transition of the order machine
 * (each guarded branch on its own), a path of sample events whose last step takes it. A transition
 * added later that no sample event reaches fails here, naming it.
 */
describe('order machine as a test model', () => {
  const plan = planPaths();

  it('every transition of the machine has a generated path that ends by taking it', () => {
    const rows = allTransitions().map((t) => {
      const p = plan.paths.find((x) => x.target === t.key);
      return `${t.key.padEnd(92)} ${p ? p.steps.map((s) => `${s.event.type}(${s.variant})`).join(' → ') : 'NO PATH'}`;
    });
    console.log([...rows, `transitions with a path: ${plan.paths.length}/${allTransitions().length} (${plan.vertices} vertices)`].join('\n'));
    expect(plan.unreachable, `transitions no generated path reaches (add a sample event for them in test/model/order-model.ts): ${plan.unreachable.join(', ')}`).toEqual([]);
    for (const p of plan.paths) expect(p.steps.at(-1)?.takes, p.target).toContain(p.target);
  });

  it('the transition catalogue is read from the machine: guarded branches counted on their own', () => {
    const keys = allTransitions().map((t) => t.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toEqual(expect.arrayContaining([
      'order.pending PAYMENT_CONFIRMED [paymentMatchesOrder] #0',
      'order.pending PAYMENT_CONFIRMED #1',
      'order.paid always #0',
      'order.processing.document.failed RETRY_DOCUMENT [hasDocument] #0',
      'order.processing.document.failed RETRY_DOCUMENT #1',
    ]));
  });
});
