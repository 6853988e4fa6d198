import type { JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { LeftForRedelivery } from '../../infra/nats/consumer-runner.ts';

/** Longest pause between two looks while an earlier event of the order is unsettled. */
const MAX_PAUSE_MS = 250;
/** A local wait this long (an event of the order nak'd here, redelivered elsewhere?) asks the stream. */
const LOCAL_TRUST_MS = 1000;
/** Fewest milliseconds between two attempts to say again that this process sees every delivery. */
const RESYNC_EVERY_MS = 100;
/** Orders whose last event settled here a process remembers (oldest forgotten first). */
const REMEMBERED_ORDERS = 10_000;

/** What this process knows of one partition consumer's deliveries. */
interface ConsumerView {
  /**
   * The delivery sequence the next message must carry for this process to have seen every delivery
   * of the consumer (since a moment when every un-acked message was its own); null: it has not.
   */
  expect: number | null;
  /** The highest delivery sequence that arrived here. */
  lastSeen: number;
  /** The messages this process holds (arrived, not yet acked or dead-lettered), by stream sequence: the delivery. */
  held: Map<number, JsMsg>;
  /** Stream sequences nak'd here while `expect` held (their redelivery comes here too, or breaks `expect`). */
  nakked: Set<number>;
  lastResync: number;
}

/**
 * Keeps each order's events in publish order while a partition has several in flight
 * (ORDER_PARTITION_WINDOW), in this process and across processes pulling the same partition.
 *
 * An event may be applied once no earlier event of its order (its subject) is unsettled. The
 * order-events stream is a work queue with a subject per order, and its consumers deliver first
 * deliveries in stream order, so the earlier events are: settled (acked or dead-lettered: gone from
 * the stream), given up by the consumer (max deliveries reached without a term: left in the stream,
 * never delivered again — the work-queue sweeper puts it back), or pending somewhere — held by a
 * process, or nak'd and waiting for redelivery.
 *
 * **Fast path, no request.** While this process has seen every delivery of the partition since a
 * moment when every message the consumer counted un-acked was one it held (delivery sequences
 * consecutive from there; checked with `consumers.info`: `num_ack_pending` equal to what it holds,
 * nothing arrived since), every pending earlier event is one it holds or nak'd itself. So the event
 * waits only for those, in process (woken when one settles); a given-up one is not among them and
 * holds nothing back, as with one event in flight.
 *
 * **Otherwise** (another process took a delivery, a redelivery went elsewhere, or just started) it
 * asks the stream (a direct get, `next_by_subj`) for the order's first message: none before this
 * one → go; one this process holds → wait for it; one it does not hold → wait, unless the consumer
 * counts no un-acked message but the ones this process holds (`num_ack_pending`) — then that one is
 * pending nowhere: given up, and skipped.
 *
 * **A consumer started over** (delivery sequence going down: the work-queue sweeper's last resort)
 * delivers again what this process may still be handling under the old consumer: the view is
 * forgotten, and a delivery of a message whose earlier delivery is still being handled here waits
 * for that one to end (so the order's later events wait too) — settling an old delivery never
 * counts as settling the new one.
 */
export function createOrderTurns(o: { jsm: JetStreamManager; stream: string }) {
  const views = new Map<string, ConsumerView>();
  /** Per message (as delivered): whether every earlier delivery of its consumer was seen here. */
  const complete = new WeakMap<JsMsg, boolean>();
  /** subject (one order's) → wake-ups of events of that order waiting here. */
  const waiting = new Map<string, Set<() => void>>();
  /** subject → stream sequences held or nak'd here (to look up an order's earlier ones). */
  const bySubject = new Map<string, Set<number>>();
  /**
   * subject → stream sequence of the order's event settled here last: the stream is asked from just
   * after it (its ack may not have reached the server yet; its order's earlier events were settled before it).
   */
  const settledHere = new Map<string, number>();
  /** Stream sequence → deliveries of it being handled here (past `inTurn`, not yet settled, nak'd or left). */
  const running = new Map<number, number>();
  const started = new WeakSet<JsMsg>();
  let stopping = false;

  function start(m: JsMsg): void {
    started.add(m);
    running.set(m.seq, (running.get(m.seq) ?? 0) + 1);
  }

  /**
   * A delivery leaves this process's hands (settled, nak'd or left): off its consumer's view — only if
   * it is the view's own, not an older twin's (a consumer started over) — and no longer running, so a
   * twin delivery waiting here may go. `mine`: it was the view's.
   */
  function release(m: JsMsg): { v: ConsumerView; mine: boolean } {
    const v = view(m.info.consumer);
    const mine = v.held.get(m.seq) === m;
    if (mine) v.held.delete(m.seq);
    if (started.delete(m)) {
      const n = (running.get(m.seq) ?? 1) - 1;
      if (n > 0) running.set(m.seq, n);
      else running.delete(m.seq);
    }
    return { v, mine };
  }

  function view(consumer: string): ConsumerView {
    let v = views.get(consumer);
    if (v === undefined) views.set(consumer, (v = { expect: null, lastSeen: 0, held: new Map(), nakked: new Set(), lastResync: 0 }));
    return v;
  }

  function track(subject: string, seq: number): void {
    let set = bySubject.get(subject);
    if (set === undefined) bySubject.set(subject, (set = new Set()));
    set.add(seq);
  }

  function untrack(subject: string, seq: number, v: ConsumerView): void {
    if (v.held.has(seq) || v.nakked.has(seq)) return;
    const set = bySubject.get(subject);
    if (set === undefined) return;
    set.delete(seq);
    if (set.size === 0) bySubject.delete(subject);
  }

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
   * Whether every message the consumer counted un-acked when it answered was one held here: its
   * `num_ack_pending` equals the messages held here that it had delivered by then (a later one is not
   * in its count; one acked here meanwhile still is, and makes this say no). Asked afresh each time —
   * an answer from before an observation says nothing about it. `delivered` is its delivery sequence then.
   */
  async function allPendingHeldHere(consumer: string, v: ConsumerView, absent?: number): Promise<{ yes: boolean; delivered: number } | null> {
    const info = await o.jsm.consumers.info(o.stream, consumer).catch(() => null);
    if (info === null) return null;
    const delivered = info.delivered.consumer_seq;
    let heldThen = 0;
    for (const m of v.held.values()) if (m.info.deliverySequence <= delivered) heldThen++;
    // `absent` (a stream sequence) is looked at here, with the count, not before the request: a
    // redelivery of it that arrived during the round trip is held now and counted, and would make
    // it look given up when it is pending here (seen in CI: an order's event 1 applied before its 0).
    // (One nak'd here is covered by `nakked` being empty.)
    const stillAbsent = absent === undefined || (!v.held.has(absent) && !running.has(absent));
    return { yes: stillAbsent && v.nakked.size === 0 && info.num_ack_pending === heldThen, delivered };
  }

  /** Lost the thread of deliveries: what was nak'd here may be redelivered elsewhere, so it is no longer known. */
  function lose(v: ConsumerView): void {
    v.expect = null;
    if (v.nakked.size === 0) return;
    for (const [subject, set] of bySubject) {
      for (const seq of set) if (v.nakked.has(seq) && !v.held.has(seq)) set.delete(seq);
      if (set.size === 0) bySubject.delete(subject);
    }
    v.nakked.clear();
  }

  /**
   * Tries to say again that this process sees every delivery: every message the consumer counts
   * un-acked is held here, and nothing was delivered since (here: nothing arrived past its delivery
   * sequence), so the next delivery must carry the next sequence.
   */
  async function resync(consumer: string, v: ConsumerView): Promise<void> {
    if (Date.now() - v.lastResync < RESYNC_EVERY_MS) return;
    v.lastResync = Date.now();
    const s = await allPendingHeldHere(consumer, v);
    if (s !== null && s.yes && v.expect === null && v.lastSeen <= s.delivered) v.expect = s.delivered + 1;
  }

  return {
    /** Every message as it arrives, in delivery order (the runner's pull), before it waits for a slot. */
    arrived(m: JsMsg): void {
      let v = view(m.info.consumer);
      const d = m.info.deliverySequence;
      // Delivery sequences only grow, redeliveries included: a lower one is a consumer started over (the
      // work-queue sweeper's last resort), whose un-acked count no longer covers what was held here.
      if (d <= v.lastSeen) {
        lose(v);
        views.delete(m.info.consumer);
        v = view(m.info.consumer);
      }
      const inOrder = v.expect !== null && d === v.expect;
      complete.set(m, inOrder);
      if (inOrder) v.expect = d + 1;
      else if (v.expect !== null) lose(v);
      v.lastSeen = Math.max(v.lastSeen, d);
      v.held.set(m.seq, m);
      v.nakked.delete(m.seq);
      track(m.subject, m.seq);
    },

    /**
     * Resolves once no earlier event of the message's order is unsettled (see above). Throws
     * `LeftForRedelivery` when the host stops first.
     */
    async inTurn(m: JsMsg): Promise<void> {
      const consumer = m.info.consumer;
      const v = view(consumer);
      const since = Date.now();
      let from = (settledHere.get(m.subject) ?? 0) + 1;
      for (let ms = 2; ; ms = Math.min(ms * 2, MAX_PAUSE_MS)) {
        if (stopping) throw new LeftForRedelivery(`stopping while event ${m.seq} waited for an earlier event of its order`);
        if (running.has(m.seq)) {
          // Delivered again (a consumer started over) while its earlier delivery is handled here.
          await pause(m.subject, ms);
          continue;
        }
        let earlierHere = false;
        for (const seq of bySubject.get(m.subject) ?? []) if (seq < m.seq) earlierHere = true;
        // Trusted while the view still holds (no delivery went elsewhere since: what was nak'd here is still known).
        if (complete.get(m) === true && v.expect !== null && Date.now() - since < LOCAL_TRUST_MS) {
          if (!earlierHere) return start(m);
          await pause(m.subject, ms);
          continue;
        }
        if (v.expect === null) await resync(consumer, v);
        const first = await o.jsm.direct.getMessage(o.stream, { next_by_subj: m.subject, seq: from });
        if (first === null || first.seq >= m.seq) {
          // Nak'd here and settled elsewhere since: no longer an earlier event of this order.
          for (const seq of bySubject.get(m.subject) ?? []) if (seq < m.seq && v.nakked.delete(seq)) untrack(m.subject, seq, v);
          return start(m);
        }
        if (!v.held.has(first.seq) && !v.nakked.has(first.seq)) {
          // Delivered before this one, still in the stream, yet pending nowhere (every message the
          // consumer counts un-acked, asked after it was seen, is held here): given up by the consumer.
          const s = await allPendingHeldHere(consumer, v, first.seq);
          if (s !== null && s.yes) {
            from = first.seq + 1;
            continue;
          }
        }
        await pause(m.subject, ms);
      }
    },

    /** Acked or dead-lettered: gone from the stream; the order's later events may go. */
    settled(m: JsMsg): void {
      const { v } = release(m);
      v.nakked.delete(m.seq);
      untrack(m.subject, m.seq, v);
      settledHere.delete(m.subject);
      settledHere.set(m.subject, m.seq);
      if (settledHere.size > REMEMBERED_ORDERS) settledHere.delete(settledHere.keys().next().value as string);
      wake(m.subject);
    },

    /** Nak'd here: pending at the server until redelivered, still before its order's later events. */
    nakked(m: JsMsg): void {
      const { v, mine } = release(m);
      if (mine && v.expect !== null) v.nakked.add(m.seq);
      else untrack(m.subject, m.seq, v);
      wake(m.subject);
    },

    /** Left unstarted (the host stops): it comes back after the ack wait, here or elsewhere. */
    left(m: JsMsg): void {
      const { v, mine } = release(m);
      untrack(m.subject, m.seq, v);
      if (mine) lose(v);
      wake(m.subject);
    },

    /** Waiting events stop waiting (left for redelivery); call before stopping the consumers. */
    stop(): void {
      stopping = true;
      for (const subject of [...waiting.keys()]) wake(subject);
    },
  };
}

export type OrderTurns = ReturnType<typeof createOrderTurns>;
