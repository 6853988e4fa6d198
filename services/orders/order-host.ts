import type { StateValue } from 'xstate';
import type { OrderSnapshot } from '../../machines/order/index.ts';
import { OrderpilotError, type Envelope, type Names } from '../contracts/index.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import type { Logger } from '../../infra/logger.ts';
import { ORDER_MACHINE_VERSION } from '../../machines/order/index.ts';
import { createGroupCommitter } from './group-commit.ts';
import { decideOrderEvent, parseOrderEvent, type Decision, type OrderEventInput, type Outcome } from './order-decision.ts';
import { loadForEvent, type LoadResult, type StoredOrder } from './order-store.ts';

export type { Outcome } from './order-decision.ts';

export interface TransitionReport {
  orderId: string;
  event: Envelope;
  outcome: Outcome;
  from: StateValue | null;
  to: StateValue | null;
  snapshot: OrderSnapshot | null;
}

export interface OrderHostDeps {
  sql: Sql;
  names: Names;
  logger: Logger;
  paymentTimeoutMs: number;
  /** Inbox key: the consumer name recorded in processed_messages. */
  consumer?: string;
  /** Called after each commit (inspector, metrics, live updates). Must not throw. */
  onTransition?: (r: TransitionReport) => void;
  now?: () => Date;
  /** Orders whose snapshot the host keeps in memory (least recently used go first). Default 10,000. */
  cachedOrders?: number;
}

/** A failed write condition is retried at once with a fresh read: one try from memory, three from the database. */
const MAX_ATTEMPTS = 4;

/**
 * The snapshots of the orders this host applied events to, so the next event needs no read. Only
 * a hint: every write is conditional on the row version and on the message not being in the inbox,
 * so a stale entry (another instance wrote since) writes nothing, is dropped, and the order re-read.
 */
function createSnapshotCache(max: number) {
  const entries = new Map<string, StoredOrder>();
  return {
    get(orderId: string): StoredOrder | undefined {
      const hit = entries.get(orderId);
      if (hit) {
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
  };
}

/**
 * The order actor host, like XState's "serverless workflow" example. For each event:
 *
 * 1. **load** the order: the snapshot kept in memory from this host's last write to it, else the
 *    row and whether the message id is already in the inbox (a new order needs no read);
 * 2. **decide** with the pure `decideOrderEvent` (order-decision.ts): duplicate, created, applied
 *    or ignored, with its history row and effects (outbox commands, timers);
 * 3. **write** the decision once — snapshot + history + outbox/timers + inbox row, conditional on
 *    the row version loaded and on the message not being in the inbox — through the group
 *    committer, which puts the events waiting on every partition into one statement (one commit);
 * 4. **report** the committed transition (inspector, live hints).
 *
 * A write whose condition fails (a stale memory, another instance got there first, a redelivery
 * of an event already applied) runs steps 1–3 again from a fresh read. The caller acks only after
 * `handle` resolves. No provider is ever called here; the outbox carries the commands.
 */
export function createOrderHost(deps: OrderHostDeps) {
  const consumer = deps.consumer ?? 'orders';
  const now = deps.now ?? (() => new Date());
  const log = deps.logger.child({ service: 'orders' });
  const cache = createSnapshotCache(deps.cachedOrders ?? 10_000);
  const committer = createGroupCommitter(deps.sql, consumer);

  async function load(e: OrderEventInput, fresh: boolean): Promise<LoadResult> {
    if (!fresh) {
      const order = cache.get(e.orderId);
      // Not yet in the inbox, as far as memory knows: the write's conditions check both.
      if (order) return { processed: false, order };
      if (e.type === 'ORDER_PLACED') return { processed: false, order: null };
    }
    return loadForEvent(deps.sql, consumer, e.env.id, e.orderId);
  }

  async function attempt(e: OrderEventInput, fresh: boolean): Promise<TransitionReport | null> {
    const loaded = await load(e, fresh);
    const decision = decideOrderEvent(e, loaded, { names: deps.names, now: now(), paymentTimeoutMs: deps.paymentTimeoutMs });
    if (decision.outcome === 'duplicate') return toReport(e, decision);
    const written = await committer.write({ consumer, orderId: e.orderId, history: decision.history, effects: decision.effects, row: decision.row });
    if (!written) {
      cache.delete(e.orderId);
      return null;
    }
    const version = decision.row.kind === 'create' ? 1 : decision.row.expectedVersion + 1;
    const live = decision.snapshot ?? loaded.order?.live;
    if (live) cache.set(e.orderId, { snapshot: { value: live.value, context: live.context }, machine_version: ORDER_MACHINE_VERSION, version, live });
    else cache.delete(e.orderId);
    return toReport(e, decision);
  }

  function report(r: TransitionReport): void {
    if (r.outcome === 'duplicate') return;
    log.debug({ orderId: r.orderId, type: r.event.type, outcome: r.outcome, to: r.to }, 'order event');
    try {
      deps.onTransition?.(r);
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'onTransition hook failed');
    }
  }

  /** Applies one envelope. Throws OrderpilotError (permanent) for bad input; DB errors propagate. */
  async function handle(env: Envelope, source: string): Promise<TransitionReport> {
    const e = parseOrderEvent(env, source);
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const r = await attempt(e, i > 0);
      if (r) {
        report(r);
        return r;
      }
    }
    throw new OrderpilotError('DB_CONFLICT', `order ${e.orderId} kept changing concurrently`);
  }

  return { handle };
}

function toReport(e: OrderEventInput, d: Decision): TransitionReport {
  if (d.outcome === 'duplicate') return { orderId: e.orderId, event: e.env, outcome: 'duplicate', from: null, to: null, snapshot: null };
  return { orderId: e.orderId, event: e.env, outcome: d.outcome, from: d.from, to: d.to, snapshot: d.snapshot };
}

export type OrderHost = ReturnType<typeof createOrderHost>;
