import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModelWorld, type ModelWorld } from './model-world.ts';
import { describeWalk, planWalk, runWalk, walkArbitrary } from './random-walk.ts';

/**
 * Random walks with disorder (issue 17, part 2), a fast-check property over the real system: walks
 * drawn from the order machine and the world model, with webhooks delivered twice, again later and out
 * of order, each driven as one order through the gateway, NATS, Postgres and the services; the order's
 * state and history must be the pure machine's fed the events it applied, and no webhook may count
 * twice. On failure fast-check shrinks the draws and prints the shortest failing walk with its seed.
 * Seeded and bounded: WALK_SEED (fixed here), WALK_RUNS property runs of WALKS_AT_ONCE walks each,
 * WALK_SECONDS in all (`npm run verify` runs a longer one).
 */
const num = (name: string, fallback: number) => {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected a whole number, got "${raw}"`);
  return n;
};
const SEED = num('WALK_SEED', 20261130);
const RUNS = num('WALK_RUNS', 25);
const AT_ONCE = num('WALKS_AT_ONCE', 4);
const MAX_STEPS = num('WALK_STEPS', 10);
const SECONDS = num('WALK_SECONDS', 150);
/** fast-check's path of a failing run (its report prints it): with WALK_SEED, replays that run and its shrinking. */
const PATH = process.env['WALK_PATH'] || undefined;

let world: ModelWorld;
beforeAll(async () => {
  world = await startModelWorld();
});
afterAll(async () => {
  await world?.stop();
});

describe('random walks with disorder through the real system', () => {
  it('every walk ends where the pure machine does, each webhook counted once', { timeout: (SECONDS + 120) * 1000 }, async () => {
    const t0 = Date.now();
    const total = { walks: 0, steps: 0, duplicates: 0, redeliveries: 0, swaps: 0 };
    const property = fc.asyncProperty(fc.array(walkArbitrary(MAX_STEPS), { minLength: AT_ONCE, maxLength: AT_ONCE }), async (draws) => {
      const results = await Promise.all(draws.map((d) => runWalk(world, planWalk(d))));
      for (const r of results) {
        total.walks++;
        total.steps += r.stats.steps;
        total.duplicates += r.stats.duplicates;
        total.redeliveries += r.stats.redeliveries;
        total.swaps += r.stats.swaps;
      }
      const failed = results.filter((r) => !r.ok);
      if (failed.length > 0) throw new Error(failed.map((r) => r.report).join('\n\n'));
    });
    const details = await fc.check(property, { seed: SEED, ...(PATH ? { path: PATH } : {}), numRuns: RUNS, interruptAfterTimeLimit: SECONDS * 1000, markInterruptAsFailure: false });
    console.log(
      `random walks: seed ${SEED}, ${details.numRuns} runs × ${AT_ONCE} walks (${total.walks} walks, shrinking included), ${total.steps} steps, ` +
        `${total.duplicates} webhooks delivered twice, ${total.redeliveries} delivered again later, ${total.swaps} pairs out of order, ${((Date.now() - t0) / 1000).toFixed(1)} s` +
        (details.interrupted ? ` (stopped at WALK_SECONDS=${SECONDS})` : ''),
    );
    if (details.failed) {
      // The shrunk counterexample: fast-check's report (seed and path to replay it) and each walk in words.
      const walks = (details.counterexample?.[0] ?? []).map((d, i) => `walk ${i + 1}:\n${describeWalk(planWalk(d))}`).join('\n');
      const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
      expect.fail(`${fc.defaultReportMessage(details) ?? ''}\n\nshrunk counterexample:\n${walks}\n\nwhat failed:\n${error}`);
    }
    // Not a walk in the park: the disorder really happened.
    expect(total.duplicates, 'webhooks delivered twice').toBeGreaterThan(0);
    expect(total.redeliveries, 'webhooks delivered again later').toBeGreaterThan(0);
    expect(total.swaps, 'webhooks out of order').toBeGreaterThan(0);
  });
});
