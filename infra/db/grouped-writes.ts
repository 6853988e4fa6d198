/**
 * Group commit for small independent writes: while `maxInFlight` statements run, new items wait and
 * go together in the next one (up to `maxBatch` per statement) — one commit, one WAL flush for many
 * callers. At low load an item goes at once, alone; nothing waits for a batch to fill. `write`
 * answers one result per item, in the items' order; a failed statement fails every item in it.
 */
export function createGroupedWrites<T, R>(o: { maxInFlight: number; maxBatch: number; write(batch: T[]): Promise<R[]> }): (item: T) => Promise<R> {
  let queue: Array<{ item: T; resolve: (r: R) => void; reject: (err: unknown) => void }> = [];
  let inFlight = 0;
  async function run(batch: typeof queue): Promise<void> {
    try {
      const results = await o.write(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(results[i] as R));
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }
  function pump(): void {
    while (inFlight < o.maxInFlight && queue.length > 0) {
      const batch = queue.slice(0, o.maxBatch);
      queue = queue.slice(o.maxBatch);
      inFlight++;
      void run(batch).finally(() => {
        inFlight--;
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
