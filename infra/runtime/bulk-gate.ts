/**
 * Front work before bulk work, inside one process. The front — webhooks answered by the gateway,
 * order events applied by the host — decides how fast an order moves; the bulk — documents, e-mails,
 * shipments, notifications — can wait a moment in its durable queue. When the process falls behind
 * (its event loop runs late: every callback, a payment's included, waits its turn), the bulk
 * consumers take fewer messages at once, down to one each, and give the loop back to the front; as
 * soon as the loop is on time again they widen step by step to their full concurrency (additive
 * increase, multiplicative decrease, as TCP does with its window).
 *
 * The signal is the loop's own lateness, measured with one timer: a tick due every `tickMs` that
 * runs `lagMs` late or more halves the bulk share; a tick on time adds `1 / riseTicks` of it.
 */
export interface BulkGate {
  /** How many of a consumer's `max` bulk messages may run at once now: `max` when the loop keeps up, down to 1. */
  limit(max: number): number;
  /** Resolves at the gate's next tick (the limit may have changed); right away once stopped. */
  nextTick(): Promise<void>;
  /** The bulk share now, 0..1 (1: no throttling). */
  readonly share: number;
  /** The last tick's lateness, ms. */
  readonly lagMs: number;
  stop(): void;
}

export interface BulkGateOptions {
  /** A tick this late (ms) counts as falling behind; 0 turns the gate off (always full concurrency). */
  lagMs: number;
  /** Tick interval, ms (default 10). */
  tickMs?: number;
  /** Ticks on time from the lowest share back to full (default 25: a quarter second at 10 ms). */
  riseTicks?: number;
  /** The clock (tests); default `performance.now`. */
  now?: () => number;
}

export function createBulkGate(o: BulkGateOptions): BulkGate {
  const tickMs = o.tickMs ?? 10;
  const rise = 1 / (o.riseTicks ?? 25);
  const now = o.now ?? (() => performance.now());
  let share = 1;
  let lastLag = 0;
  let stopped = o.lagMs <= 0;
  let waiters: Array<() => void> = [];
  let timer: NodeJS.Timeout | null = null;

  const wakeWaiters = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };

  const schedule = () => {
    const due = now() + tickMs;
    timer = setTimeout(() => {
      lastLag = Math.max(0, now() - due);
      share = lastLag >= o.lagMs ? share / 2 : Math.min(1, share + rise);
      wakeWaiters();
      if (!stopped) schedule();
    }, tickMs);
    // The gate never keeps a process alive.
    timer.unref();
  };
  if (!stopped) schedule();

  return {
    limit: (max) => (stopped ? max : Math.max(1, Math.floor(max * share))),
    nextTick: () => (stopped ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    get share() {
      return stopped ? 1 : share;
    },
    get lagMs() {
      return lastLag;
    },
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      wakeWaiters();
    },
  };
}
