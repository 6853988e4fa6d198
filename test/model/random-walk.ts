import fc from 'fast-check';
import type { ModelWorld } from './model-world.ts';
import { canonical, cause, placeModelOrder, project, regionOf, releaseModelOrder, replayHistory, type Redeliver } from './order-adapter.ts';
import { TIMER_VARIANTS, allTransitions, modelOrder, walkOf, type ModelStep } from './order-model.ts';

/**
 * Random walks with disorder (issue 17): event sequences drawn from the order machine together with
 * the world model (so each is one the real system can follow), driven through the real system with
 * the disorder the outside world adds to its webhooks — a webhook delivered twice at once, delivered
 * again after the next event, two webhooks arriving in the other order — and checked against the pure
 * machine fed the events the host applied. The draws are plain numbers and booleans, so fast-check
 * shrinks a failing walk to a short one.
 */

/** Webhooks: the provider may deliver each twice, again later, or after the next one. */
const PAYMENT_WEBHOOKS: ReadonlySet<string> = new Set(['stripe', 'mismatch', 'payu-canceled']);
const WAREHOUSE_WEBHOOKS: ReadonlySet<string> = new Set(['warehouse-webhook']);
const isWebhook = (s: ModelStep) => PAYMENT_WEBHOOKS.has(s.variant) || WAREHOUSE_WEBHOOKS.has(s.variant);
/** Two webhooks can overtake each other when neither waits for what the other causes (a status needs a submit, which needs the payment). */
const swappable = (a: ModelStep, b: ModelStep) =>
  (PAYMENT_WEBHOOKS.has(a.variant) && PAYMENT_WEBHOOKS.has(b.variant)) || (WAREHOUSE_WEBHOOKS.has(a.variant) && WAREHOUSE_WEBHOOKS.has(b.variant));

export interface Disorder {
  /** The webhook is delivered twice, the second right after the first was answered. */
  duplicate: boolean;
  /** The webhook is delivered again once the next event was applied. */
  redeliverLater: boolean;
  /** This webhook and the next arrive in the other order (the walk ends with them). */
  swapWithNext: boolean;
}

export interface WalkDraw {
  /** Which of the events the world allows at this step (modulo their number). */
  choice: number;
  disorder: Disorder;
}

/** True `inFour` times in four; shrinks to false (a counterexample keeps only the disorder it needs). */
const chance = (inFour: number) => fc.integer({ min: 0, max: 3 }).map((n) => n >= 4 - inFour);

/** One walk: up to `maxSteps` draws. */
export function walkArbitrary(maxSteps: number): fc.Arbitrary<WalkDraw[]> {
  const draw = fc.record({ choice: fc.nat({ max: 999 }), duplicate: chance(1), redeliverLater: chance(1), swapWithNext: chance(1) });
  return fc.array(draw.map(({ choice, ...disorder }) => ({ choice, disorder })), { minLength: 1, maxLength: maxSteps });
}

/** A walk in words, for a counterexample. */
export function describeWalk(plan: readonly PlannedStep[]): string {
  return plan.map((p, i) => `  ${i + 1}. ${p.step.event.type} (${p.step.variant})${p.disorder.duplicate ? ' ×2' : ''}${p.disorder.redeliverLater ? ' +again later' : ''}${p.disorder.swapWithNext ? ' ⇄ next' : ''}`).join('\n');
}

export interface PlannedStep {
  step: ModelStep;
  disorder: Disorder;
}

const ORDERLY: Disorder = { duplicate: false, redeliverLater: false, swapWithNext: false };

/**
 * The walk the draws pick through the world model (timers left out: they belong to a world of their
 * own); disorder kept only where it can happen (webhooks; a swap only with a webhook that can overtake).
 * A swap ends the walk: after it the order is where the arrival order took it, not where the model is.
 */
export function planWalk(draws: readonly WalkDraw[]): PlannedStep[] {
  const steps = walkOf(modelOrder(), (options, i) => {
    const d = draws[i];
    const usable = options.filter((e) => !TIMER_VARIANTS.has(e.variant));
    return d === undefined || usable.length === 0 ? null : (usable[d.choice % usable.length] ?? null);
  });
  const out: PlannedStep[] = [];
  for (const [i, step] of steps.entries()) {
    const d = draws[i]?.disorder ?? ORDERLY;
    const next = steps[i + 1];
    const swap = d.swapWithNext && next !== undefined && swappable(step, next);
    out.push({ step, disorder: isWebhook(step) ? { duplicate: d.duplicate, redeliverLater: d.redeliverLater && next !== undefined && !swap, swapWithNext: swap } : ORDERLY });
    if (swap) {
      out.push({ step: next, disorder: ORDERLY });
      break;
    }
  }
  return out;
}

export interface WalkResult {
  ok: boolean;
  orderId: string | null;
  /** The walk as driven and what the order did (printed for a counterexample). */
  report: string;
  stats: { steps: number; duplicates: number; redeliveries: number; swaps: number };
}

const STEP_TIMEOUT_MS = 60_000;
/** Order events only webhooks cause: each delivered webhook must be exactly one history row of its type. */
const WEBHOOK_EVENT_TYPES: ReadonlySet<string> = new Set(['PAYMENT_CONFIRMED', 'PAYMENT_FAILED', 'SHIPMENT_PROBLEM', 'HANDED_TO_CARRIER', 'DELIVERED']);

/**
 * Drives one planned walk through the real system in `w` and checks the order afterwards:
 * 1. its history, replayed through the pure machine row by row, agrees (applied or ignored, and the
 *    state after each row), and the order's state is the machine's after the last row;
 * 2. no message applied twice (one row per message id), and each webhook delivered — however often —
 *    is one history row: duplicates and redeliveries change nothing;
 * 3. without a swap, the events applied are the walk's, in its order, each step ending where the
 *    machine's walk is. Never throws: the result says what failed.
 */
export async function runWalk(w: ModelWorld, plan: readonly PlannedStep[]): Promise<WalkResult> {
  const steps = plan.map((p) => p.step);
  const stats = { steps: steps.length, duplicates: 0, redeliveries: 0, swaps: 0 };
  const done: string[] = [];
  let orderId: string | null = null;
  let detail: Awaited<ReturnType<typeof placeModelOrder>>['detail'] | null = null;
  try {
    const placed = await placeModelOrder(w, steps, (id) => (orderId = id));
    detail = placed.detail;
    const { id, externalId, variants } = placed;
    const read = placed.detail;
    const consumed = new Set<string>();
    /** The next unconsumed history row of `type` (applied only, or any outcome). */
    const row = async (type: string, what: string, appliedOnly: boolean) => {
      const found = await w.eventually(async () => {
        const d = await read();
        const r = d?.history.find((x) => !consumed.has(x.id) && x.type === type && (!appliedOnly || x.outcome === 'applied'));
        return r ? { r } : undefined;
      }, `order ${id}: ${what}`, STEP_TIMEOUT_MS);
      consumed.add(found.r.id);
      return found.r;
    };
    let later: Redeliver | null = null;
    let swapped = false;
    for (let i = 0; i < plan.length; i++) {
      const { step, disorder } = plan[i] as PlannedStep;
      const what = `step ${i + 1} ${step.event.type} (${step.variant}, ${step.door})`;
      const region = regionOf(allTransitions().find((t) => t.key === step.takes[0])?.source ?? 'order');
      if (step.door === 'act') {
        await w.eventually(async () => {
          const d = await read();
          return d && project(d.value, region) === project(step.before, region);
        }, `order ${id} before ${what}: ${project(step.before, region)}`, STEP_TIMEOUT_MS);
      }
      const input = (index: number) => ({ id, externalId, step: steps[index] as ModelStep, variants, steps, index });
      if (disorder.swapWithNext) {
        // The next webhook arrives first; then this one. Either may be ignored by then.
        const next = steps[i + 1] as ModelStep;
        await cause(w, input(i + 1));
        await cause(w, input(i));
        stats.swaps++;
        done.push(`${next.event.type} (${next.variant}) overtook ${what}`);
        await row(next.event.type, `${next.event.type} recorded`, false);
        await row(step.event.type, `${step.event.type} recorded`, false);
        swapped = true;
        break;
      }
      const again = await cause(w, input(i));
      done.push(what + (disorder.duplicate ? ', delivered twice' : '') + (disorder.redeliverLater ? ', again after the next step' : ''));
      if (disorder.duplicate && again) {
        await again();
        stats.duplicates++;
      }
      const r = await row(step.event.type, `${what} applied`, true);
      const want = project(step.value, region);
      const got = project(r.toValue as ModelStep['value'], region);
      if (want !== got) throw new Error(`${what}: the order went to ${got}, the machine's walk to ${want}`);
      if (later) {
        await later();
        stats.redeliveries++;
        later = null;
      }
      if (disorder.redeliverLater && again) later = again;
    }

    const d = await read();
    const history = [...(d?.history ?? [])].sort((a, b) => Number(a.id) - Number(b.id));
    const replay = replayHistory(history);
    if (replay.mismatch) throw new Error(`history replay: ${replay.mismatch}`);
    if (canonical(d?.value) !== canonical(replay.value)) throw new Error(`the order is ${JSON.stringify(d?.value)}, the machine fed its history ${JSON.stringify(replay.value)}`);
    const ids = new Map<string, number>();
    for (const h of history) ids.set(h.messageId, (ids.get(h.messageId) ?? 0) + 1);
    const twice = [...ids].filter(([, n]) => n > 1).map(([m]) => m);
    if (twice.length > 0) throw new Error(`messages in the history more than once: ${twice.join(', ')}`);
    const sentPerType = new Map<string, number>();
    for (const s of steps) if (isWebhook(s)) sentPerType.set(s.event.type, (sentPerType.get(s.event.type) ?? 0) + 1);
    // The warehouse reports a shipment it cancelled by itself (CANCELLED → SHIPMENT_PROBLEM): not one of ours (ON_HOLD).
    const ours = (h: (typeof history)[number]) => h.type !== 'SHIPMENT_PROBLEM' || h.payload['code'] === 'ON_HOLD';
    for (const type of WEBHOOK_EVENT_TYPES) {
      const rows = history.filter((h) => h.type === type && ours(h)).length;
      if (rows !== (sentPerType.get(type) ?? 0)) throw new Error(`${sentPerType.get(type) ?? 0} distinct ${type} webhook(s) delivered, ${rows} history row(s)`);
    }
    if (!swapped) {
      const applied = history.filter((h) => h.outcome === 'applied' && h.type !== 'ORDER_PLACED').map((h) => h.type).slice(0, steps.length);
      if (canonical(applied) !== canonical(steps.map((s) => s.event.type))) throw new Error(`applied ${applied.join(' → ')}, the walk ${steps.map((s) => s.event.type).join(' → ')}`);
    }
    return { ok: true, orderId, report: done.join('\n'), stats };
  } catch (err) {
    const seen = detail === null ? null : await detail().catch(() => null);
    const rows = [...(seen?.history ?? [])].sort((a, b) => Number(a.id) - Number(b.id)).map((r) => `${r.type}:${r.outcome}`).join(', ');
    const report = [`order ${orderId}: ${err instanceof Error ? err.message : String(err)}`, 'walk:', describeWalk(plan), `done: ${done.join('; ')}`, `history: ${rows}`].join('\n');
    return { ok: false, orderId, report, stats };
  } finally {
    if (orderId !== null) releaseModelOrder(w, orderId);
  }
}
