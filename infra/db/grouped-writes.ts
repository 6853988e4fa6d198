/**
 * Group commit for small independent writes: while `maxInFlight` statements run, new items wait and
 * go together in the next one (up to `maxBatch` per statement) — one commit, one WAL flush for many
 * callers. At low load an item goes at once, alone; nothing waits for a batch to fill. `write`
 * answers one result per item, in the items' order; a failed statement fails every item in it.
 * With `key`, one statement never carries two items of one key (an upsert may not touch a row
 * twice in one statement), and an item of a key whose earlier item is in a statement still running
 * waits for that statement to end: the items of a key are written one after the other, in arrival
 * order, as if each were alone.
 *
 * `maxInFlight` defaults to one: the items that arrive while a statement runs make the next one. On
 * the two-core bench machine more statements in flight only split the same rows over more commits:
 * with four for the webhook inbox, the intake and the warehouse log and two for documents and e-mail
 * claims, a burst took 4.1–4.2 Postgres commits per order; with one for the inbox 3.1–3.3; with one
 * everywhere 2.3, for less Postgres CPU and the same throughput and payment latency (README,
 * "Benchmark", twenty-fourth round).
 */
export const GROUPED_WRITES_IN_FLIGHT = 1;

export function createGroupedWrites<T, R>(o: {
  maxInFlight?: number;
  maxBatch: number;
  key?: (item: T) => string;
  write(batch: T[]): Promise<R[]>;
}): (item: T) => Promise<R> {
  type Waiting = { item: T; resolve: (r: R) => void; reject: (err: unknown) => void };
  let queue: Waiting[] = [];
  let inFlight = 0;
  /** Keys with an item in a running statement (never two: `take` holds back the later one). */
  const keysInFlight = new Set<string>();
  async function run(batch: Waiting[]): Promise<void> {
    try {
      const results = await o.write(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(results[i] as R));
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }
  function take(): Waiting[] {
    const key = o.key;
    if (key === undefined) {
      const batch = queue.slice(0, o.maxBatch);
      queue = queue.slice(o.maxBatch);
      return batch;
    }
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    const keys = new Set<string>();
    for (const w of queue) {
      const k = key(w.item);
      // A key seen before (in this batch, or waiting behind) or still being written keeps its later items in order.
      if (batch.length < o.maxBatch && !keys.has(k) && !keysInFlight.has(k)) batch.push(w);
      else rest.push(w);
      keys.add(k);
    }
    queue = rest;
    return batch;
  }
  function pump(): void {
    while (inFlight < (o.maxInFlight ?? GROUPED_WRITES_IN_FLIGHT) && queue.length > 0) {
      const batch = take();
      // Everything waiting is behind an item of its key in a running statement: its end pumps again.
      if (batch.length === 0) return;
      const keys = o.key === undefined ? [] : batch.map((b) => (o.key as (item: T) => string)(b.item));
      for (const k of keys) keysInFlight.add(k);
      inFlight++;
      void run(batch).finally(() => {
        inFlight--;
        for (const k of keys) keysInFlight.delete(k);
        pump();
      });
    }
  }
  return (item) =>
    new Promise<R>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      pump();
    });
}
