import type { StateValue } from 'xstate';
import { ORDER_MACHINE_VERSION, type OrderSnapshot } from '../../machines/order/index.ts';
import { OrderpilotError, type Envelope, type Names } from '../contracts/index.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import type { Logger } from '../../infra/logger.ts';
import { createGroupCommitter } from './group-commit.ts';
import { decideOrderEvent, parseOrderEvent, type Decision, type OrderEventInput, type Outcome } from './order-decision.ts';
import { createSnapshotCache } from './snapshot-cache.ts';
import { loadForEvent, type LoadResult } from './order-store.ts';

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
  /** Shops with a connector (SHOPS): their orders' changes are also sent to the shops service. */
  shopConnectors?: ReadonlySet<string>;
  /** Inbox key: the consumer name recorded in processed_messages. */
  consumer?: string;
  /** Called after each commit (inspector, metrics, live updates). Must not throw. */
  onTransition?: (r: TransitionReport) => void;
  now?: () => Date;
  /** Orders whose snapshot the host keeps in memory (least recently used go first); default 10,000. */
  cachedOrders?: number;
  /** Most events in one group-commit statement; default 64. */
  maxBatch?: number;
  /** Called after a commit that queued outbox rows: wakes the relay (which also polls). Must not throw. */
  onOutboxWritten?: () => void;
}

/**
 * A failed write condition is retried at once with a fresh read: one try may come from memory,
 * three more from the database (a lost race with another instance, as before the memory).
 */
const MAX_ATTEMPTS = 4;

/**
 * The order actor host, like XState's "serverless workflow" example. For each event:
 *
 * 1. **load** the order: the snapshot this host kept from its last write of it (snapshot-cache.ts),
 *    else the row and whether the message id is already in the inbox (a new order needs no read);
 * 2. **decide** with the pure `decideOrderEvent` (order-decision.ts): duplicate, created, applied
 *    or ignored, with its history row and effects (outbox commands, timers);
 * 3. **write** the decision — snapshot + history + outbox/timers + inbox row, conditional on the
 *    row version loaded and on the message not being in the inbox — through the group committer
 *    (group-commit.ts), which writes the events waiting on every partition in ONE statement;
 * 4. **report** the committed transition (inspector, live hints).
 *
 * A write whose condition fails (a stale memory, another instance got there first, a redelivery
 * of an event already applied) runs steps 1–3 again from a fresh read. The caller acks only after
 * `handle` resolves, i.e. after the commit. No provider is ever called here; the outbox carries
 * the commands.
 */
/**
 * Events a shopper or a payment provider waits on — the gateway's front work (`frontSeen()` in
 * infra/runtime/bulk-gate.ts): with a statement slot free their write goes out without waiting for
 * the event loop's turn (group-commit.ts).
 */
const FRONT_EVENTS: ReadonlySet<string> = new Set(['ORDER_PLACED', 'PAYMENT_CONFIRMED', 'PAYMENT_FAILED']);

export function createOrderHost(deps: OrderHostDeps) {
  const consumer = deps.consumer ?? 'orders';
  const now = deps.now ?? (() => new Date());
  const log = deps.logger.child({ service: 'orders' });
  const cache = createSnapshotCache(deps.cachedOrders ?? 10_000);
  const committer = createGroupCommitter(deps.sql, {
    maxBatch: deps.maxBatch ?? 64,
    maxInFlight: 2,
    isFront: (w) => FRONT_EVENTS.has(w.history.type),
    ...(deps.onOutboxWritten ? { onOutboxWritten: deps.onOutboxWritten } : {}),
  });

  async function load(e: OrderEventInput, fresh: boolean): Promise<LoadResult> {
    if (!fresh) {
      // Not in the inbox as far as memory knows: the write's conditions check both.
      const order = cache.get(e.orderId);
      if (order) return { processed: false, order };
      if (e.type === 'ORDER_PLACED') return { processed: false, order: null };
    }
    return loadForEvent(deps.sql, consumer, e.env.id, e.orderId);
  }

  async function attempt(e: OrderEventInput, fresh: boolean): Promise<TransitionReport | null> {
    const loaded = await load(e, fresh);
    const decision = decideOrderEvent(e, loaded, { names: deps.names, now: now(), paymentTimeoutMs: deps.paymentTimeoutMs, shopConnectors: deps.shopConnectors ?? new Set() });
    if (decision.outcome === 'duplicate') return toReport(e, decision);
    let written: boolean;
    try {
      written = await committer.write({ consumer, orderId: e.orderId, history: decision.history, effects: decision.effects, row: decision.row });
    } catch (err) {
      cache.delete(e.orderId);
      throw err;
    }
    if (!written) {
      cache.delete(e.orderId);
      return null;
    }
    remember(e.orderId, decision, loaded);
    return toReport(e, decision);
  }

  /** Keeps the order as just written (its new version), so its next event needs no read. */
  function remember(orderId: string, d: Extract<Decision, { row: unknown }>, loaded: LoadResult): void {
    const live = d.snapshot ?? loaded.order?.live;
    if (!live) {
      cache.delete(orderId);
      return;
    }
    const version = d.row.kind === 'create' ? 1 : d.row.expectedVersion + 1;
    cache.set(orderId, { snapshot: { value: live.value, context: live.context }, machine_version: ORDER_MACHINE_VERSION, version, live });
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
