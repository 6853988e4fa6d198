import { initialTransition, transition, type StateValue } from 'xstate';
import {
  documentStatus,
  orderMachine,
  orderStatus,
  restoreOrderSnapshot,
  ORDER_MACHINE_VERSION,
  type OrderEvent,
  type OrderSnapshot,
} from '../../machines/order/index.ts';
import {
  ORDER_EVENT_PAYLOADS,
  OrderpilotError,
  validate,
  type Envelope,
  type Names,
  type OrderMessageType,
} from '../contracts/index.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import type { Logger } from '../../infra/logger.ts';
import { planEffects } from './order-effects.ts';
import { loadForEvent, writeOrderEvent, type HistoryEntry, type OrderColumns } from './order-store.ts';

export type Outcome = 'created' | 'applied' | 'ignored' | 'duplicate';

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
}

function isOrderMessageType(t: string): t is OrderMessageType {
  return Object.hasOwn(ORDER_EVENT_PAYLOADS, t);
}

function columns(s: OrderSnapshot): OrderColumns {
  return {
    state: orderStatus(s.value),
    documentState: documentStatus(s.value),
    stateValue: s.value,
    snapshot: { value: s.value, context: s.context, status: s.status },
    machineVersion: ORDER_MACHINE_VERSION,
    holdCode: s.context.hold?.code ?? null,
  };
}

/**
 * The order actor host. For each event: read the order (and whether the message id is in the
 * inbox: duplicates stop here), XState's pure `transition()`, then ONE atomic write statement —
 * snapshot + history + outbox/timers + inbox row, conditional on the row version read
 * (services/orders/order-store.ts). The caller acks only after this resolves. No network call to a
 * provider ever happens here; the outbox carries the commands.
 */
export function createOrderHost(deps: OrderHostDeps) {
  const consumer = deps.consumer ?? 'orders';
  const now = deps.now ?? (() => new Date());
  const log = deps.logger.child({ service: 'orders' });

  /** Applies one envelope. Throws OrderpilotError (permanent) for bad input; DB errors propagate. */
  async function handle(env: Envelope, source: string): Promise<TransitionReport> {
    if (!isOrderMessageType(env.type)) {
      throw new OrderpilotError('MALFORMED_MESSAGE', `unknown order event type "${env.type}"`);
    }
    if (env.orderId === null) throw new OrderpilotError('MALFORMED_MESSAGE', 'order event without orderId');
    const orderId = env.orderId;
    const payload = validate(ORDER_EVENT_PAYLOADS[env.type], env.payload, `${env.type} payload`) as Record<string, unknown>;
    if (env.type === 'ORDER_PLACED' && (payload['order'] as { orderId: string }).orderId !== orderId) {
      throw new OrderpilotError('VALIDATION_FAILED', 'ORDER_PLACED payload orderId differs from the envelope orderId');
    }
    const note = typeof payload['note'] === 'string' ? payload['note'] : null;
    const history = (outcome: HistoryEntry['outcome'], from: StateValue | null, to: StateValue | null, n: string | null = note): HistoryEntry => ({
      messageId: env.id,
      type: env.type,
      source,
      outcome,
      fromState: from === null ? null : orderStatus(from),
      toState: to === null ? null : orderStatus(to),
      fromValue: from,
      toValue: to,
      payload,
      actor: env.actor ?? null,
      note: n,
      occurredAt: env.occurredAt,
    });
    const noEffects = { outbox: [], timers: [], cancelTimers: [] };

    let report: TransitionReport | null = null;
    // A lost optimistic-concurrency race is retried at once with a fresh read (it normally turns
    // out to be a duplicate delivery that another instance has just committed).
    for (let attempt = 0; attempt < 3 && report === null; attempt++) {
      const { processed, order: row } = await loadForEvent(deps.sql, consumer, env.id, orderId);
      if (processed) return { orderId, event: env, outcome: 'duplicate', from: null, to: null, snapshot: null };

      if (env.type === 'ORDER_PLACED') {
        if (row) {
          const value = row.snapshot.value;
          if (await writeOrderEvent(deps.sql, { consumer, orderId, history: history('ignored', value, value, 'order already exists'), effects: noEffects, row: { kind: 'touch', expectedVersion: row.version } })) {
            report = { orderId, event: env, outcome: 'ignored', from: value, to: value, snapshot: null };
          }
          continue;
        }
        const order = payload['order'] as OrderSnapshot['context']['order'];
        const [snap, actions] = initialTransition(orderMachine, { order });
        const effects = planEffects({ names: deps.names, snapshot: snap, actions, cause: env, now: now(), paymentTimeoutMs: deps.paymentTimeoutMs });
        const ok = await writeOrderEvent(deps.sql, {
          consumer,
          orderId,
          history: history('created', null, snap.value),
          effects,
          row: { kind: 'create', externalId: order.externalId, customerEmail: order.customer.email.toLowerCase(), createdAt: env.occurredAt, state: columns(snap) },
        });
        if (ok) report = { orderId, event: env, outcome: 'created', from: null, to: snap.value, snapshot: snap };
        continue;
      }

      if (!row) throw new OrderpilotError('UNKNOWN_ORDER', `no order ${orderId} for ${env.type}`);
      if (row.machine_version !== ORDER_MACHINE_VERSION) {
        throw new OrderpilotError('UNKNOWN_MACHINE_VERSION', `order ${orderId} has snapshot version ${row.machine_version}, host runs ${ORDER_MACHINE_VERSION}`);
      }
      const current = restoreOrderSnapshot(row.snapshot);
      const event = { ...payload, type: env.type, at: env.occurredAt, ...(env.actor ? { actor: env.actor } : {}) } as OrderEvent;
      const [next, actions] = transition(orderMachine, current, event);
      // XState returns the very same snapshot when no transition is enabled for the event.
      if (next === current && actions.length === 0) {
        if (await writeOrderEvent(deps.sql, { consumer, orderId, history: history('ignored', current.value, current.value), effects: noEffects, row: { kind: 'touch', expectedVersion: row.version } })) {
          report = { orderId, event: env, outcome: 'ignored', from: current.value, to: current.value, snapshot: current };
        }
        continue;
      }
      const effects = planEffects({ names: deps.names, snapshot: next, actions, cause: env, now: now(), paymentTimeoutMs: deps.paymentTimeoutMs });
      const ok = await writeOrderEvent(deps.sql, {
        consumer,
        orderId,
        history: history('applied', current.value, next.value),
        effects,
        row: { kind: 'update', expectedVersion: row.version, state: columns(next) },
      });
      if (ok) report = { orderId, event: env, outcome: 'applied', from: current.value, to: next.value, snapshot: next };
    }
    if (report === null) throw new OrderpilotError('DB_CONFLICT', `order ${orderId} kept changing concurrently`);

    if (report.outcome !== 'duplicate') {
      log.debug({ orderId, type: env.type, outcome: report.outcome, to: report.to }, 'order event');
      try {
        deps.onTransition?.(report);
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'onTransition hook failed');
      }
    }
    return report;
  }

  return { handle };
}

export type OrderHost = ReturnType<typeof createOrderHost>;
