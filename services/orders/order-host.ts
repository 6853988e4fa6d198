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
import type { Sql, TxSql } from '../../infra/db/postgres.ts';
import type { Logger } from '../../infra/logger.ts';
import { planEffects, type EffectPlan } from './order-effects.ts';

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

interface OrderRow {
  snapshot: { value: StateValue; context: unknown };
  machine_version: string;
  version: number;
  state: string;
}

function isOrderMessageType(t: string): t is OrderMessageType {
  return Object.hasOwn(ORDER_EVENT_PAYLOADS, t);
}

function persisted(s: OrderSnapshot): { value: StateValue; context: unknown; status: string } {
  return { value: s.value, context: s.context, status: s.status };
}

/**
 * The order actor host. For each event, one short transaction: inbox row (duplicates stop here),
 * load the order, XState's pure `transition()`, write snapshot + history + outbox/timers, commit.
 * The caller acks only after this resolves. No network call happens inside the transaction.
 */
export function createOrderHost(deps: OrderHostDeps) {
  const consumer = deps.consumer ?? 'orders';
  const now = deps.now ?? (() => new Date());
  const log = deps.logger.child({ service: 'orders' });

  async function writeEffects(tx: TxSql, orderId: string, plan: EffectPlan): Promise<void> {
    const writes: Promise<unknown>[] = [];
    if (plan.cancelTimers.length > 0) {
      writes.push(tx`delete from timers where order_id = ${orderId} and kind = any(${plan.cancelTimers})`);
    }
    for (const t of plan.timers) {
      writes.push(tx`insert into timers (id, order_id, kind, fire_at, subject, envelope)
        values (${t.envelope.id}, ${orderId}, ${t.kind}, ${t.fireAt}, ${t.subject}, ${tx.json(t.envelope as never)})
        on conflict (order_id, kind) do update set fire_at = excluded.fire_at, envelope = excluded.envelope, subject = excluded.subject`);
    }
    if (plan.outbox.length > 0) {
      const rows = plan.outbox.map((o) => ({
        id: o.envelope.id,
        order_id: orderId,
        subject: o.subject,
        envelope: tx.json(o.envelope as never),
      }));
      writes.push(tx`insert into outbox ${tx(rows, 'id', 'order_id', 'subject', 'envelope')}`);
      writes.push(tx`select pg_notify('outbox', '')`);
    }
    await Promise.all(writes);
  }

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
    const at = now();

    const report = await deps.sql.begin(async (tx): Promise<TransitionReport> => {
      const [inserted, rows] = await Promise.all([
        tx`insert into processed_messages (consumer, message_id) values (${consumer}, ${env.id})
           on conflict do nothing returning 1`,
        tx<OrderRow[]>`select snapshot, machine_version, version, state from orders where id = ${orderId}`,
      ]);
      if (inserted.length === 0) {
        return { orderId, event: env, outcome: 'duplicate', from: null, to: null, snapshot: null };
      }
      const row = rows[0];
      const history = (h: { outcome: Outcome; from: StateValue | null; to: StateValue | null; note?: string | null }) =>
        tx`insert into order_history
          (order_id, message_id, type, source, outcome, from_state, to_state, from_value, to_value, payload, actor, note, occurred_at)
          values (${orderId}, ${env.id}, ${env.type}, ${source}, ${h.outcome},
            ${h.from === null ? null : orderStatus(h.from)}, ${h.to === null ? null : orderStatus(h.to)},
            ${h.from === null ? null : tx.json(h.from as never)}, ${h.to === null ? null : tx.json(h.to as never)},
            ${tx.json(payload as never)}, ${env.actor ?? null}, ${h.note ?? null}, ${env.occurredAt})`;

      if (env.type === 'ORDER_PLACED') {
        if (row) {
          const value = row.snapshot.value;
          await history({ outcome: 'ignored', from: value, to: value, note: 'order already exists' });
          return { orderId, event: env, outcome: 'ignored', from: value, to: value, snapshot: null };
        }
        const order = payload['order'] as OrderSnapshot['context']['order'];
        const [snap, actions] = initialTransition(orderMachine, { order });
        const plan = planEffects({ names: deps.names, snapshot: snap, actions, cause: env, now: at, paymentTimeoutMs: deps.paymentTimeoutMs });
        await Promise.all([
          tx`insert into orders (id, external_id, state, document_state, state_value, snapshot, machine_version, version, customer_email, created_at, updated_at)
             values (${orderId}, ${order.externalId}, ${orderStatus(snap.value)}, ${documentStatus(snap.value)},
               ${tx.json(snap.value as never)}, ${tx.json(persisted(snap) as never)}, ${ORDER_MACHINE_VERSION}, 1,
               ${order.customer.email.toLowerCase()}, ${env.occurredAt}, now())`,
          history({ outcome: 'created', from: null, to: snap.value }),
          writeEffects(tx, orderId, plan),
        ]);
        return { orderId, event: env, outcome: 'created', from: null, to: snap.value, snapshot: snap };
      }

      if (!row) throw new OrderpilotError('UNKNOWN_ORDER', `no order ${orderId} for ${env.type}`);
      if (row.machine_version !== ORDER_MACHINE_VERSION) {
        throw new OrderpilotError('UNKNOWN_MACHINE_VERSION', `order ${orderId} has snapshot version ${row.machine_version}, host runs ${ORDER_MACHINE_VERSION}`);
      }
      const current = restoreOrderSnapshot(row.snapshot);
      const event = { ...payload, type: env.type, at: env.occurredAt, ...(env.actor ? { actor: env.actor } : {}) } as OrderEvent;
      const note = typeof payload['note'] === 'string' ? payload['note'] : null;
      if (!current.can(event)) {
        await history({ outcome: 'ignored', from: current.value, to: current.value, note });
        return { orderId, event: env, outcome: 'ignored', from: current.value, to: current.value, snapshot: current };
      }
      const [next, actions] = transition(orderMachine, current, event);
      const plan = planEffects({ names: deps.names, snapshot: next, actions, cause: env, now: at, paymentTimeoutMs: deps.paymentTimeoutMs });
      const [updated] = await Promise.all([
        tx`update orders set state = ${orderStatus(next.value)}, document_state = ${documentStatus(next.value)},
             state_value = ${tx.json(next.value as never)}, snapshot = ${tx.json(persisted(next) as never)},
             hold_code = ${next.context.hold?.code ?? null}, version = version + 1, updated_at = now()
           where id = ${orderId} and version = ${row.version}`,
        history({ outcome: 'applied', from: current.value, to: next.value, note }),
        writeEffects(tx, orderId, plan),
      ]);
      // Optimistic concurrency: someone else changed the order since we read it; retry the event.
      if (updated.count !== 1) throw new OrderpilotError('DB_CONFLICT', `order ${orderId} changed concurrently`);
      return { orderId, event: env, outcome: 'applied', from: current.value, to: next.value, snapshot: next };
    });

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
