import { nanos } from '@nats-io/nats-core';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstreamManager,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { COMMAND_SERVICES, type Names } from '../../services/contracts/index.ts';
import { ConfigError } from '../config.ts';
import type { Logger } from '../logger.ts';

/**
 * Order events in flight at once per partition, across all host instances (the partition consumers'
 * max_ack_pending); each order's own events still one after the other, in publish order
 * (`services/orders/order-turns.ts`). Not a setting: every process must declare the same, or each
 * start would change the consumers back and forth. With 1, a payment waited behind its partition's
 * earlier events' commits (README, "Eighteenth round").
 */
export const ORDER_PARTITION_WINDOW = 8;

export interface TopologyOptions {
  ackWaitMs: number;
  duplicateWindowMs: number;
  /** Server-side redelivery cap; consumers dead-letter by themselves before this (see maxDeliver). */
  maxDeliver: number;
  /** Replicas of every stream (and so of its consumers) on a NATS cluster; default 1. */
  replicas?: number;
}

type StreamSpec = Pick<StreamConfig, 'name' | 'subjects' | 'retention' | 'max_age' | 'duplicate_window'> & { allow_direct?: boolean };
type ConsumerSpec = { stream: string } & Pick<
  ConsumerConfig,
  'durable_name' | 'filter_subject' | 'ack_wait' | 'max_deliver' | 'max_ack_pending' | 'ack_policy' | 'deliver_policy'
>;

/**
 * Every stream and durable consumer orderpilot uses, as data. Works on nats-server 2.9: one filter
 * subject per consumer, work-queue streams with disjoint consumer filters, no per-message TTL.
 *
 * - order events: one work-queue stream, a subject per order; one consumer per partition with
 *   ORDER_PARTITION_WINDOW messages in flight across all host instances, each order's events applied
 *   one after the other in publish order (`services/orders/order-turns.ts`; its direct gets need
 *   `allow_direct`).
 * - commands: one work-queue stream and one shared consumer per service (order does not matter,
 *   every handler is idempotent; many messages in flight).
 * - events: a limits stream for fan-out facts (console live updates); readers use ordered consumers.
 */
export function topology(names: Names, opts: TopologyOptions): { streams: StreamSpec[]; consumers: ConsumerSpec[] } {
  const dup = nanos(opts.duplicateWindowMs);
  const ackWait = nanos(opts.ackWaitMs);
  // The server cap sits above the consumers' own limit so the consumer always sees the last delivery.
  const serverMaxDeliver = opts.maxDeliver + 2;
  const streams: StreamSpec[] = [
    {
      name: names.streams.orderEvents,
      subjects: [names.subjects.orderEventsAll],
      retention: RetentionPolicy.Workqueue,
      max_age: 0,
      duplicate_window: dup,
      allow_direct: true,
    },
    {
      name: names.streams.shopUpdates,
      subjects: [names.subjects.shopUpdatesAll],
      retention: RetentionPolicy.Workqueue,
      max_age: 0,
      duplicate_window: dup,
    },
    ...COMMAND_SERVICES.map((s) => ({
      name: names.streams.command(s),
      subjects: [names.subjects.commandsOf(s)],
      retention: RetentionPolicy.Workqueue,
      max_age: 0,
      duplicate_window: dup,
    })),
    {
      name: names.streams.events,
      subjects: [names.subjects.eventsAll],
      retention: RetentionPolicy.Limits,
      max_age: nanos(24 * 3600_000),
      duplicate_window: dup,
    },
  ];
  const consumers: ConsumerSpec[] = [
    ...Array.from({ length: names.partitions }, (_, p) => ({
      stream: names.streams.orderEvents,
      durable_name: names.consumers.orderPartition(p),
      filter_subject: names.subjects.orderPartition(p),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ackWait,
      max_deliver: serverMaxDeliver,
      max_ack_pending: ORDER_PARTITION_WINDOW,
    })),
    // Shop updates: like order events, one message in flight per partition (per-order order kept,
    // a shop that is down holds back only its partition's later updates, which must wait anyway).
    ...Array.from({ length: names.partitions }, (_, p) => ({
      stream: names.streams.shopUpdates,
      durable_name: names.consumers.shopPartition(p),
      filter_subject: names.subjects.shopPartition(p),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ackWait,
      max_deliver: serverMaxDeliver,
      max_ack_pending: 1,
    })),
    ...COMMAND_SERVICES.map((s) => ({
      stream: names.streams.command(s),
      durable_name: names.consumers.command(s),
      filter_subject: names.subjects.commandsOf(s),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ackWait,
      max_deliver: serverMaxDeliver,
      max_ack_pending: 1000,
    })),
  ];
  return { streams, consumers };
}

function isNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === 10059 || err.code === 10014);
}

/** Creates or updates every stream and consumer. Idempotent; safe from several processes at once. */
export async function ensureTopology(nc: NatsConnection, names: Names, opts: TopologyOptions, logger?: Logger): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const { streams, consumers } = topology(names, opts);
  for (const s of streams) {
    const cfg = { ...s, storage: StorageType.File, discard: DiscardPolicy.Old, num_replicas: opts.replicas ?? 1 };
    try {
      await jsm.streams.info(s.name);
      await jsm.streams.update(s.name, { subjects: cfg.subjects, max_age: cfg.max_age, duplicate_window: cfg.duplicate_window, ...(s.allow_direct ? { allow_direct: true } : {}) });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await jsm.streams.add(cfg);
        logger?.info({ stream: s.name }, 'stream created');
      } catch (addErr) {
        // Another process created it between our info and add.
        await jsm.streams.info(s.name).catch(() => {
          throw addErr;
        });
      }
    }
  }
  await refuseRepartitionWhileBusy(jsm, names.streams.orderEvents, (p) => names.consumers.orderPartition(p), names.partitions);
  await refuseRepartitionWhileBusy(jsm, names.streams.shopUpdates, (p) => names.consumers.shopPartition(p), names.partitions);
  for (const { stream, ...c } of consumers) {
    const name = c.durable_name as string;
    try {
      const have = (await jsm.consumers.info(stream, name)).config;
      // Only a real change is proposed: on a cluster an update is a new consumer assignment, and a
      // process restarting on every SIGKILL would propose one each time.
      if (have.ack_wait !== c.ack_wait || have.max_deliver !== c.max_deliver || have.max_ack_pending !== c.max_ack_pending) {
        await jsm.consumers.update(stream, name, {
          ack_wait: c.ack_wait,
          max_deliver: c.max_deliver,
          max_ack_pending: c.max_ack_pending,
        });
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
      if (await addConsumerOnce(jsm, stream, c as ConsumerConfig)) logger?.info({ stream, consumer: name }, 'consumer created');
    }
  }
}

/**
 * Deletes the durable consumer `durable` and adds it again with its topology config, so it starts
 * over at the first message its filter matches. For a consumer whose state no longer matches its
 * stream (nats-server 2.9 on a cluster, after a node was killed: it reports nothing pending while
 * its filter holds messages, and passes over every copy put back): on a work queue the stream holds
 * only what is not acked yet, so starting over delivers exactly that — a message in flight again too,
 * which the handlers drop as a duplicate. Clients consuming it resume on their own once their pull
 * heartbeats are missed (about 15 s: the consumer runner's pulls expire after 10 s).
 */
export async function recreateConsumer(nc: NatsConnection, names: Names, opts: TopologyOptions, durable: string): Promise<void> {
  const { stream } = consumerSpec(names, opts, durable);
  await (await jetstreamManager(nc)).consumers.delete(stream, durable).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
  // Should this add fail, the consumer is missing: the work-queue sweeper adds it (restoreConsumer).
  await restoreConsumer(nc, names, opts, durable);
}

function consumerSpec(names: Names, opts: TopologyOptions, durable: string) {
  const spec = topology(names, opts).consumers.find((c) => c.durable_name === durable);
  if (spec === undefined) throw new Error(`no consumer ${durable} in the topology`);
  return spec;
}

/** Adds the durable consumer `durable` with its topology config when it is missing (nothing when it is there). */
export async function restoreConsumer(nc: NatsConnection, names: Names, opts: TopologyOptions, durable: string): Promise<void> {
  const { stream, ...c } = consumerSpec(names, opts, durable);
  await addConsumerOnce(await jetstreamManager(nc), stream, c as ConsumerConfig);
}

/**
 * Adds a durable consumer; true when this call added it, false when another process did meanwhile
 * (its add failed, but the consumer is there: the same topology config).
 */
async function addConsumerOnce(jsm: JetStreamManager, stream: string, c: ConsumerConfig): Promise<boolean> {
  try {
    await jsm.consumers.add(stream, c);
    return true;
  } catch (addErr) {
    await jsm.consumers.info(stream, c.durable_name as string).catch(() => {
      throw addErr;
    });
    return false;
  }
}

/**
 * An order's partition is its id hashed modulo ORDER_PARTITIONS: with another count, its next
 * event goes to another partition than the ones still waiting, and the two could be applied out of
 * order. So the count may change only while the stream is empty (nothing waiting or in flight).
 */
async function refuseRepartitionWhileBusy(jsm: JetStreamManager, stream: string, consumerName: (p: number) => string, partitions: number): Promise<void> {
  const exists = async (p: number) =>
    jsm.consumers.info(stream, consumerName(p)).then(
      () => true,
      (err: unknown) => {
        if (isNotFound(err)) return false;
        throw err;
      },
    );
  // Consumers are made for partitions 0…n-1: a count that differs shows at one end or the other.
  const sameCount = (await exists(partitions - 1)) && !(await exists(partitions));
  if (sameCount || !(await exists(0))) return;
  const { state } = await jsm.streams.info(stream);
  if (state.messages === 0) return;
  throw new ConfigError('ORDER_PARTITIONS', `is ${partitions}, but ${stream} was partitioned otherwise and still holds ${state.messages} message(s); start with the previous count until it is empty, then change it`);
}

/** Deletes every stream of a prefix (tests clean up after themselves with this). */
export async function deleteTopology(nc: NatsConnection, names: Names): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const s of topology(names, { ackWaitMs: 1000, duplicateWindowMs: 1000, maxDeliver: 1 }).streams) {
    await jsm.streams.delete(s.name).catch(() => false);
  }
}

/** One durable consumer's backlog: messages not yet delivered, and delivered but not acked. */
export interface ConsumerBacklog {
  stream: string;
  consumer: string;
  pending: number;
  ackPending: number;
  redelivered: number;
}

/** The backlog of every consumer the topology declares (a missing one is left out). */
export async function consumerBacklog(nc: NatsConnection, names: Names): Promise<ConsumerBacklog[]> {
  const jsm = await jetstreamManager(nc);
  const { consumers } = topology(names, { ackWaitMs: 1000, duplicateWindowMs: 1000, maxDeliver: 1 });
  const infos = await Promise.all(
    consumers.map(async (c) => {
      try {
        const info = await jsm.consumers.info(c.stream, c.durable_name as string);
        return { stream: c.stream, consumer: info.name, pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    }),
  );
  return infos.filter((i): i is ConsumerBacklog => i !== null);
}
