import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOT_DRIVEN_YET, TIMER_VARIANTS, allTransitions, planPaths, type ModelPath } from './order-model.ts';
import { runPath, type PathResult } from './order-adapter.ts';
import { startModelWorld, type ModelWorld } from './model-world.ts';

/**
 * Proof from the machine itself (issue 17, part 1): the paths `xstate/graph` generates from the order
 * machine (one per transition, each guarded branch on its own) are driven end to end through the real
 * gateway, NATS, Postgres, services and sandboxes — one order per path, in two worlds at once (one with
 * short timers — the payment timeout, KSeF's give-up — for the paths that wait for one). After every step the order read through the admin
 * API must be where the machine's path is; at the end its whole history, replayed through the pure
 * machine, must agree row by row. Prints the coverage table and `transitions covered: <n>/<total>`;
 * fails when a transition of the machine has no path (unless NOT_DRIVEN_YET says why) or a path fails.
 */
const CONCURRENCY = 8;

let main: ModelWorld;
let timer: ModelWorld;

beforeAll(async () => {
  [main, timer] = await Promise.all([startModelWorld(), startModelWorld({ paymentTimeoutMs: 3000, ksefGiveUpMs: 3000 })]);
});
afterAll(async () => {
  await Promise.all([main?.stop(), timer?.stop()]);
});

async function pool<T, R>(items: readonly T[], n: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i] as T);
      }
    }),
  );
  return out;
}

describe('every transition of the order machine, driven end to end', () => {
  it('generated paths pass through the real system and cover the machine', async () => {
    const t0 = Date.now();
    const plan = planPaths();
    // MODEL_ONLY=<text>: only the paths whose target transition contains it (while working on one).
    const only = process.env['MODEL_ONLY'];
    if (only) plan.paths = plan.paths.filter((p) => only.split('|').some((o) => p.target.includes(o)));
    const usesTimer = (p: ModelPath) => p.steps.some((s) => TIMER_VARIANTS.has(s.variant));
    const [a, b] = await Promise.all([
      pool(plan.paths.filter((p) => !usesTimer(p)), CONCURRENCY, (p) => runPath(main, p)),
      pool(plan.paths.filter(usesTimer), CONCURRENCY, (p) => runPath(timer, p)),
    ]);
    const results: PathResult[] = [...a, ...b];
    const coveredBy = new Map<string, PathResult>();
    for (const r of results) if (r.passed) for (const k of r.taken) if (!coveredBy.has(k) || r.path.target === k) coveredBy.set(k, r);
    const lines = allTransitions().map((t) => {
      const own = results.find((r) => r.path.target === t.key);
      const by = coveredBy.get(t.key);
      const steps = (own ?? by)?.path.steps.map((s) => s.event.type).join(' → ') ?? '—';
      const verdict = by ? 'passed' : own ? `FAILED: ${own.error}` : `no path: ${NOT_DRIVEN_YET[t.key] ?? 'none generated'}`;
      return `${t.key.padEnd(92)} | ${steps} | ${verdict}`;
    });
    const covered = allTransitions().filter((t) => coveredBy.has(t.key)).length;
    console.log(
      [
        'transition | path | result',
        ...lines,
        `paths: ${results.length} (${results.filter((r) => r.passed).length} passed) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
        `transitions covered: ${covered}/${allTransitions().length}`,
      ].join('\n'),
    );
    const failed = results.filter((r) => !r.passed).map((r) => `${r.path.target} (order ${r.orderId}): ${r.error}`);
    expect(failed, 'paths that failed').toEqual([]);
    const missing = allTransitions().filter((t) => !coveredBy.has(t.key) && NOT_DRIVEN_YET[t.key] === undefined).map((t) => t.key);
    expect(missing, 'transitions of the machine no path drove end to end').toEqual([]);
  });
});
