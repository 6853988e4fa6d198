import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, JetStreamApiError, type ClusterInfo, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeEnvelope } from '../../services/contracts/index.ts';
import type { Sql } from '../db/postgres.ts';
import type { Logger } from '../logger.ts';
import { startPeriodic, withTryLock } from '../runtime/periodic.ts';

/** A durable consumer of a work-queue stream and the one subject filter it reads. */
export interface SweepTarget {
  stream: string;
  consumer: string;
  filter: string;
}

/** Why a message left in a work queue is taken to be one its consumer will never deliver. */
export type SweepReason =
  /** At or below the consumer's ack floor: the consumer counts it acked, the stream still holds it. */
  | 'below-ack-floor'
  /** Delivered past it with nothing un-acked: not in flight, not waiting for a redelivery. */
  | 'passed-over'
  /** The consumer reports nothing pending and nothing un-acked while its filter holds this message. */
  | 'not-counted';

export interface SweptMessage {
  stream: string;
  consumer: string;
  subject: string;
  /** The sequence the message had; it is deleted there once its copy is stored. */
  seq: number;
  /** Where its copy went. */
  newSeq: number;
  reason: SweepReason;
  /** How often this message has been put back (1 the first time). */
  sweeps: number;
  /** What the message carries, when it is one of our envelopes. */
  envelope: { id: string; type: string; orderId: string | null } | null;
}

function envelopeOf(data: Uint8Array): SweptMessage['envelope'] {
  try {
    const e = decodeEnvelope(data);
    return { id: e.id, type: e.type, orderId: e.orderId };
  } catch {
    return null;
  }
}

/** A clustered stream's or consumer's leader and replicas, in one line of a log. */
function placement(c: ClusterInfo | undefined): string | null {
  if (c === undefined) return null;
  const replicas = (c.replicas ?? []).map((r) => `${r.name}${r.current ? '' : ' behind'}${r.offline ? ' offline' : ''} lag ${r.lag ?? 0} seen ${(r.active / 1e6).toFixed(0)} ms ago`);
  return `leader ${c.leader ?? 'none'}; ${replicas.join('; ') || 'no replicas'}`;
}

/** JetStream's "consumer not found" (error code 10014). */
function isConsumerNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === 10014;
}

export interface WorkQueueSweeperOptions {
  nc: NatsConnection;
  /** Sweeps of several processes take turns through a Postgres advisory lock. */
  sql: Sql;
  logger: Logger;
  targets: SweepTarget[];
  /** Pause between sweeps; a message is put back when two sweeps in a row find it passed over. */
  intervalMs: number;
  /** Most messages put back per sweep (default 500). */
  maxPerSweep?: number;
  /** A message put back this often and passed over again is left where it is and reported (default 3). */
  maxSweepsPerMessage?: number;
  /** Told about what one sweep put back (or gave up on), after the fact. */
  onSwept?: (swept: SweptMessage[], givenUp: SweptMessage[]) => Promise<void> | void;
  /**
   * Starts a consumer over (delete, add again) when it passed over a message put back too often:
   * its state no longer matches the stream, so it would pass over whatever comes next as well.
   */
  recreateConsumer?: (t: SweepTarget) => Promise<void>;
  /** Adds a target consumer found missing from its stream (with its topology config). */
  restoreConsumer?: (t: SweepTarget) => Promise<void>;
}

export interface WorkQueueSweeper {
  /** One sweep now (also what the timer runs); resolves with what it put back. */
  sweep(): Promise<SweptMessage[]>;
  stop(): Promise<void>;
}

/** Counts how often the sweeper put a message back; carried by the copy. */
export const SWEPT_HEADER = 'Orderpilot-Swept';
const SWEEP_LOCK = 0x6f70_7377; // 'opsw'

/**
 * A message a consumer of this work queue will never deliver, judged from the consumer's own state
 * (`$JS.API.CONSUMER.INFO`). A work queue deletes a message once it is acked, so anything at or below
 * the ack floor that is still stored was passed over (or its removal was lost); and a message below
 * the delivered sequence while nothing is un-acked is neither in flight nor waiting for a redelivery.
 */
export function sweepReason(seq: number, c: { delivered: { stream_seq: number }; ack_floor: { stream_seq: number }; num_pending: number; num_ack_pending: number }): SweepReason | null {
  if (seq <= c.ack_floor.stream_seq) return 'below-ack-floor';
  if (c.num_ack_pending === 0 && seq <= c.delivered.stream_seq) return 'passed-over';
  if (c.num_ack_pending === 0 && c.num_pending === 0) return 'not-counted';
  return null;
}

/**
 * The work-queue sweeper: redelivers what a work queue still holds that its consumer will never
 * deliver. nats-server 2.9 can leave such messages behind when a node of a cluster is killed (a
 * filtered pull consumer of an R3 work-queue stream moves past messages it never delivered; see the
 * README, "Scaling out"), and JetStream itself stops delivering a message after the consumer's
 * max_deliver when not even a dead letter could be recorded for it.
 *
 * Every sweep looks, per consumer, at the oldest messages its filter matches (`STREAM.MSG.GET` with
 * `next_by_subj`) and asks `sweepReason` of each. A message below the consumer's ack floor is put back
 * at once; one judged passed over otherwise only by two sweeps in a row — so a message caught between
 * delivery and removal is never touched. Putting back is
 * publishing a copy (same subject, headers and bytes, a new `Nats-Msg-Id`, `Orderpilot-Swept`
 * counting) and then deleting the original. Consumers de-duplicate by envelope id (the order host's
 * inbox) or are idempotent (command handlers), so a copy of something already done changes nothing.
 * A copy lands at the end of its partition, behind later messages of the same order: what a skipped
 * message would have let through first and failed for want of it is replayed by the caller (onSwept).
 */
export function startWorkQueueSweeper(o: WorkQueueSweeperOptions): WorkQueueSweeper {
  const log = o.logger.child({ component: 'work-queue-sweeper' });
  const js = jetstream(o.nc);
  const maxPerSweep = o.maxPerSweep ?? 500;
  const maxSweeps = o.maxSweepsPerMessage ?? 3;
  let jsm: JetStreamManager | null = null;
  /** Messages found passed over by the previous sweep: `stream:seq`. */
  let suspects = new Set<string>();
  /** Messages whose consumer's leader this process asked to step down (once each, while passed over). */
  const steppedDownFor = new Set<string>();
  /** Given up on (put back too often): reported once while it stays passed over. */
  const givenUpOn = new Set<string>();

  async function putBack(m: StoredMsg, t: SweepTarget, reason: SweepReason, sweeps: number): Promise<SweptMessage> {
    const h = natsHeaders();
    for (const k of m.header?.keys() ?? []) {
      if (k === 'Nats-Msg-Id' || k.startsWith('Nats-Expected') || k === SWEPT_HEADER) continue;
      for (const v of m.header?.values(k) ?? []) h.append(k, v);
    }
    h.set(SWEPT_HEADER, String(sweeps));
    const msgID = `${m.header?.get('Nats-Msg-Id') || `${t.stream}-${m.seq}`}:swept:${m.seq}`;
    const ack = await js.publish(m.subject, m.data, { headers: h, msgID });
    // Deleted only once its copy is stored: a crash in between leaves two, and the copy is a duplicate.
    await (jsm as JetStreamManager).streams.deleteMessage(t.stream, m.seq, false).catch((err: unknown) => {
      log.warn({ stream: t.stream, seq: m.seq, err: err instanceof Error ? err.message : String(err) }, 'swept message copied but not deleted (its copy is a duplicate consumers drop)');
    });
    return { stream: t.stream, consumer: t.consumer, subject: m.subject, seq: m.seq, newSeq: ack.seq, reason, sweeps, envelope: envelopeOf(m.data) };
  }

  /**
   * A target consumer that is gone from its stream (a start-over whose delete went through and whose
   * add did not — on a cluster in the middle of an election the add can time out) delivers nothing,
   * for good: it is added again, and the other targets are swept as usual.
   */
  async function restoreMissing(t: SweepTarget): Promise<void> {
    const add = o.restoreConsumer;
    if (add === undefined) {
      log.error({ stream: t.stream, consumer: t.consumer }, 'consumer missing from its stream; nothing it filters is delivered until it is added again');
      return;
    }
    await add(t).then(
      () => log.error({ stream: t.stream, consumer: t.consumer }, 'consumer was missing from its stream; added again from the topology'),
      (err: unknown) => log.error({ stream: t.stream, consumer: t.consumer, err: err instanceof Error ? err.message : String(err) }, 'consumer missing from its stream and could not be added again; next sweep tries again'),
    );
  }

  /** Adds again every target consumer of `stream` that its listing of consumers does not name. */
  async function restoreMissingOf(stream: string, targets: readonly SweepTarget[]): Promise<void> {
    const present = new Set<string>();
    for await (const c of (jsm as JetStreamManager).consumers.list(stream)) present.add(c.name);
    for (const t of targets) if (!present.has(t.consumer) && !periodic.stopping) await restoreMissing(t);
  }

  /** Asks the consumer's leader to step down (`$JS.API.CONSUMER.LEADER.STEPDOWN`): another replica leads it, its state kept. */
  async function stepDown(t: SweepTarget, leader: string | null): Promise<void> {
    try {
      const reply = await o.nc.request(`$JS.API.CONSUMER.LEADER.STEPDOWN.${t.stream}.${t.consumer}`, undefined, { timeout: 5000 });
      const answer = reply.json<{ success?: boolean; error?: { description?: string } }>();
      if (answer.success !== true) throw new Error(answer.error?.description ?? 'no success in the answer');
      log.warn({ stream: t.stream, consumer: t.consumer, leader }, 'consumer passed over a copy put back for it: its leader stepped down, another node leads it');
    } catch (err) {
      log.warn({ stream: t.stream, consumer: t.consumer, leader, err: err instanceof Error ? err.message : String(err) }, 'consumer passed over a copy put back for it; its leader could not be made to step down');
    }
  }

  async function sweepAsLeader(): Promise<{ swept: SweptMessage[]; givenUp: SweptMessage[] }> {
    jsm ??= await jetstreamManager(o.nc);
    const seen = new Set<string>();
    const steppedDown = new Set<string>();
    const swept: SweptMessage[] = [];
    const givenUp: SweptMessage[] = [];
    const byStream = new Map<string, SweepTarget[]>();
    for (const t of o.targets) byStream.set(t.stream, [...(byStream.get(t.stream) ?? []), t]);
    for (const [stream, targets] of byStream) {
      const { state, cluster: streamCluster } = await jsm.streams.info(stream);
      if (state.messages === 0) {
        // Nothing to sweep, but a consumer missing from an empty stream would deliver nothing of what
        // comes next: one listing of the stream's consumers (not an info per target) says which are there.
        await restoreMissingOf(stream, targets);
        continue;
      }
      for (const t of targets) {
        if (swept.length >= maxPerSweep || periodic.stopping) break;
        // The consumer's state first, then the messages: a message delivered in between is above it.
        const info = await jsm.consumers.info(stream, t.consumer).catch(async (err: unknown) => {
          if (!isConsumerNotFound(err)) throw err;
          await restoreMissing(t);
          return null;
        });
        if (info === null) continue;
        const before = swept.length + givenUp.length;
        let from = state.first_seq;
        while (swept.length < maxPerSweep && !periodic.stopping) {
          // `next_by_subj` (nats-server ≥ 2.9): the first stored message at or after `seq` on the filter.
          const m = await jsm.streams.getMessage(stream, { seq: from, next_by_subj: t.filter } as unknown as { seq: number });
          if (!m) break;
          const reason = sweepReason(m.seq, info);
          // Messages come in sequence order and every reason holds for all below a sequence: done.
          if (!reason) break;
          from = m.seq + 1;
          const key = `${stream}:${m.seq}`;
          seen.add(key);
          // Below the ack floor is the consumer's own word that it is done with the message: put back
          // at once (a copy of one it did finish is a duplicate its handler drops), since nats-server
          // may delete what lies below an ack floor when a node restarts. The other reasons wait for
          // a second sweep to agree.
          if (reason !== 'below-ack-floor' && !suspects.has(key)) continue;
          const sweeps = Number(m.header?.get(SWEPT_HEADER) || '0') + 1;
          // A copy passed over as well: on a cluster, the node leading the consumer may hold a replica
          // of the stream that stopped taking messages while it reports itself current (seen on
          // nats-server 2.9 after a node's restart: every consumer it led stuck at one sequence, a
          // consumer started over there too). Another node takes the lead, once per consumer and
          // sweep and once per message and process, given up or not: once a leader counts the
          // message, no sweep judges it again; one no leader counts stops moving the lead around.
          if (sweeps >= 2 && (info.cluster?.replicas?.length ?? 0) > 0 && !steppedDown.has(t.consumer) && !steppedDownFor.has(key)) {
            steppedDown.add(t.consumer);
            steppedDownFor.add(key);
            await stepDown(t, info.cluster?.leader ?? null);
          }
          if (sweeps > maxSweeps) {
            // Its consumer was started over after this copy was stored — by this process or by another
            // sweeper's (each keeps its own memory): that is all a give-up does; not again, not reported again.
            if (Date.parse(info.created) > m.time.getTime()) continue;
            if (!givenUpOn.has(key)) {
              givenUpOn.add(key);
              givenUp.push({ stream, consumer: t.consumer, subject: m.subject, seq: m.seq, newSeq: m.seq, reason, sweeps: sweeps - 1, envelope: envelopeOf(m.data) });
            }
            continue;
          }
          swept.push(await putBack(m, t, reason, sweeps));
        }
        // Where the consumer and its stream live when it passes messages over: on a cluster, which node
        // leads each and how far each replica lags (the question behind "Scaling out" in the README).
        if (swept.length + givenUp.length > before) {
          log.warn(
            { stream, consumer: t.consumer, delivered: info.delivered.stream_seq, ackFloor: info.ack_floor.stream_seq, numPending: info.num_pending, numAckPending: info.num_ack_pending, consumerCluster: placement(info.cluster), streamCluster: placement(streamCluster) },
            'consumer state while it passed messages over',
          );
        }
      }
    }
    suspects = seen;
    // What a complete sweep no longer judges is gone from the queue (or counted again): forgotten, so
    // these sets hold only messages still passed over. A sweep cut short (its limit, a stop) keeps them.
    if (swept.length < maxPerSweep && !periodic.stopping) {
      for (const set of [steppedDownFor, givenUpOn]) for (const key of set) if (!seen.has(key)) set.delete(key);
    }
    return { swept, givenUp };
  }

  async function sweepOnce(): Promise<SweptMessage[]> {
    // One sweeper at a time across processes; the others find the lock taken and skip this round.
    const result = await withTryLock(o.sql, SWEEP_LOCK, () => sweepAsLeader());
    if (!result) return [];
    const { swept, givenUp } = result;
    for (const s of swept) log.warn(s, 'work-queue message its consumer passed over put back on the queue');
    for (const g of givenUp) log.error(g, 'work-queue message passed over again after being put back too often; not put back again');
    // A consumer that passes over even the copies is started over, once per message given up: the
    // new one delivers what its filter still holds, the message given up included.
    const recreate = o.recreateConsumer;
    for (const t of o.targets.filter((x) => givenUp.some((g) => g.stream === x.stream && g.consumer === x.consumer))) {
      if (recreate === undefined) break;
      await recreate(t).then(
        () => log.warn({ stream: t.stream, consumer: t.consumer }, 'consumer started over: it passed over messages put back for it'),
        (err: unknown) => log.error({ stream: t.stream, consumer: t.consumer, err: err instanceof Error ? err.message : String(err) }, 'could not start the consumer over'),
      );
    }
    if (swept.length > 0 || givenUp.length > 0) await o.onSwept?.(swept, givenUp);
    return swept;
  }

  const periodic = startPeriodic({
    everyMs: o.intervalMs,
    task: sweepOnce,
    logger: log,
    what: 'work-queue sweep',
  });

  return {
    sweep: periodic.run,
    stop: periodic.stop,
  };
}
