import { describe, expect, it, vi } from 'vitest';
import { createDeferredMarks } from './deferred-marks.ts';
import { createGroupedWrites } from './grouped-writes.ts';

/** A write the test finishes by hand, so what waits behind it is visible. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

/** Grouped writes keyed by an item's first letter; the first statement waits for `first.open()`. */
function keyedByFirstLetter(maxInFlight: number) {
  const batches: string[][] = [];
  const first = gate();
  const write = createGroupedWrites<string, string>({
    maxInFlight,
    maxBatch: 10,
    key: (item) => item.slice(0, 1),
    async write(batch) {
      batches.push(batch);
      if (batches.length === 1) await first.opened;
      return batch.map((item) => item.toUpperCase());
    },
  });
  return { write, batches, first };
}

describe('grouped writes (pure)', () => {
  it('a lone item goes at once; items arriving while statements run go together, each gets its own answer', async () => {
    const batches: number[][] = [];
    const first = gate();
    const write = createGroupedWrites<number, string>({
      maxInFlight: 1,
      maxBatch: 3,
      async write(batch) {
        batches.push(batch);
        if (batches.length === 1) await first.opened;
        return batch.map((n) => `#${n}`);
      },
    });
    const answers = [1, 2, 3, 4, 5, 6].map((n) => write(n));
    expect(batches).toEqual([[1]]);
    first.open();
    expect(await Promise.all(answers)).toEqual(['#1', '#2', '#3', '#4', '#5', '#6']);
    expect(batches).toEqual([[1], [2, 3, 4], [5, 6]]);
  });

  it('without maxInFlight, one statement runs at a time: what arrives meanwhile is the next one', async () => {
    const batches: number[][] = [];
    let running = 0;
    let mostRunning = 0;
    const gates = [gate(), gate()];
    const write = createGroupedWrites<number, number>({
      maxBatch: 100,
      async write(batch) {
        running++;
        mostRunning = Math.max(mostRunning, running);
        batches.push(batch);
        await gates[batches.length - 1]?.opened;
        running--;
        return batch;
      },
    });
    const answers = [1, 2, 3, 4, 5].map((n) => write(n));
    expect(batches).toEqual([[1]]);
    gates[0]?.open();
    await vi.waitFor(() => expect(batches).toHaveLength(2));
    const late = [6, 7].map((n) => write(n));
    gates[1]?.open();
    expect(await Promise.all([...answers, ...late])).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(batches).toEqual([[1], [2, 3, 4, 5], [6, 7]]);
    expect(mostRunning).toBe(1);
  });

  it('a failed statement fails every item in it, and only those', async () => {
    let calls = 0;
    const first = gate();
    const write = createGroupedWrites<number, number>({
      maxInFlight: 1,
      maxBatch: 10,
      async write(batch) {
        calls++;
        if (calls === 1) {
          await first.opened;
          return batch;
        }
        if (calls === 2) throw new Error('boom');
        return batch;
      },
    });
    const a = write(1);
    const b = write(2);
    const c = write(3);
    first.open();
    await expect(a).resolves.toBe(1);
    await expect(b).rejects.toThrow('boom');
    await expect(c).rejects.toThrow('boom');
    await expect(write(4)).resolves.toBe(4);
  });

  it('with a key, a statement carries one item per key; later items of a key follow in order', async () => {
    const { write, batches, first } = keyedByFirstLetter(1);
    const answers = ['x0', 'a1', 'b1', 'a2', 'c1', 'a3', 'b2'].map((item) => write(item));
    first.open();
    expect(await Promise.all(answers)).toEqual(['X0', 'A1', 'B1', 'A2', 'C1', 'A3', 'B2']);
    expect(batches).toEqual([['x0'], ['a1', 'b1', 'c1'], ['a2', 'b2'], ['a3']]);
  });

  it('with a key, an item whose key is in a running statement waits for it to end, even with a statement slot free', async () => {
    const { write, batches, first } = keyedByFirstLetter(2);
    const a1 = write('a1');
    const later = ['a2', 'b1'].map((item) => write(item));
    // The second slot takes b1 only: a2 would race a1 in another statement.
    await later[1];
    expect(batches).toEqual([['a1'], ['b1']]);
    first.open();
    expect(await Promise.all([a1, ...later])).toEqual(['A1', 'A2', 'B1']);
    expect(batches).toEqual([['a1'], ['b1'], ['a2']]);
  });
});

describe('deferred marks (pure)', () => {
  it('marks wait and go in one batch on flush; a failed batch is reported and dropped', async () => {
    const written: string[][] = [];
    const errors: number[] = [];
    let fail = false;
    const marks = createDeferredMarks<string>({
      delayMs: 60_000,
      maxBatch: 100,
      async write(batch) {
        if (fail) throw new Error('db down');
        written.push(batch);
      },
      onError: (_err, size) => errors.push(size),
    });
    marks.add('a');
    marks.add('b');
    expect(written).toEqual([]);
    await marks.flush();
    expect(written).toEqual([['a', 'b']]);
    fail = true;
    marks.add('c');
    await marks.flush();
    expect(errors).toEqual([1]);
    fail = false;
    await marks.flush();
    expect(written).toEqual([['a', 'b']]);
  });

  it('a full batch goes without waiting for the delay', async () => {
    const written: number[][] = [];
    const marks = createDeferredMarks<number>({ delayMs: 60_000, maxBatch: 2, write: async (b) => void written.push(b), onError: () => {} });
    marks.add(1);
    marks.add(2);
    marks.add(3);
    await marks.flush();
    expect(written).toEqual([[1, 2], [3]]);
  });
});
