import type { StateValue } from 'xstate';
import {
  documentStatus,
  orderMachine,
  orderStatus,
  restoreOrderSnapshot,
  ORDER_MACHINE_VERSION,
  READABLE_MACHINE_VERSIONS,
  type DocumentStatus,
  type OrderEvent,
  type OrderSnapshot,
} from '../../machines/order/index.ts';
import { makeEnvelope, ORDER_EVENT_PAYLOADS, OrderpilotError, validate, type Envelope, type Names, type OrderMessageType, type ShopUpdate } from '../contracts/index.ts';
import { planEffects, type EffectPlan } from './order-effects.ts';
import { createOrderStepper } from './order-stepper.ts';
import { shopChanges } from './shop-changes.ts';
import type { HistoryEntry, LoadResult, OrderColumns, OrderWrite } from './order-store.ts';

/**
 * The order host's pure core: what one event does to one order. No I/O, no clock of its own
 * (`now` is passed in), so the host's shell is only load → decide → write → report.
 */

/** XState's pure transition with one actor scope, made once (pure: holds no I/O; order-stepper.ts). */
const stepper = createOrderStepper();

export type Outcome = 'created' | 'applied' | 'ignored' | 'duplicate';

/** An envelope checked at the edge: known type, an order id, a valid payload. */
export interface OrderEventInput {
  env: Envelope;
  type: OrderMessageType;
  orderId: string;
  payload: Record<string, unknown>;
  /** The subject it arrived on (history's `source`). */
  source: string;
}

export interface DecisionContext {
  names: Names;
  now: Date;
  paymentTimeoutMs: number;
  /** Shops with a connector (SHOPS): their orders' changes go to the shops service too. */
  shopConnectors?: ReadonlySet<string>;
}

/** The outcome of one event: nothing to do (a duplicate), or exactly one write and what to report. */
export type Decision =
  | { outcome: 'duplicate' }
  | {
      outcome: Exclude<Outcome, 'duplicate'>;
      from: StateValue | null;
      to: StateValue;
      /** The snapshot after the event (null for an ORDER_PLACED that found the order existing). */
      snapshot: OrderSnapshot | null;
      history: HistoryEntry;
      effects: EffectPlan;
      row: OrderWrite['row'];
    };

function isOrderMessageType(t: string): t is OrderMessageType {
  return Object.hasOwn(ORDER_EVENT_PAYLOADS, t);
}

/** Checks an envelope at the edge. Throws OrderpilotError (permanent) for anything malformed. */
export function parseOrderEvent(env: Envelope, source: string): OrderEventInput {
  if (!isOrderMessageType(env.type)) {
    throw new OrderpilotError('MALFORMED_MESSAGE', `unknown order event type "${env.type}"`);
  }
  if (env.orderId === null) throw new OrderpilotError('MALFORMED_MESSAGE', 'order event without orderId');
  const payload = validate(ORDER_EVENT_PAYLOADS[env.type], env.payload, `${env.type} payload`) as Record<string, unknown>;
  if (env.type === 'ORDER_PLACED' && (payload['order'] as { orderId: string }).orderId !== env.orderId) {
    throw new OrderpilotError('VALIDATION_FAILED', 'ORDER_PLACED payload orderId differs from the envelope orderId');
  }
  return { env, type: env.type, orderId: env.orderId, payload, source };
}

/** The stored columns derived from a snapshot (state words, hold code, the snapshot itself). */
/**
 * The document column: the document region's state, or — once the region is gone (a cancelled
 * order) — what became of the document: it outlives the region (issued, or e-mailed).
 */
export function documentColumn(s: Pick<OrderSnapshot, 'value' | 'context'>): DocumentStatus {
  const d = documentStatus(s.value);
  if (d !== 'none' || !s.context.document) return d;
  return s.context.documentEmailedAt ? 'emailed' : 'issued';
}

/**
 * `prev`: the context the stored snapshot holds (same machine version), when the write may send
 * only what changed (`contextPatch`) instead of the whole snapshot.
 */
export function orderColumns(s: OrderSnapshot, prev?: OrderSnapshot['context']): OrderColumns {
  return {
    state: orderStatus(s.value),
    documentState: documentColumn(s),
    stateValue: s.value,
    snapshot: { value: s.value, context: s.context, status: s.status },
    status: s.status,
    contextPatch: prev === undefined ? null : contextPatch(prev, s.context),
    machineVersion: ORDER_MACHINE_VERSION,
    holdCode: s.context.hold?.code ?? null,
  };
}

/**
 * The context keys `next` changed from `prev`, compared by reference: XState's `assign` copies the
 * context shallowly, so a key no action assigned keeps its very value (the order data, above all —
 * most of a snapshot's bytes, and changed only by an admin's repair). Null when a merge cannot turn
 * `prev` into `next`: a key gone, or set to undefined (JSON drops it; a merge would keep the old value).
 */
export function contextPatch(prev: object, next: object): Record<string, unknown> | null {
  const before = prev as Record<string, unknown>;
  const after = next as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(before)) {
    if (before[k] !== undefined && after[k] === undefined) return null;
  }
  for (const k of Object.keys(after)) {
    if (after[k] !== before[k]) patch[k] = after[k];
  }
  return patch;
}

const NO_EFFECTS: EffectPlan = { outbox: [], timers: [], cancelTimers: [] };

function historyEntry(e: OrderEventInput, outcome: HistoryEntry['outcome'], from: StateValue | null, to: StateValue, note: string | null): HistoryEntry {
  return {
    messageId: e.env.id,
    type: e.type,
    source: e.source,
    outcome,
    fromState: from === null ? null : orderStatus(from),
    toState: orderStatus(to),
    fromValue: from,
    toValue: to,
    payload: e.payload,
    actor: e.env.actor ?? null,
    note,
    occurredAt: e.env.occurredAt,
  };
}

/**
 * Decides one event against the order as loaded: a duplicate (already in the inbox), a new order,
 * an applied transition with its effects, or an ignored event (history only). Throws
 * OrderpilotError for an unknown order or a snapshot of an unknown machine version.
 */
export function decideOrderEvent(e: OrderEventInput, loaded: LoadResult, ctx: DecisionContext): Decision {
  if (loaded.processed) return { outcome: 'duplicate' };
  const row = loaded.order;
  const note = typeof e.payload['note'] === 'string' ? e.payload['note'] : null;

  if (e.type === 'ORDER_PLACED') {
    if (row) {
      const value = row.snapshot.value;
      return {
        outcome: 'ignored',
        from: value,
        to: value,
        snapshot: null,
        history: historyEntry(e, 'ignored', value, value, 'order already exists'),
        effects: NO_EFFECTS,
        row: { kind: 'touch', expectedVersion: row.version },
      };
    }
    const order = e.payload['order'] as OrderSnapshot['context']['order'];
    const [snap, actions] = stepper.initial({ order });
    return {
      outcome: 'created',
      from: null,
      to: snap.value,
      snapshot: snap,
      history: historyEntry(e, 'created', null, snap.value, note),
      effects: planEffects({ names: ctx.names, snapshot: snap, actions, cause: e.env, now: ctx.now, paymentTimeoutMs: ctx.paymentTimeoutMs }),
      row: { kind: 'create', externalId: order.externalId, customerEmail: order.customer.email.toLowerCase(), createdAt: e.env.occurredAt, state: orderColumns(snap) },
    };
  }

  if (!row) throw new OrderpilotError('UNKNOWN_ORDER', `no order ${e.orderId} for ${e.type}`);
  // An older version this machine still reads is taken as it is (and written back as the current one).
  if (!READABLE_MACHINE_VERSIONS.includes(row.machine_version)) {
    throw new OrderpilotError('UNKNOWN_MACHINE_VERSION', `order ${e.orderId} has snapshot version ${row.machine_version}, host runs ${ORDER_MACHINE_VERSION} (reads ${READABLE_MACHINE_VERSIONS.join(', ')})`);
  }
  const current = row.live ?? restoreOrderSnapshot(row.snapshot);
  const event = { ...e.payload, type: e.type, at: e.env.occurredAt, ...(e.env.actor ? { actor: e.env.actor } : {}) } as OrderEvent;
  const [next, actions] = stepper.step(current, event);
  // XState returns the very same snapshot when no transition is enabled for the event.
  if (next === current && actions.length === 0) {
    return {
      outcome: 'ignored',
      from: current.value,
      to: current.value,
      snapshot: current,
      history: historyEntry(e, 'ignored', current.value, current.value, note),
      effects: NO_EFFECTS,
      row: { kind: 'touch', expectedVersion: row.version },
    };
  }
  const effects = planEffects({ names: ctx.names, snapshot: next, actions, cause: e.env, now: ctx.now, paymentTimeoutMs: ctx.paymentTimeoutMs });
  const shop = next.context.order.shop;
  if (shop !== undefined && ctx.shopConnectors?.has(shop) === true) {
    const changes = shopChanges(current, next);
    if (changes.length > 0) {
      // The row's version after this write orders the shop's updates (and spots stale ones).
      const version = row.version + 1;
      const payload: ShopUpdate = { shop, orderId: e.orderId, externalId: next.context.order.externalId, version, changes };
      effects.outbox.push({
        subject: ctx.names.subjects.shopUpdate(e.orderId),
        envelope: makeEnvelope({ id: `shop-update:${e.orderId}:${version}`, type: 'shop-update', orderId: e.orderId, payload, cause: e.env }),
      });
    }
  }
  return {
    outcome: 'applied',
    from: current.value,
    to: next.value,
    snapshot: next,
    history: historyEntry(e, 'applied', current.value, next.value, note),
    effects,
    // The stored snapshot is `current` as JSON when it is of this machine version (the snapshot
    // cache holds what this host wrote; else it was just read): then only what changed is sent.
    row: { kind: 'update', expectedVersion: row.version, state: orderColumns(next, row.machine_version === ORDER_MACHINE_VERSION ? current.context : undefined) },
  };
}
