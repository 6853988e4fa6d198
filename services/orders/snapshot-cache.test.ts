import { describe, expect, it } from 'vitest';
import { createSnapshotCache } from './snapshot-cache.ts';

const stored = (version: number) => ({ snapshot: { value: 'pending', context: {} }, machine_version: 'order@2', version });

describe('snapshot cache', () => {
  it('keeps at most its size, dropping the least recently used first', () => {
    const cache = createSnapshotCache(2);
    cache.set('a', stored(1));
    cache.set('b', stored(1));
    expect(cache.get('a')?.version).toBe(1); // a is now more recent than b
    cache.set('c', stored(1));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.version).toBe(1);
    expect(cache.get('c')?.version).toBe(1);
    expect(cache.size).toBe(2);
  });

  it('a new write replaces the entry; a failed one deletes it', () => {
    const cache = createSnapshotCache(10);
    cache.set('a', stored(1));
    cache.set('a', stored(2));
    expect(cache.get('a')?.version).toBe(2);
    cache.delete('a');
    expect(cache.get('a')).toBeUndefined();
  });
});
