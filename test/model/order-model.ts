import { getShortestPaths } from 'xstate/graph';
import { initialTransition, transition, type AnyStateNode, type AnyTransitionDefinition, type StateValue } from 'xstate';
import { MANUAL_DOCUMENT_PROVIDER, correctableAmount, orderMachine, refundableAmount, type OrderData, type OrderEvent, type OrderSnapshot } from '../../machines/order/index.ts';
import { SAMPLE_ADDRESS } from '../support/orders.ts';

/**
 * The order machine as a test model (issue 17), pure: every transition of the machine (each guarded
 * branch counted on its own), sample events that satisfy each guard, and with `xstate/graph`'s
 * shortest paths one path per transition that ends by taking it. The end-to-end suite
 * (`machine-coverage.e2e.test.ts`) drives these paths through the real system.
 */

/** One transition of the machine: a source state, an event and the branch (its index among the event's candidates). */
export interface ModelTransition {
  key: string;
  source: string;
  event: string;
  index: number;
  guard: string | null;
  targets: string[];
}

function guardLabel(g: unknown): string | null {
  if (g === undefined || g === null) return null;
  if (typeof g === 'string') return g;
  if (typeof g === 'object' && typeof (g as { type?: unknown }).type === 'string') return (g as { type: string }).type;
  if (typeof g === 'function') {
    // and([...]) / not(...) are functions named so, carrying their parts in `guards`.
    const f = g as { name?: string; guards?: unknown[] };
    if (Array.isArray(f.guards)) return `${f.name ?? 'guard'}(${f.guards.map(guardLabel).join(',')})`;
  }
  return 'guarded';
}

function keyOf(source: string, event: string, index: number, guard: string | null): string {
  return `${source} ${event}${guard ? ` [${guard}]` : ''} #${index}`;
}

const defKeys = new Map<AnyTransitionDefinition, string>();
const transitionList: ModelTransition[] = [];
(function walk(n: AnyStateNode) {
  (n.always ?? []).forEach((t: AnyTransitionDefinition, i: number) => {
    const guard = guardLabel(t.guard);
    const key = keyOf(n.id, 'always', i, guard);
    defKeys.set(t, key);
    transitionList.push({ key, source: n.id, event: 'always', index: i, guard, targets: (t.target ?? []).map((x: AnyStateNode) => x.id) });
  });
  for (const [event, defs] of n.transitions) {
    defs.forEach((t: AnyTransitionDefinition, i: number) => {
      const guard = guardLabel(t.guard);
      const key = keyOf(n.id, event, i, guard);
      defKeys.set(t, key);
      transitionList.push({ key, source: n.id, event, index: i, guard, targets: (t.target ?? []).map((x: AnyStateNode) => x.id) });
    });
  }
  for (const c of Object.values(n.states as Record<string, AnyStateNode>)) walk(c);
})(orderMachine.root);

const keyTargets = new Map(transitionList.map((t) => [t.key, t.targets]));

/** Every transition of the order machine, read from the machine itself. */
export function allTransitions(): readonly ModelTransition[] {
  return transitionList;
}

/** The transitions `event` takes from `snapshot` (guards evaluated), `always` ones it then passes included. */
export function takenTransitions(snapshot: OrderSnapshot, event: OrderEvent): string[] {
  const defs = orderMachine.getTransitionData(snapshot, event) as AnyTransitionDefinition[];
  const keys = defs.map((d) => defKeys.get(d) ?? `unknown ${d.eventType}`);
  // Eventless transitions taken after it (paid → processing; unguarded, so entering is taking).
  for (const t of transitionList.filter((x) => x.event === 'always' && x.guard === null)) {
    if (keys.some((k) => keyTargets.get(k)?.includes(t.source))) keys.push(t.key);
  }
  return keys;
}

/** The order every model path starts from (what the end-to-end suite places over HTTP). */
export function modelOrder(over: Partial<OrderData> = {}): OrderData {
  return {
    orderId: 'ord_model',
    externalId: 'MODEL-1',
    currency: 'PLN',
    language: 'pl',
    customer: { email: 'jan@example.com', name: 'Jan Kowalski' },
    billingAddress: SAMPLE_ADDRESS,
    shippingAddress: SAMPLE_ADDRESS,
    lines: [{ sku: 'SKU-1', name: 'Kubek', quantity: 2, unitPrice: 2500, taxRate: 23 }],
    shippingPrice: 1500,
    total: 6500,
    placedAt: '2026-11-30T00:00:00.000Z',
    ...over,
  };
}

export const MODEL_AT = '2026-11-30T00:00:00.000Z';
const at = MODEL_AT;
const note = 'model path';

/**
 * Sample events: each variant satisfies a different guard branch. `variant` names the real-world cause
 * the adapter must produce (kept out of the event itself so the machine sees exactly what the system sends).
 */
export interface SampleEvent {
  variant: string;
  event: OrderEvent;
}

export function samples(s: OrderSnapshot): SampleEvent[] {
  const c = s.context;
  const out: SampleEvent[] = [
    { variant: 'stripe', event: { type: 'PAYMENT_CONFIRMED', provider: 'stripe', paymentId: 'pi_model', amount: c.order.total, currency: c.order.currency, at } },
    { variant: 'mismatch', event: { type: 'PAYMENT_CONFIRMED', provider: 'stripe', paymentId: 'pi_model_short', amount: c.order.total - 100, currency: c.order.currency, at } },
    { variant: 'payu-canceled', event: { type: 'PAYMENT_FAILED', provider: 'payu', reason: 'CANCELED', at } },
    { variant: 'timer', event: { type: 'PAYMENT_TIMEOUT', at } },
    { variant: 'admin', event: { type: 'CANCEL', note, at } },
    { variant: 'admin', event: { type: 'UPDATE_SHIPPING_ADDRESS', shippingAddress: { ...SAMPLE_ADDRESS, line1: 'ul. Nowa 2' }, note, at } },
    { variant: 'admin', event: { type: 'UPDATE_BUYER', customer: { name: 'Anna Nowak' }, note, at } },
    { variant: 'warehouse-answer', event: { type: 'SHIPMENT_ACCEPTED', shipmentId: 'shp_model', at } },
    { variant: 'warehouse-reject', event: { type: 'SHIPMENT_REJECTED', code: 'OUT_OF_STOCK', message: 'Not enough stock', at } },
    { variant: 'warehouse-webhook', event: { type: 'SHIPMENT_PROBLEM', code: 'ON_HOLD', message: 'Held at the warehouse', at } },
    { variant: 'warehouse-webhook', event: { type: 'HANDED_TO_CARRIER', trackingNumber: 'TRK-MODEL', carrier: 'DPD', at } },
    { variant: 'warehouse-webhook', event: { type: 'DELIVERED', at } },
    { variant: 'warehouse-cancel', event: { type: 'SHIPMENT_CANCELLED', existed: c.shipmentId !== null, at } },
    { variant: 'warehouse-too-late', event: { type: 'SHIPMENT_CANCEL_REFUSED', code: 'CANCEL_TOO_LATE', message: 'too late', at } },
    { variant: 'warehouse-address', event: { type: 'SHIPMENT_ADDRESS_CHANGED', at } },
    { variant: 'warehouse-address-too-late', event: { type: 'SHIPMENT_ADDRESS_REFUSED', code: 'ADDRESS_CHANGE_TOO_LATE', message: 'too late', at } },
    { variant: 'admin', event: { type: 'RELEASE', note, at } },
    { variant: 'admin', event: { type: 'MARK_SHIPPED', trackingNumber: 'MANUAL-1', carrier: 'InPost', note, at } },
    { variant: 'invoicing', event: { type: 'DOCUMENT_ISSUED', providerId: '1', number: 'FV/1/11/2026', issueDate: '2026-11-30', provider: 'fakturownia', at } },
    { variant: 'invoicing-ksef', event: { type: 'DOCUMENT_ISSUED', providerId: '1', number: 'FV/1/11/2026', issueDate: '2026-11-30', provider: 'fakturownia', ksef: 'sent', at } },
    { variant: 'invoicing-manual', event: { type: 'DOCUMENT_ISSUED', providerId: 'manual', number: 'FV/R/1/2026', issueDate: '2026-11-30', provider: MANUAL_DOCUMENT_PROVIDER, at } },
    { variant: 'invoicing-refused', event: { type: 'DOCUMENT_FAILED', code: 'INVOICE_REJECTED', message: 'refused', stage: 'issue', at } },
    { variant: 'smtp-refused', event: { type: 'DOCUMENT_FAILED', code: 'EMAIL_REJECTED', message: 'refused', stage: 'email', at } },
    { variant: 'mail', event: { type: 'DOCUMENT_EMAILED', to: 'jan@example.com', messageId: 'm1', at } },
    { variant: 'mail-resend', event: { type: 'DOCUMENT_EMAILED', to: 'jan@example.com', messageId: 'm2', resend: true, at } },
    { variant: 'admin', event: { type: 'ISSUE_DOCUMENT', note, at } },
    { variant: 'admin', event: { type: 'RETRY_DOCUMENT', note, at } },
    { variant: 'admin', event: { type: 'ATTACH_DOCUMENT', number: 'FV/R/1/2026', issueDate: '2026-11-30', note, at } },
    { variant: 'admin', event: { type: 'RESEND_DOCUMENT_EMAIL', email: 'ksiegowosc@example.com', note, at } },
    { variant: 'admin', event: { type: 'RESEND_TO_KSEF', note, at } },
    { variant: 'ksef', event: { type: 'KSEF_ACCEPTED', ksefNumber: '5260250274-20261130-0000000001-01', verificationLink: null, at } },
    { variant: 'ksef', event: { type: 'KSEF_REJECTED', code: 'KSEF_REJECTED', errors: ['refused'], at } },
    { variant: 'ksef', event: { type: 'KSEF_OFFLINE', errors: ['offline'], at } },
  ];
  // Money (refunds, corrections) is handled in every state; explored from a few anchors only, or the
  // graph is the product of every money state with every order state: a refund is asked while the
  // shipment waits at the warehouse (any document state); results arrive there or once cancelled.
  const anchor = s.matches({ processing: { fulfilment: 'accepted' } });
  const settled = anchor && s.matches({ processing: { document: 'emailed' } });
  if (!anchor && !s.matches('cancelled')) return out;
  if (anchor && (c.refunds ?? []).length === 0) out.push({ variant: 'admin', event: { type: 'REFUND', amount: 1500, reason: 'shipping refunded', note, at } });
  const left = refundableAmount(c);
  if (anchor && left > 0 && (c.refunds ?? []).length === 0) out.push({ variant: 'admin-all', event: { type: 'REFUND', amount: left, reason: 'everything refunded', note, at } });
  if (!settled && !s.matches('cancelled')) return out;
  // Results for the first refund and correction only (the others take the same transitions).
  for (const r of (c.refunds ?? []).slice(0, 1)) {
    out.push({ variant: 'provider', event: { type: 'REFUND_COMPLETED', refundId: r.refundId, providerRefundId: 're_model', at } });
    out.push({ variant: 'provider-refused', event: { type: 'REFUND_FAILED', refundId: r.refundId, code: 'REFUND_REFUSED', message: 'refused', at } });
  }
  for (const k of (c.corrections ?? []).slice(0, 1)) {
    const correctionId = k.correctionId;
    out.push({ variant: 'invoicing', event: { type: 'CORRECTION_ISSUED', correctionId, providerId: '2', number: 'FK/1/11/2026', issueDate: '2026-11-30', provider: 'fakturownia', at } });
    out.push({ variant: 'invoicing-ksef', event: { type: 'CORRECTION_ISSUED', correctionId, providerId: '2', number: 'FK/1/11/2026', issueDate: '2026-11-30', provider: 'fakturownia', ksef: 'sent', at } });
    out.push({ variant: 'ksef', event: { type: 'CORRECTION_KSEF_ACCEPTED', correctionId, ksefNumber: '5260250274-20261130-0000000002-01', verificationLink: null, at } });
    out.push({ variant: 'ksef', event: { type: 'CORRECTION_KSEF_REJECTED', correctionId, code: 'KSEF_REJECTED', errors: ['refused'], at } });
    out.push({ variant: 'mail', event: { type: 'CORRECTION_EMAILED', correctionId, to: 'jan@example.com', messageId: 'm3', at } });
    out.push({ variant: 'admin-correction', event: { type: 'RESEND_TO_KSEF', correctionId, note, at } });
    out.push({ variant: 'invoicing-refused', event: { type: 'CORRECTION_FAILED', correctionId, code: 'INVOICE_REJECTED', message: 'refused', stage: 'issue', at } });
  }
  return out;
}

/** What the guards read, so two snapshots that differ only in data no guard reads are one vertex. */
export function serialize(s: OrderSnapshot): string {
  const c = s.context;
  return JSON.stringify({
    v: s.value,
    doc: c.document === null ? null : c.document.provider === MANUAL_DOCUMENT_PROVIDER ? 'manual' : 'real',
    pay: c.payment !== null,
    refundable: refundableAmount(c) > 0,
    correctable: correctableAmount(c) > 0,
    refunds: (c.refunds ?? []).map((r) => r.status),
    corrections: (c.corrections ?? []).map((k) => k.status),
    tracking: c.trackingNumber !== null,
    shipment: c.shipmentId !== null,
    readdress: (c.pendingShippingAddress ?? null) !== null,
  });
}

export interface ModelStep {
  variant: string;
  event: OrderEvent;
  /** The machine's state value after the step. */
  value: StateValue;
  /** Transitions the step takes. */
  takes: string[];
}

export interface ModelPath {
  /** The transition this path was computed for (its last step takes it). */
  target: string;
  steps: ModelStep[];
}

/**
 * One shortest path per transition: xstate/graph's shortest paths to every reachable vertex, each
 * extended by the sample events enabled there; for each transition the shortest such path whose last
 * step takes it. Transitions no path reaches are returned in `unreachable`.
 */
export function planPaths(order: OrderData = modelOrder()): { paths: ModelPath[]; unreachable: string[]; vertices: number } {
  const [initial] = initialTransition(orderMachine, { order });
  const variantOf = new Map<string, string>();
  const events = (s: OrderSnapshot): OrderEvent[] =>
    samples(s)
      .filter((e) => s.can(e.event))
      .map((e) => {
        variantOf.set(JSON.stringify(e.event), e.variant);
        return e.event;
      });
  const statePaths = getShortestPaths(orderMachine, { input: { order }, events, serializeState: (s) => serialize(s as OrderSnapshot), limit: 100_000 });
  const best = new Map<string, ModelPath>();
  const toSteps = (from: OrderSnapshot, evs: readonly OrderEvent[]): ModelStep[] => {
    let cur = from;
    return evs.map((event) => {
      const takes = takenTransitions(cur, event);
      const [next] = transition(orderMachine, cur, event);
      cur = next;
      return { variant: variantOf.get(JSON.stringify(event)) ?? 'unknown', event, value: next.value, takes };
    });
  };
  for (const sp of statePaths) {
    const prefix = sp.steps.map((st) => st.event as OrderEvent).filter((e) => !e.type.startsWith('xstate.'));
    const end = sp.state as OrderSnapshot;
    for (const e of samples(end)) {
      if (!end.can(e.event)) continue;
      variantOf.set(JSON.stringify(e.event), e.variant);
      const takes = takenTransitions(end, e.event);
      for (const k of takes) {
        const cur = best.get(k);
        if (cur === undefined || cur.steps.length > prefix.length + 1) best.set(k, { target: k, steps: toSteps(initial, [...prefix, e.event]) });
      }
    }
  }
  const unreachable = transitionList.map((t) => t.key).filter((k) => !best.has(k));
  return { paths: transitionList.map((t) => best.get(t.key)).filter((p): p is ModelPath => p !== undefined), unreachable, vertices: statePaths.length };
}
