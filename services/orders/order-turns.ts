import type { JetStreamManager } from '@nats-io/jetstream';
import { LeftForRedelivery } from '../../infra/nats/consumer-runner.ts';

/** Orders (subjects) whose last settled stream sequence a host remembers (oldest forgotten first). */
const REMEMBERED_ORDERS = 10_000;
/** Longest pause between two looks while an earlier event of the order is still in the stream. */
const MAX_PAUSE_MS = 250;

/**
 * Keeps each order's events in publish order while a partition has several events in flight
 * (ORDER_PARTITION_WINDOW, in this process and in others pulling the same partition).
 *
 * The order-events stream is a work queue with one subject per order: an event stays in it until
 * its host acks it (or dead-letters it: `term` removes it too). So an event is the order's next one
 * exactly when no message of its subject with a lower sequence is left in the stream. Before handling
 * a message (before decoding it, so an unreadable one keeps its place too), `inTurn` asks the stream (a direct get, `next_by_subj`) for the first message of the subject from
 * just after the last one this host applied; while that is an earlier one — applied a moment ago by
 * another instance and not yet acked, nak'd for a retry, waiting for redelivery after a crash — it
 * waits and asks again (woken at once when this host settles one of the order's events, else after a
 * pause doubling up to 250 ms). The consumer runner keeps the waiting message alive (`working()`).
 * A retried event therefore still holds back its order's later events, as the partition's single
 * slot did before, but no longer the other orders of its partition.
 */
export function createOrderTurns(o: { jsm: JetStreamManager; stream: string }) {
  /** subject (one order's) → stream sequence of the order's event this host settled last. */
  const settled = new Map<string, number>();
  /** subject → wake-ups of events of that order waiting their turn here. */
  const waiting = new Map<string, Set<() => void>>();
  let stopping = false;

  function wake(subject: string): void {
    const set = waiting.get(subject);
    if (set === undefined) return;
    waiting.delete(subject);
    for (const w of set) w();
  }

  function pause(subject: string, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = waiting.get(subject);
      if (set === undefined) waiting.set(subject, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  /**
   * Resolves once the message is its order's first left in the stream (from what this host has not
   * settled). Throws `LeftForRedelivery` when the host stops first.
   */
  async function inTurn(m: { subject: string; seq: number }): Promise<void> {
    for (let ms = 2; ; ms = Math.min(ms * 2, MAX_PAUSE_MS)) {
      const first = await o.jsm.direct.getMessage(o.stream, { next_by_subj: m.subject, seq: (settled.get(m.subject) ?? 0) + 1 });
      if (first === null || first.seq >= m.seq) return;
      if (stopping) throw new LeftForRedelivery(`stopping while event ${m.seq} waited for event ${first.seq} of its order`);
      await pause(m.subject, ms);
    }
  }

  /** The message is acked or dead-lettered (gone from the stream): its order's later events may go. */
  function settle(m: { subject: string; seq: number }): void {
    settled.delete(m.subject);
    settled.set(m.subject, m.seq);
    if (settled.size > REMEMBERED_ORDERS) settled.delete(settled.keys().next().value as string);
    wake(m.subject);
  }

  return {
    inTurn,
    settle,
    /** Waiting events stop waiting (left for redelivery); call before stopping the consumers. */
    stop(): void {
      stopping = true;
      for (const orderId of [...waiting.keys()]) wake(orderId);
    },
  };
}

export type OrderTurns = ReturnType<typeof createOrderTurns>;
