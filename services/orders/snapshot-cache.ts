import type { StoredOrder } from './order-store.ts';

/**
 * The orders this host last wrote, most recently used last, so the next event of an order needs
 * no read. Only a hint: every write is conditional on the row version and on the message not being
 * in the inbox yet, so an entry that went stale (another host wrote the order since, after a
 * restart or while both share a partition) writes nothing, is dropped and the order is re-read.
 */
export function createSnapshotCache(max: number) {
  const entries = new Map<string, StoredOrder>();
  return {
    get(orderId: string): StoredOrder | undefined {
      const hit = entries.get(orderId);
      if (hit) {
        // A Map keeps insertion order: re-inserting makes it the most recently used.
        entries.delete(orderId);
        entries.set(orderId, hit);
      }
      return hit;
    },
    set(orderId: string, order: StoredOrder): void {
      entries.delete(orderId);
      entries.set(orderId, order);
      if (entries.size > max) entries.delete(entries.keys().next().value as string);
    },
    delete(orderId: string): void {
      entries.delete(orderId);
    },
    get size(): number {
      return entries.size;
    },
  };
}

export type SnapshotCache = ReturnType<typeof createSnapshotCache>;
