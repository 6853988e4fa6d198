import type { Sql } from '../../infra/db/postgres.ts';
import { writeOrderEvent, writeOrderEvents, type OrderWrite } from './order-store.ts';

export interface GroupCommitOptions {
  /** Most events one statement carries (bounds the statement's size, never a reason to wait). */
  maxBatch: number;
  /** Statements in flight at once: the next batch fills while one commits. */
  maxInFlight: number;
  /** Called after a commit that queued outbox rows (wakes the relay). Must not throw. */
  onOutboxWritten?: () => void;
  /**
   * Writes someone waits on (a new order, a payment): with a statement slot free, such a write
   * goes out at once, with whatever else is waiting, instead of at the event loop's next turn.
   */
  isFront?: (w: OrderWrite) => boolean;
}

interface Pending {
  write: OrderWrite;
  resolve: (written: boolean) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for the order host. Each partition consumer hands its event's write here and waits;
 * whatever is waiting when a statement slot is free goes out together as ONE statement
 * (`writeOrderEvents`), so under load one commit serves many partitions, and alone an event is
 * written at the event loop's next turn (no timer: nothing ever waits for a batch to fill) — a
 * front write (`isFront`: a new order, a payment) with a slot free even sooner, since under load
 * that turn comes tens of milliseconds late (the loop first runs every I/O callback it has ready).
 * An order's events stay in publish order (the partition's turns hand over one event of an order
 * at a time), and no two writes of one order are ever in flight together (a later one waits for
 * the next statement).
 *
 * When a statement with several writes fails, each write is tried again alone: one bad event (a
 * constraint it breaks) fails only its own message, which its consumer then naks or dead-letters
 * by the usual policy, and a transient failure is seen by each message like before.
 */
export function createGroupCommitter(sql: Sql, o: GroupCommitOptions) {
  let queue: Pending[] = [];
  const ordersInFlight = new Set<string>();
  let inFlight = 0;
  let scheduled = false;
  let frontScheduled = false;

  async function writeAlone(p: Pending): Promise<void> {
    try {
      const written = await writeOrderEvent(sql, p.write);
      if (written && p.write.effects.outbox.length > 0) o.onOutboxWritten?.();
      p.resolve(written);
    } catch (err) {
      p.reject(err);
    }
  }

  async function flush(batch: Pending[]): Promise<void> {
    if (batch.length === 1) return writeAlone(batch[0] as Pending);
    let written: Set<string>;
    try {
      written = await writeOrderEvents(sql, batch.map((p) => p.write));
    } catch {
      // Nothing of the statement committed: each write alone decides its own message's fate.
      for (const p of batch) await writeAlone(p);
      return;
    }
    if (batch.some((p) => p.write.effects.outbox.length > 0 && written.has(p.write.history.messageId))) o.onOutboxWritten?.();
    for (const p of batch) p.resolve(written.has(p.write.history.messageId));
  }

  /** Takes the oldest waiting writes, at most one per order and none of an order already in flight. */
  function takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    for (const p of queue) {
      if (batch.length < o.maxBatch && !ordersInFlight.has(p.write.orderId)) {
        ordersInFlight.add(p.write.orderId);
        batch.push(p);
      } else rest.push(p);
    }
    queue = rest;
    return batch;
  }

  function pump(): void {
    scheduled = false;
    drain();
  }

  /** Starts statements while a slot is free and something can go. */
  function drain(): void {
    while (inFlight < o.maxInFlight && queue.length > 0) {
      const batch = takeBatch();
      if (batch.length === 0) return;
      inFlight++;
      void flush(batch).finally(() => {
        inFlight--;
        for (const p of batch) ordersInFlight.delete(p.write.orderId);
        pump();
      });
    }
  }

  /** Resolves true once the write committed, false when its version or inbox condition failed. */
  function write(w: OrderWrite): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      queue.push({ write: w, resolve, reject });
      if (inFlight < o.maxInFlight && o.isFront?.(w) === true) {
        // Someone waits on this write and a slot is free: out now, after the microtasks already
        // queued (writes handed over in the same wave join it), not after the loop's turn.
        if (!frontScheduled) {
          frontScheduled = true;
          queueMicrotask(() => {
            frontScheduled = false;
            drain();
          });
        }
        return;
      }
      // Let the partitions whose messages arrived in the same turn of the event loop join in.
      if (!scheduled) {
        scheduled = true;
        setImmediate(pump);
      }
    });
  }

  return { write };
}

export type GroupCommitter = ReturnType<typeof createGroupCommitter>;
