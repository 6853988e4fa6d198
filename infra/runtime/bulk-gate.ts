/**
 * Front work before bulk work, inside one process. The front — webhooks answered by the gateway,
 * order events applied by the host — decides how fast an order moves; the bulk — documents, e-mails,
 * shipments, refunds, notifications — can wait a moment in its durable queue. When the process falls
 * behind (its event loop runs late: every callback, a payment's included, waits its turn) while
 * front work comes in (`frontSeen()`: the gateway calls it for new orders and payments), the bulk
 * consumers pause: each finishes what it runs and starts at most one message at a time, giving the
 * loop back to the front. Once the loop has been on time for `resumeAfterMs`, or no front work has
 * come for `frontWindowMs`, they resume at full concurrency: a loop kept busy by bulk work alone
 * (the tail of a burst) has nothing to make way for, and pausing it would only leave the CPU idle.
 *
 * Pause and resume, not a gradual narrowing: narrowed to a few messages each (a TCP-like window),
 * bulk work trickled one message at a time and lost its batching (group commit: two more commits per
 * order) and the bench about a seventh of its throughput; paused and resumed whole, it runs in bursts
 * that batch as before. The signal is the loop's own lateness, measured with one timer.
 */
export interface BulkGate {
  /** How many of a consumer's `max` bulk messages may run at once now: `max`, or 1 while paused. */
  limit(max: number): number;
  /** Resolves at the gate's next tick (the limit may have changed); right away when it is not ticking (no front work, or stopped). */
  nextTick(): Promise<void>;
  /** Front work arrived (a new order, a payment): bulk work makes way while the loop runs late. */
  frontSeen(): void;
  /** True while bulk work is paused. */
  readonly paused: boolean;
  /** The last tick's lateness, ms. */
  readonly lagMs: number;
  /** Since the gate started: how often bulk work paused, and for how long in all (ms). */
  stats(): { pauses: number; pausedMs: number };
  stop(): void;
}

export interface BulkGateOptions {
  /** A tick this late (ms) pauses bulk work; 0 turns the gate off (always full concurrency). */
  lagMs: number;
  /** How long the loop must be on time before bulk work resumes, ms (default 100). */
  resumeAfterMs?: number;
  /** Front work counts as coming in for this long after the last `frontSeen()`, ms (default 250). */
  frontWindowMs?: number;
  /** Tick interval, ms (default 10). */
  tickMs?: number;
}

export function createBulkGate(o: BulkGateOptions): BulkGate {
  const tickMs = o.tickMs ?? 10;
  const resumeAfterTicks = Math.max(1, Math.round((o.resumeAfterMs ?? 100) / tickMs));
  const frontWindowMs = o.frontWindowMs ?? 250;
  let lastFront = -Infinity;
  let paused = false;
  let onTimeTicks = 0;
  let pauses = 0;
  let pausedMs = 0;
  let lastTickAt = performance.now();
  let lastLag = 0;
  let stopped = o.lagMs <= 0;
  let waiters: Array<() => void> = [];
  // The timer runs only while front work comes in or bulk work is paused: an idle process, or one
  // without a gateway, is not woken a hundred times a second for nothing.
  let timer: NodeJS.Timeout | null = null;

  const wakeWaiters = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };

  const schedule = () => {
    const due = performance.now() + tickMs;
    timer = setTimeout(() => {
      const at = performance.now();
      if (paused) pausedMs += at - lastTickAt;
      lastTickAt = at;
      lastLag = Math.max(0, at - due);
      const frontComing = at - lastFront <= frontWindowMs;
      if (lastLag >= o.lagMs && frontComing) {
        if (!paused) pauses++;
        paused = true;
        onTimeTicks = 0;
      } else if (paused && (!frontComing || ++onTimeTicks >= resumeAfterTicks)) {
        paused = false;
      }
      wakeWaiters();
      timer = null;
      if (!stopped && (paused || frontComing)) schedule();
    }, tickMs);
    // The gate never keeps a process alive.
    timer.unref();
  };

  return {
    limit: (max) => (paused && !stopped ? 1 : max),
    nextTick: () => (timer === null ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    frontSeen() {
      lastFront = performance.now();
      if (timer === null && !stopped) {
        lastTickAt = lastFront;
        schedule();
      }
    },
    get paused() {
      return paused && !stopped;
    },
    get lagMs() {
      return lastLag;
    },
    stats: () => ({ pauses, pausedMs }),
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      wakeWaiters();
    },
  };
}
