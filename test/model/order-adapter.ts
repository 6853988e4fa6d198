import { randomUUID } from 'node:crypto';
import { initialTransition, transition, type StateValue } from 'xstate';
import { orderMachine, type OrderEvent, type OrderSnapshot } from '../../machines/order/index.ts';
import type { WarehouseWebhook } from '../../services/contracts/index.ts';
import { eventually } from '../support/context.ts';
import { SHOP, intakeBody, paidSession, payuNotification, stripeEvent } from '../gateway/gateway-helpers.ts';
import { BOUNCING_MAILBOX, type ModelWorld } from './model-world.ts';
import { allTransitions, modelOrder, takenTransitions, type ModelPath, type ModelStep } from './order-model.ts';

/**
 * The adapter of the model-based suite: turns each abstract step of a generated path into its real
 * cause through the system's own doors — intake over HTTP with the shop's key, Stripe- and PayU-signed
 * payment webhooks, signed warehouse webhooks, the admin API, a held request answered at a sandbox
 * (a document created or refused, a submit accepted or rejected, a cancel done or too late), an
 * SMTP server refusing a mailbox, the payment-timeout timer — and checks, after each step, the order
 * as the admin API shows it against the machine's state on that path.
 */

type Row = { id: string; messageId: string; type: string; outcome: string; toValue: StateValue; payload: Record<string, unknown>; actor: string | null; occurredAt: string };
/** The order as the admin API shows it (the part the suites read). */
export type Detail = { value: StateValue; history: Row[]; context: OrderSnapshot['context'] };

const STEP_TIMEOUT_MS = 60_000;
const REGIONS = ['fulfilment', 'document'] as const;

/** The part of a state value a transition from `source` is about: its parallel region, or the top state. */
export function regionOf(source: string): 'fulfilment' | 'document' | 'top' {
  for (const r of REGIONS) if (source.startsWith(`order.processing.${r}`)) return r;
  return 'top';
}
export function project(value: StateValue, region: 'fulfilment' | 'document' | 'top'): string {
  const top = typeof value === 'string' ? value : Object.keys(value)[0] ?? '';
  if (region === 'top') return top;
  if (typeof value === 'string') return top;
  const p = (value as Record<string, StateValue>)['processing'];
  if (p === undefined || typeof p === 'string') return top;
  return canonical((p as Record<string, StateValue>)[region] ?? null);
}
const sourceOf = (key: string) => allTransitions().find((t) => t.key === key)?.source ?? 'order';

/** Every variant the adapter can cause; a step with another one fails, naming it. */
export const KNOWN_VARIANTS: ReadonlySet<string> = new Set([
  'stripe', 'mismatch', 'payu-canceled', 'timer', 'admin', 'admin-all', 'admin-correction', 'admin-slow-warehouse', 'admin-slow-invoicing', 'invoicing-ksef', 'ksef', 'ksef-give-up', 'warehouse-webhook', 'warehouse-answer', 'warehouse-reject', 'warehouse-reject-repeat', 'warehouse-cancel',
  'warehouse-too-late', 'warehouse-address', 'warehouse-address-too-late', 'invoicing', 'invoicing-manual', 'invoicing-refused', 'mail', 'mail-resend', 'smtp-refused', 'provider', 'provider-refused',
]);

export interface PathResult {
  path: ModelPath;
  orderId: string | null;
  passed: boolean;
  error: string | null;
  /** Transitions the order really took (its history replayed through the pure machine). */
  taken: string[];
  ms: number;
}

function adminBody(e: OrderEvent): Record<string, unknown> {
  const { at: _at, actor: _actor, ...rest } = e as OrderEvent & { actor?: string };
  return rest;
}

/** JSON with object keys sorted (Postgres' jsonb keeps its own key order). */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x !== null && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : x));
}

/** Replays the persisted history through the pure machine: each row's outcome and state must be the machine's. */
export function replayHistory(rows: readonly Row[]): { taken: string[]; mismatch: string | null; value: StateValue | null } {
  let cur: OrderSnapshot | null = null;
  const taken: string[] = [];
  const ordered = [...rows].sort((a, b) => Number(a.id) - Number(b.id));
  for (const [i, r] of ordered.entries()) {
    if (r.type === 'ORDER_PLACED') {
      if (cur === null) cur = initialTransition(orderMachine, { order: (r.payload as { order: OrderSnapshot['context']['order'] }).order })[0];
      continue;
    }
    if (cur === null) return { taken, mismatch: `row ${i} (${r.type}) before ORDER_PLACED`, value: null };
    const event = { ...r.payload, type: r.type, at: r.occurredAt, ...(r.actor ? { actor: r.actor } : {}) } as OrderEvent;
    const before: OrderSnapshot = cur;
    const [next, actions]: [OrderSnapshot, unknown[]] = transition(orderMachine, before, event);
    const applied = !(next === before && actions.length === 0);
    if ((applied ? 'applied' : 'ignored') !== r.outcome) return { taken, mismatch: `row ${i} (${r.type}): host says ${r.outcome}, machine says ${applied ? 'applied' : 'ignored'}`, value: null };
    if (canonical(next.value) !== canonical(r.toValue)) return { taken, mismatch: `row ${i} (${r.type}): host state ${JSON.stringify(r.toValue)}, machine ${JSON.stringify(next.value)}`, value: null };
    if (applied) taken.push(...takenTransitions(before, event));
    cur = next;
  }
  return { taken, mismatch: null, value: cur?.value ?? null };
}

/** Drives one path through the real system in `w`; never throws (the result says what failed). */
export async function runPath(w: ModelWorld, path: ModelPath): Promise<PathResult> {
  const t0 = Date.now();
  let orderId: string | null = null;
  try {
    const { id, externalId, variants, detail } = await placeModelOrder(w, path.steps, (placed) => (orderId = placed));

    const consumed = new Set<string>();
    for (const [i, step] of path.steps.entries()) {
      const what = `step ${i + 1} ${step.event.type} (${step.variant}, ${step.door})`;
      const region = regionOf(sourceOf(step.takes[0] ?? 'order'));
      if (step.door === 'act') {
        // The order must be where the path says before a door is used.
        await eventually(async () => {
          const d = await detail();
          return d && project(d.value, region) === project(step.before, region);
        }, `order ${id} before ${what}: ${project(step.before, region)}`, STEP_TIMEOUT_MS);
      }
      await cause(w, { id, externalId, step, variants, steps: path.steps, index: i });
      const row = await eventually(async () => {
        const d = await detail();
        const r = d?.history.find((x) => !consumed.has(x.id) && x.type === step.event.type && x.outcome === 'applied');
        return r ? { r } : undefined;
      }, `order ${id}: ${what} applied`, STEP_TIMEOUT_MS);
      consumed.add(row.r.id);
      const want = project(step.value, region);
      const got = project(row.r.toValue, region);
      if (want !== got) throw new Error(`${what}: the order went to ${got} (${JSON.stringify(row.r.toValue)}), the machine's path to ${want}`);
    }
    const d = await detail();
    const replay = replayHistory(d?.history ?? []);
    if (replay.mismatch) throw new Error(`history replay: ${replay.mismatch}`);
    if (!replay.taken.includes(path.target)) throw new Error(`the order never took ${path.target} (took ${replay.taken.join(', ')})`);
    return { path, orderId, passed: true, error: null, taken: replay.taken, ms: Date.now() - t0 };
  } catch (err) {
    // What the order did, for the reader of a failure.
    const seen = orderId === null ? null : await w.admin('GET', `/admin/api/orders/${orderId}`).catch(() => null);
    const rows = [...((seen?.body as Detail | null)?.history ?? [])].sort((a, b) => Number(a.id) - Number(b.id)).map((r) => `${r.type}:${r.outcome}`).join(', ');
    return { path, orderId, passed: false, error: `${err instanceof Error ? err.message : String(err)} [history: ${rows}]`, taken: [], ms: Date.now() - t0 };
  } finally {
    if (orderId !== null) releaseModelOrder(w, orderId);
  }
}

/**
 * Places the order a walk drives (intake over HTTP with the shop's key), arranged for the steps it
 * will take: a bouncing mailbox, a company buyer for KSeF, every sandbox door holding its requests.
 * Resolves once the order is pending; `onPlaced` gets its id at once (for clean-up after a failure).
 */
export async function placeModelOrder(w: ModelWorld, steps: readonly ModelStep[], onPlaced: (orderId: string) => void = () => {}) {
  const variants = new Set(steps.map((s) => s.variant));
  const unknown = steps.filter((s) => !KNOWN_VARIANTS.has(s.variant));
  if (unknown.length > 0) throw new Error(`the adapter cannot cause ${unknown.map((s) => `${s.event.type} (${s.variant})`).join(', ')}: add it to test/model/order-adapter.ts`);
  const email = variants.has('smtp-refused') ? `${BOUNCING_MAILBOX}${randomUUID().slice(0, 8)}@example.com` : 'jan@example.com';
  // A company's documents go to KSeF (KSEF_SCOPE=all_companies); a consumer's are e-mailed at once.
  const company = variants.has('invoicing-ksef') ? { company: 'Firma sp. z o.o.', taxId: '5260250274' } : {};
  const placed = await w.http('POST', '/orders', intakeBody({ customer: { email, name: 'Jan Kowalski', ...company } }), SHOP);
  if (placed.status !== 202) throw new Error(`intake answered ${placed.status}: ${JSON.stringify(placed.body)}`);
  const id: string = placed.body.orderId;
  const externalId: string = placed.body.externalId;
  onPlaced(id);
  // Look-ups are held only from a slow-warehouse CANCEL on (a release before it looks its reference up at once).
  w.warehouse.setPlan(id, { paused: true, holdSubmits: true, holdCancels: true });
  w.invoicing.holdCreates(id);
  w.invoicing.holdKsef(id);
  const detail = async (): Promise<Detail | null> => {
    const r = await w.admin('GET', `/admin/api/orders/${id}`);
    return r.status === 200 ? (r.body as Detail) : null;
  };
  await eventually(async () => (await detail())?.value === 'pending', `order ${id} pending`, STEP_TIMEOUT_MS);
  return { id, externalId, variants, detail };
}

/** Nothing of this order may keep a service's slot: whatever still waits at a door goes through. */
export function releaseModelOrder(w: ModelWorld, orderId: string): void {
  w.warehouse.setPlan(orderId, { paused: true });
  w.warehouse.answerSubmits(orderId);
  w.warehouse.answerCancels(orderId);
  w.warehouse.answerLookups(orderId);
  w.invoicing.unholdCreates(orderId);
  w.invoicing.answerOrderLookups(orderId);
}

export interface CauseInput {
  id: string;
  externalId: string;
  step: ModelStep;
  variants: ReadonlySet<string>;
  /** The whole walk (later steps decide some arrangements). */
  steps: readonly ModelStep[];
  index: number;
}

/** Sends a webhook again exactly as before (same event id, same signature): the provider's redelivery. */
export type Redeliver = () => Promise<void>;

let webhookSeq = 0;

/** Causes one step at its door; for a webhook, returns how to deliver the very same one again. */
export async function cause(w: ModelWorld, c: CauseInput): Promise<Redeliver | undefined> {
  const { id, externalId, step } = c;
  // The model's order is `ord_model`: refund and correction ids carry the real order's id.
  const e = JSON.parse(JSON.stringify(step.event).replaceAll(modelOrder().orderId, id)) as OrderEvent;
  const expect2xx = (r: { status: number; body: unknown }, what: string) => {
    if (r.status < 200 || r.status > 299) throw new Error(`${what} answered ${r.status}: ${JSON.stringify(r.body)}`);
  };
  switch (step.variant) {
    case 'stripe':
    case 'mismatch': {
      if (e.type !== 'PAYMENT_CONFIRMED') break;
      const session = paidSession(id, e.amount);
      // A refund path that must fail pays with a payment the provider will not know.
      if (step.variant === 'stripe' && !c.variants.has('provider-refused')) w.stripe.addPayment(session.payment_intent, e.amount, 'pln');
      const ev = stripeEvent('checkout.session.completed', session);
      const send = async () => expect2xx(await w.http('POST', '/webhooks/payments/stripe', ev.payload, ev.headers), 'stripe webhook');
      await send();
      return send;
    }
    case 'payu-canceled': {
      const n = payuNotification(externalId, 'CANCELED');
      const send = async () => expect2xx(await w.http('POST', '/webhooks/payments/payu', n.payload, n.headers), 'payu webhook');
      await send();
      return send;
    }
    case 'timer':
      return; // PAYMENT_TIMEOUT_MS of this world passes
    case 'admin':
    case 'admin-all':
    case 'admin-correction':
    case 'admin-slow-warehouse':
    case 'admin-slow-invoicing': {
      let body = adminBody(e);
      if (step.variant === 'admin-slow-warehouse') w.warehouse.setPlan(id, { paused: true, holdSubmits: true, holdCancels: true, holdLookups: true });
      if (step.variant === 'admin-slow-invoicing') {
        // The attach's look-up by order waits at the invoicing system; the create it races is there already.
        await eventually(async () => w.invoicing.heldCreates(id) > 0, `a create for ${id} waiting at the invoicing system`, STEP_TIMEOUT_MS);
        w.invoicing.holdOrderLookups(id);
      }
      if (e.type === 'ATTACH_DOCUMENT') body = { ...body, ...(await attachArrangement(w, c)) };
      // A company stays a company (its documents keep going to KSeF, as the world model assumes).
      if (e.type === 'UPDATE_BUYER' && c.variants.has('invoicing-ksef')) body = { ...body, customer: { ...e.customer, company: 'Firma sp. z o.o.', taxId: '5260250274' } };
      // An address change the warehouse will refuse: a carrier has the parcel by the time it asks.
      const readdress = c.steps.slice(c.index + 1).find((s) => s.door === 'coming:address');
      if (e.type === 'UPDATE_SHIPPING_ADDRESS' && readdress?.variant === 'warehouse-address-too-late') {
        const shipment = w.warehouse.shipmentByReference(id);
        if (shipment) shipment.status = 'HANDED_TO_CARRIER';
      }
      expect2xx(await w.admin('POST', `/admin/api/orders/${id}/events`, body), `admin ${e.type}`);
      return;
    }
    case 'warehouse-webhook': {
      // The warehouse only reports on references it got from us (logistics logs a submit before sending it).
      await eventually(async () => (w.warehouse.submits.get(id) ?? 0) > 0, `order ${id}: a submit reached the warehouse`, STEP_TIMEOUT_MS);
      const shipment = w.warehouse.shipmentByReference(id);
      const status = e.type === 'HANDED_TO_CARRIER' ? 'HANDED_TO_CARRIER' : e.type === 'DELIVERED' ? 'DELIVERED' : 'ON_HOLD';
      const body: WarehouseWebhook = {
        eventId: `evt_model_${id.replace(/[^A-Za-z0-9]/g, '')}_${++webhookSeq}`,
        shipmentId: shipment?.shipmentId ?? `shp_${id.slice(-12)}`,
        reference: id,
        status,
        occurredAt: new Date().toISOString(),
        ...(e.type === 'HANDED_TO_CARRIER' ? { trackingNumber: e.trackingNumber, carrier: e.carrier } : {}),
        ...(e.type === 'SHIPMENT_PROBLEM' ? { reason: e.message } : {}),
      };
      const send = async () => {
        const sent = await w.warehouse.sendWebhook(body);
        if (!sent.delivered) throw new Error(`warehouse webhook not delivered (${sent.httpStatus})`);
      };
      await send();
      return send;
    }
    case 'warehouse-answer':
    case 'warehouse-reject':
    case 'warehouse-reject-repeat': {
      // A release's resubmit finds the shipment the warehouse already has (its look-up answers at once).
      if (step.door !== 'held:submit') return;
      // Every submit the path has under way is at the door (a release's resubmit looks the reference up
      // first: answering the older one before then would let the look-up find its shipment).
      const waiting = Math.max(1, step.submitsWaiting);
      await eventually(async () => w.warehouse.held(id).submits >= waiting, `order ${id}: ${waiting} submit(s) waiting at the warehouse`, STEP_TIMEOUT_MS);
      const slow = c.steps.slice(0, c.index).some((s) => s.variant === 'admin-slow-warehouse');
      const plan = { paused: true, holdSubmits: true, holdCancels: true, holdLookups: slow };
      w.warehouse.setPlan(id, step.variant === 'warehouse-reject' ? { ...plan, reject: 'OUT_OF_STOCK' } : step.variant === 'warehouse-reject-repeat' ? { ...plan, rejectRepeats: 'OUT_OF_STOCK' } : plan);
      w.warehouse.answerSubmits(id, 1);
      return;
    }
    case 'warehouse-cancel':
    case 'warehouse-too-late': {
      if (step.door === 'held:lookup') {
        // The cancel's look-up answers now; with a shipment there, its cancel then waits at the door.
        await eventually(async () => w.warehouse.held(id).lookups > 0, `order ${id}: a look-up waiting at the warehouse`, STEP_TIMEOUT_MS);
        const existed = w.warehouse.shipmentByReference(id) !== undefined;
        w.warehouse.answerLookups(id);
        if (!existed) return;
      } else if (step.door !== 'held:cancel') return; // no shipment: answered at once
      await eventually(async () => w.warehouse.held(id).cancels > 0, `order ${id}: a cancel waiting at the warehouse`, STEP_TIMEOUT_MS);
      const shipment = w.warehouse.shipmentByReference(id);
      if (step.variant === 'warehouse-too-late' && shipment) shipment.status = 'HANDED_TO_CARRIER';
      w.warehouse.answerCancels(id);
      return;
    }
    case 'ksef-give-up':
      // The invoicing service gives up by itself after KSEF_GIVE_UP_MS (short in the timers' world).
      await eventually(async () => w.invoicing.heldKsef(id), `${id}: a KSeF verdict waiting`, STEP_TIMEOUT_MS);
      return;
    case 'ksef': {
      const oid = 'correctionId' in e && typeof e.correctionId === 'string' ? e.correctionId : id;
      await eventually(async () => w.invoicing.heldKsef(oid), `${oid}: a KSeF verdict waiting`, STEP_TIMEOUT_MS);
      const outcome = e.type === 'KSEF_OFFLINE' ? 'offline' : e.type === 'KSEF_REJECTED' || e.type === 'CORRECTION_KSEF_REJECTED' ? 'send_error' : 'ok';
      w.invoicing.releaseKsef(oid, outcome);
      return;
    }
    case 'invoicing':
    case 'invoicing-ksef':
    case 'invoicing-refused': {
      if (step.door !== 'held:doc' && step.door !== 'held:correction') return; // found / attach look-up: by itself
      const oid = e.type === 'CORRECTION_ISSUED' || e.type === 'CORRECTION_FAILED' ? e.correctionId : id;
      await eventually(async () => w.invoicing.heldCreates(oid) > 0, `a create for ${oid} waiting at the invoicing system`, STEP_TIMEOUT_MS);
      w.invoicing.releaseCreate(oid, step.variant !== 'invoicing-refused' ? 'ok' : { refuse: { buyer_tax_no: ['NIP jest nieprawidłowy'] } });
      return;
    }
    default:
      return; // answers that come by themselves (e-mail, refunds, look-ups) were arranged up front
  }
}

/** ATTACH_DOCUMENT: the number and date, made to give the answer the path's next document step expects. */
async function attachArrangement(w: ModelWorld, c: CauseInput): Promise<{ number: string; issueDate: string }> {
  const answer = c.steps.slice(c.index + 1).find((s) => s.door === 'coming:attach');
  if (answer === undefined || answer.variant === 'invoicing-manual') return { number: `FV/R/${randomUUID().slice(0, 6)}/2026`, issueDate: '2026-11-20' };
  // A document issued at the invoicing system by hand (as an admin does in its own UI).
  const res = await fetch(`${w.invoicing.url}/invoices.json`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ api_token: w.invoicing.apiToken, invoice: { kind: 'vat', seller_name: 'Sklep Testowy sp. z o.o.', seller_tax_no: '5260250274', seller_street: 'ul. Prosta 1', seller_post_code: '00-001', seller_city: 'Warszawa', buyer_name: 'Jan Kowalski', buyer_email: 'jan@example.com', positions: [{ name: 'Kubek', tax: 23, total_price_gross: '65.00', quantity: 2 }] } }),
  });
  if (res.status !== 201) throw new Error(`hand-issued document: ${res.status} ${await res.text()}`);
  const inv = (await res.json()) as { number: string; issue_date: string };
  // A wrong date: the look-up finds the number with another date (DOCUMENT_ATTACH_MISMATCH).
  return { number: inv.number, issueDate: answer.variant === 'invoicing-refused' ? '2020-01-01' : inv.issue_date };
}
