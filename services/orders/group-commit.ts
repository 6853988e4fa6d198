import type { Sql } from '../../infra/db/postgres.ts';
import { isRetryableDbError } from '../../infra/db/postgres.ts';
import { writeOrderEvents, type OrderWrite } from './order-store.ts';

/** Most events one group-commit statement carries (a bound on statement size, not on waiting). */
const MAX_BATCH = 64;

interface Pending {
  write: OrderWrite;
  resolve: (written: boolean) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for the order host. Every partition consumer hands its event's write here and
 * waits; whatever is waiting when the previous statement returns goes out together as ONE
 * statement (`writeOrderEvents`), so under load one commit serves many partitions, and alone an
 * event is written at once (no timer, no added latency). Each partition still has one message in
 * flight, so an order's events stay in publish order; a batch never holds two writes for one order.
 *
 * A statement that fails for a reason that is not transient (a constraint one event breaks) is
 * retried one write at a time, so one bad event cannot fail its neighbours.
 */
export function createGroupCommitter(sql: Sql, consumer: string) {
  let queue: Pending[] = [];
  let running = false;

  async function flush(batch: Pending[]): Promise<void> {
    try {
      const written = await writeOrderEvents(sql, consumer, batch.map((p) => p.write));
      for (const p of batch) p.resolve(written.has(p.write.orderId));
    } catch (err) {
      if (batch.length === 1 || isRetryableDbError(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      for (const p of batch) await flush([p]);
    }
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch: Pending[] = [];
      const orders = new Set<string>();
      const rest: Pending[] = [];
      for (const p of queue) {
        if (batch.length < MAX_BATCH && !orders.has(p.write.orderId)) {
          orders.add(p.write.orderId);
          batch.push(p);
        } else rest.push(p);
      }
      queue = rest;
      await flush(batch);
    }
    running = false;
  }

  /** Resolves true once the write committed, false when its version or inbox condition failed. */
  function write(w: OrderWrite): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      queue.push({ write: w, resolve, reject });
      if (!running) {
        running = true;
        // Let the other partitions whose messages arrived in the same turn join this statement.
        setImmediate(() => void drain());
      }
    });
  }

  return { write };
}

export type GroupCommitter = ReturnType<typeof createGroupCommitter>;
