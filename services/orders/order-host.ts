import type { StateValue } from 'xstate';
import type { OrderSnapshot } from '../../machines/order/index.ts';
import { OrderpilotError, type Envelope, type Names } from '../contracts/index.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import type { Logger } from '../../infra/logger.ts';
import { decideOrderEvent, parseOrderEvent, type Decision, type OrderEventInput, type Outcome } from './order-decision.ts';
import { loadForEvent, writeOrderEvent } from './order-store.ts';

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
}

/** A lost optimistic-concurrency race is retried at once with a fresh read, this many times in all. */
const MAX_ATTEMPTS = 3;

/**
 * The order actor host, like XState's "serverless workflow" example. For each event:
 *
 * 1. **load** the order row and whether the message id is already in the inbox;
 * 2. **decide** with the pure `decideOrderEvent` (order-decision.ts): duplicate, created, applied
 *    or ignored, with its history row and effects (outbox commands, timers);
 * 3. **write** the decision in ONE statement — snapshot + history + outbox/timers + inbox row,
 *    conditional on the row version loaded (order-store.ts);
 * 4. **report** the committed transition (inspector, live hints).
 *
 * A write that finds the version moved (another instance got there first; usually a duplicate
 * delivery it has just committed) runs steps 1–3 again. The caller acks only after `handle`
 * resolves. No provider is ever called here; the outbox carries the commands.
 */
export function createOrderHost(deps: OrderHostDeps) {
  const consumer = deps.consumer ?? 'orders';
  const now = deps.now ?? (() => new Date());
  const log = deps.logger.child({ service: 'orders' });

  async function attempt(e: OrderEventInput): Promise<TransitionReport | null> {
    const loaded = await loadForEvent(deps.sql, consumer, e.env.id, e.orderId);
    const decision = decideOrderEvent(e, loaded, { names: deps.names, now: now(), paymentTimeoutMs: deps.paymentTimeoutMs, shopConnectors: deps.shopConnectors ?? new Set() });
    if (decision.outcome === 'duplicate') return toReport(e, decision);
    const written = await writeOrderEvent(deps.sql, { consumer, orderId: e.orderId, history: decision.history, effects: decision.effects, row: decision.row });
    return written ? toReport(e, decision) : null;
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
      const r = await attempt(e);
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
