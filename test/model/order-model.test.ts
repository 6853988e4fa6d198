import { describe, expect, it } from 'vitest';
import { ACTIVE_VARIANTS, ANSWER_VARIANTS, NOT_DRIVEN_YET, UNDRIVABLE_VARIANTS, allTransitions, planPaths, sampleVariants } from './order-model.ts';
import { KNOWN_VARIANTS } from './order-adapter.ts';

/**
 * The model's half of issue 17, pure: `xstate/graph` walks the order machine together with what the
 * world holds (requests waiting at the sandboxes' doors, answers under way) and finds, for every
 * transition of the machine (each guarded branch on its own), a path the real system can be driven
 * along whose last step takes it. A transition added later that no path reaches fails here, naming it.
 */
describe('order machine as a test model', () => {
  const plan = planPaths();

  it('every transition has a feasible generated path that ends by taking it (or a reason in NOT_DRIVEN_YET)', () => {
    const rows = allTransitions().map((t) => {
      const p = plan.paths.find((x) => x.target === t.key);
      return `${t.key.padEnd(92)} ${p ? p.steps.map((s) => `${s.event.type}(${s.variant})`).join(' → ') : `NO PATH: ${NOT_DRIVEN_YET[t.key] ?? 'no reason given'}`}`;
    });
    console.log([...rows, `transitions with a path: ${plan.paths.length}/${allTransitions().length} (${plan.vertices} vertices)`].join('\n'));
    const unexplained = plan.unreachable.filter((k) => NOT_DRIVEN_YET[k] === undefined);
    expect(unexplained, `transitions no generated path reaches (add a sample event / door for them in test/model/order-model.ts): ${unexplained.join(', ')}`).toEqual([]);
    const stale = Object.keys(NOT_DRIVEN_YET).filter((k) => !plan.unreachable.includes(k));
    expect(stale, 'NOT_DRIVEN_YET names transitions that now have a path (or no longer exist): remove them').toEqual([]);
    for (const p of plan.paths) {
      expect(p.steps.at(-1)?.takes, p.target).toContain(p.target);
      expect(p.steps.map((s) => s.door), p.target).not.toContain('impossible');
    }
  });

  it('every kind of cause a sample event names is one the world model and the adapter know', () => {
    const variants = [...sampleVariants()];
    const unmodelled = variants.filter((v) => !ACTIVE_VARIANTS.has(v) && !ANSWER_VARIANTS.has(v) && !UNDRIVABLE_VARIANTS.has(v));
    expect(unmodelled, `sample variants neither caused at a door (ACTIVE_VARIANTS) nor answered by the world (answerOf / ANSWER_VARIANTS) in test/model/order-model.ts: ${unmodelled.join(', ')}`).toEqual([]);
    const noAdapter = variants.filter((v) => !UNDRIVABLE_VARIANTS.has(v) && !KNOWN_VARIANTS.has(v));
    expect(noAdapter, `sample variants the adapter cannot cause yet (test/model/order-adapter.ts): ${noAdapter.join(', ')}`).toEqual([]);
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
