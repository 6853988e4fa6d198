/**
 * Marks that may lag the fact they record — a "published" flag whose loss only costs a republish
 * that JetStream and the consumers de-duplicate — written off the request path in batches: one
 * statement for many rows, once `delayMs` passed since the first waiting mark or `maxBatch` are
 * waiting. A failed batch is reported to `onError` and dropped (the rows keep looking unfinished, so
 * a retry by the sender finishes them). Call `flush()` on shutdown.
 */
export interface DeferredMarks<T> {
  add(mark: T): void;
  /** Writes what is waiting now; resolves when every batch so far is written (or failed). */
  flush(): Promise<void>;
}

export function createDeferredMarks<T>(o: {
  delayMs: number;
  maxBatch: number;
  write(batch: T[]): Promise<unknown>;
  onError(err: unknown, size: number): void;
}): DeferredMarks<T> {
  let waiting: T[] = [];
  let timer: NodeJS.Timeout | null = null;
  // Batches go one after another, so a later mark never overtakes an earlier one.
  let chain: Promise<void> = Promise.resolve();
  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = waiting;
    waiting = [];
    if (batch.length === 0) return chain;
    chain = chain.then(() =>
      o.write(batch).then(
        () => undefined,
        (err: unknown) => o.onError(err, batch.length),
      ),
    );
    return chain;
  }
  return {
    add(mark) {
      waiting.push(mark);
      if (waiting.length >= o.maxBatch) void flush();
      else timer ??= setTimeout(() => void flush(), o.delayMs);
    },
    flush,
  };
}
