import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHttpPost } from './http-post.ts';
import { listenHttp } from './http-listen.ts';
import { pathToFileURL } from 'node:url';
import { Compile } from 'typebox/compile';
import {
  ADDRESS_CHANGE_TOO_LATE,
  ShipmentAddressChangeSchema,
  type ShipmentAddressChange,
  CANCEL_TOO_LATE,
  CANCELLABLE_STATUSES,
  ShipmentRequestSchema,
  signWarehouseBody,
  WAREHOUSE_SIGNATURE_HEADER,
  type ShipmentRequest,
  type WarehouseRejectionCode,
  type WarehouseStatus,
  type WarehouseWebhook,
} from '../../services/contracts/index.ts';
import { createLogger, type Logger } from '../logger.ts';

/**
 * A sandbox warehouse: a real HTTP server on loopback that implements our warehouse contract
 * (README, "Logistics"). It accepts shipments (idempotent by reference), walks each one through
 * its statuses on a timer and sends HMAC-signed status webhooks to the gateway. Faults are injected
 * by configuration: rejection rate per code, timeouts, lost responses, 5xx, duplicate and reordered
 * webhooks, problem statuses. Used by the demo and the tests; runs standalone too:
 *
 *   WAREHOUSE_WEBHOOK_SECRET=s3cret WAREHOUSE_WEBHOOK_URL=http://127.0.0.1:3000/webhooks/warehouse \
 *     npx tsx infra/sandbox/warehouse-sandbox.ts
 */

export type ProblemStatus = 'DELIVERY_FAILED' | 'RETURNED' | 'LOST' | 'ON_HOLD' | 'CANCELLED';

/** What happens to one reference (decided at its first submit). */
export interface WarehouseFaultPlan {
  /** Submits are answered `422 { code }`… */
  reject?: WarehouseRejectionCode;
  /** …this many times (default: every time). */
  rejectTimes?: number;
  /** The first N submits hang without an answer (no shipment created): the client times out. */
  timeouts?: number;
  /** The first N submits create the shipment, then the connection is dropped before the answer. */
  lostResponses?: number;
  /** The first N submits are answered 503. */
  serverErrors?: number;
  /** The first N cancels (`POST /shipments/{id}/cancel`) are answered 503. */
  cancelErrors?: number;
  /** The first N look-ups (`GET /shipments?reference=`) are answered 503. */
  lookupErrors?: number;
  /** Every submit answer is delayed this long (a slow warehouse). */
  delayMs?: number;
  /** The shipment waits after creation until `resume(reference)` (tests: control when statuses flow). */
  paused?: boolean;
  /** Every webhook is sent twice (same eventId). */
  duplicateWebhooks?: boolean;
  /** DELIVERED is sent before HANDED_TO_CARRIER. */
  reorderWebhooks?: boolean;
  /** The walk ends in this problem status instead of DELIVERED. */
  problem?: ProblemStatus;
  /** The walk stops after this status (tests: a shipment that stays put). */
  stopAfter?: WarehouseStatus;
  /**
   * Submits wait unanswered until `answerSubmits(reference)` (tests: an order stays `submitting`
   * for as long as a step needs, e.g. while a status webhook overtakes the submit's answer).
   */
  holdSubmits?: boolean;
  /** Cancels of an existing shipment wait unanswered until `answerCancels(reference)`. */
  holdCancels?: boolean;
  /** Look-ups by reference (`GET /shipments?reference=`) wait unanswered until `answerLookups(reference)`. */
  holdLookups?: boolean;
  /**
   * A submit for a reference that already has a shipment is refused `422 { code }` instead of being
   * answered with that shipment: a 3PL that does not honour the contract's idempotency by reference
   * (the second submit of a released order, answered after the first created the shipment).
   */
  rejectRepeats?: WarehouseRejectionCode;
}

export type FaultKind =
  | WarehouseRejectionCode
  | ProblemStatus
  | 'timeout'
  | 'lostResponse'
  | 'serverError'
  | 'duplicateWebhooks'
  | 'reorderWebhooks';

export interface WarehouseSandboxOptions {
  port?: number;
  host?: string;
  /** When set, requests need `Authorization: Bearer <apiKey>`. */
  apiKey?: string | undefined;
  /** Where status webhooks go (`http://gateway/webhooks/warehouse`); settable later with setWebhookUrl. */
  webhookUrl?: string | undefined;
  webhookSecret: string;
  /** Time between two statuses of a shipment (default 1000 ms). */
  stepMs?: number;
  /** Probability per new reference of each fault (checked in declaration order, at most one applies). */
  faults?: Partial<Record<FaultKind, number>>;
  /** Deterministic plan per reference (wins over `faults`). */
  plan?: (reference: string) => WarehouseFaultPlan | undefined;
  /** PRNG seed for `faults` (default 1). */
  seed?: number;
  /** Attempts to deliver one webhook (the gateway down, 5xx) before giving up (default 8). */
  webhookAttempts?: number;
  /**
   * The statuses this warehouse sends webhooks for (default: every one). Many 3PLs report only
   * what the carrier does (`HANDED_TO_CARRIER`, `DELIVERED`); the walk is the same, the other
   * statuses pass unreported. Problem statuses are always reported.
   */
  reports?: readonly WarehouseStatus[];
  logger?: Logger;
  /** Shipments from before a restart (the demo keeps them in Postgres); unfinished walks go on from their status. */
  initialShipments?: ReadonlyArray<{ shipment: SandboxShipment; plan: WarehouseFaultPlan }>;
  /** Awaited after a shipment is created (before the answer) and after each status change, so it survives a restart. */
  persist?: (shipment: SandboxShipment, plan: WarehouseFaultPlan) => Promise<void>;
}

export interface SandboxShipment {
  shipmentId: string;
  reference: string;
  status: WarehouseStatus;
  trackingNumber: string | null;
  carrier: string | null;
  request: ShipmentRequest;
  createdAt: string;
}

/** One webhook send (a duplicate is a second entry with the same eventId). */
export interface SentWebhook {
  eventId: string;
  reference: string;
  shipmentId: string;
  status: string;
  body: string;
  /** HTTP status of the last attempt, or null when the gateway never answered. */
  httpStatus: number | null;
  attempts: number;
  delivered: boolean;
}

export interface WarehouseSandbox {
  readonly url: string;
  readonly port: number;
  readonly shipments: ReadonlyMap<string, SandboxShipment>;
  /** Submit requests received per reference (including rejected, hung and lost ones). */
  readonly submits: ReadonlyMap<string, number>;
  /** Cancel requests received per reference (including refused and failed ones). */
  readonly cancels: ReadonlyMap<string, number>;
  /** Shipments created per reference (the contract makes this at most 1). */
  readonly created: ReadonlyMap<string, number>;
  /** The plan each reference got (from `plan`, `setPlan` or the random `faults`). */
  readonly plans: ReadonlyMap<string, WarehouseFaultPlan>;
  readonly webhooks: readonly SentWebhook[];
  shipmentByReference(reference: string): SandboxShipment | undefined;
  setWebhookUrl(url: string): void;
  /** Sets (or replaces) the plan of a reference; a running walk keeps the plan it started with. */
  setPlan(reference: string, plan: WarehouseFaultPlan): void;
  /** Lets a paused shipment walk on. */
  resume(reference: string): void;
  /** Submits / cancels of a reference waiting under `holdSubmits` / `holdCancels`. */
  held(reference: string): { submits: number; cancels: number; lookups: number };
  /** Answers every held look-up of a reference, with the shipment as it is then. */
  answerLookups(reference: string): number;
  /** Answers the held submits of a reference (every one, or the oldest `count`), under its plan as it is now (`setPlan` first to reject). */
  answerSubmits(reference: string, count?: number): number;
  /** Answers every held cancel of a reference (a shipment whose status is past hand-off is refused). */
  answerCancels(reference: string): number;
  /** Signs and sends one webhook body now (tests: unknown references, duplicates by hand). */
  sendWebhook(body: WarehouseWebhook, opts?: { signature?: string }): Promise<SentWebhook>;
  /** Resolves when every walk has finished and no webhook is in flight. */
  idle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const WALK: readonly WarehouseStatus[] = ['ACCEPTED', 'PICKING', 'PACKED', 'HANDED_TO_CARRIER', 'IN_TRANSIT', 'DELIVERED'];
const CARRIERS = ['DPD', 'InPost', 'DHL', 'GLS'];
const FAULT_ORDER: readonly FaultKind[] = [
  'ADDRESS_INVALID',
  'OUT_OF_STOCK',
  'SKU_UNKNOWN',
  'REJECTED',
  'timeout',
  'lostResponse',
  'serverError',
  'duplicateWebhooks',
  'reorderWebhooks',
  'DELIVERY_FAILED',
  'RETURNED',
  'LOST',
  'ON_HOLD',
  'CANCELLED',
];

/** mulberry32: a tiny seeded PRNG so a fault mix is reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function planOf(kind: FaultKind): WarehouseFaultPlan {
  switch (kind) {
    case 'ADDRESS_INVALID':
    case 'OUT_OF_STOCK':
    case 'SKU_UNKNOWN':
    case 'REJECTED':
      return { reject: kind };
    case 'timeout':
      return { timeouts: 1 };
    case 'lostResponse':
      return { lostResponses: 1 };
    case 'serverError':
      return { serverErrors: 2 };
    case 'duplicateWebhooks':
      return { duplicateWebhooks: true };
    case 'reorderWebhooks':
      return { reorderWebhooks: true };
    default:
      return { problem: kind };
  }
}

const REJECT_MESSAGES: Record<WarehouseRejectionCode, string> = {
  ADDRESS_INVALID: 'The shipping address cannot be delivered to',
  OUT_OF_STOCK: 'Not enough stock for one or more items',
  SKU_UNKNOWN: 'One or more SKUs are unknown to the warehouse',
  REJECTED: 'The warehouse declined the shipment',
};

/** The statuses a shipment walks through under its plan, in the order the webhooks are sent. */
export function walkOf(plan: WarehouseFaultPlan, reports?: readonly WarehouseStatus[]): WarehouseStatus[] {
  let walk: WarehouseStatus[] = [...WALK];
  if (plan.problem === 'ON_HOLD' || plan.problem === 'CANCELLED') walk = ['ACCEPTED', 'PICKING', plan.problem];
  else if (plan.problem !== undefined) walk = [...WALK.slice(0, 5), plan.problem];
  if (plan.stopAfter !== undefined) {
    const i = walk.indexOf(plan.stopAfter);
    if (i >= 0) walk = walk.slice(0, i + 1);
  }
  return reports === undefined ? walk : walk.filter((st) => reports.includes(st) || !(WALK as readonly string[]).includes(st));
}

export async function startWarehouseSandbox(o: WarehouseSandboxOptions): Promise<WarehouseSandbox> {
  const logger = (o.logger ?? createLogger({ name: 'warehouse-sandbox' })).child({ sandbox: 'warehouse' });
  const stepMs = o.stepMs ?? 1000;
  const webhookAttempts = o.webhookAttempts ?? 8;
  const random = prng(o.seed ?? 1);
  const checkRequest = Compile(ShipmentRequestSchema);
  const checkAddressChange = Compile(ShipmentAddressChangeSchema);
  let webhookUrl = o.webhookUrl;
  let closed = false;
  const http = createHttpPost();

  const shipments = new Map<string, SandboxShipment>();
  const byReference = new Map<string, SandboxShipment>();
  const submits = new Map<string, number>();
  const created = new Map<string, number>();
  const lookups = new Map<string, number>();
  const cancels = new Map<string, number>();
  const paused = new Map<string, () => void>();
  const heldSubmits = new Map<string, Array<() => void>>();
  const heldCancels = new Map<string, Array<() => void>>();
  const heldLookups = new Map<string, Array<() => void>>();
  const holdOn = (gates: Map<string, Array<() => void>>, reference: string) =>
    new Promise<void>((resolve) => gates.set(reference, [...(gates.get(reference) ?? []), resolve]));
  const open = (gates: Map<string, Array<() => void>>, reference: string, count = Number.POSITIVE_INFINITY): number => {
    const all = gates.get(reference) ?? [];
    const waiting = all.slice(0, count);
    if (all.length > waiting.length) gates.set(reference, all.slice(waiting.length));
    else gates.delete(reference);
    for (const r of waiting) r();
    return waiting.length;
  };
  const plans = new Map<string, WarehouseFaultPlan>();
  const webhooks: SentWebhook[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let activeWalks = 0;
  let inflight = 0;
  let idleWaiters: Array<() => void> = [];

  const checkIdle = () => {
    if (activeWalks === 0 && inflight === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const r of w) r();
    }
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  function planFor(reference: string): WarehouseFaultPlan {
    let plan = plans.get(reference);
    if (plan !== undefined) return plan;
    plan = o.plan?.(reference);
    if (plan === undefined) {
      plan = {};
      const r = random();
      let acc = 0;
      for (const kind of FAULT_ORDER) {
        acc += o.faults?.[kind] ?? 0;
        if (r < acc) {
          plan = planOf(kind);
          break;
        }
      }
    }
    plans.set(reference, plan);
    return plan;
  }

  async function deliver(body: string, meta: Omit<SentWebhook, 'body' | 'httpStatus' | 'attempts' | 'delivered'>, signature?: string): Promise<SentWebhook> {
    const sent: SentWebhook = { ...meta, body, httpStatus: null, attempts: 0, delivered: false };
    webhooks.push(sent);
    inflight++;
    try {
      while (sent.attempts < webhookAttempts && !closed) {
        sent.attempts++;
        if (webhookUrl === undefined) {
          logger.warn({ eventId: meta.eventId }, 'no webhook URL configured; webhook not sent');
          break;
        }
        try {
          const res = await http.post(webhookUrl, body, { 'content-type': 'application/json', [WAREHOUSE_SIGNATURE_HEADER]: signature ?? signWarehouseBody(o.webhookSecret, body) });
          sent.httpStatus = res.status;
          // A 4xx will not get better by retrying (bad signature, malformed): like a real provider, stop.
          if (res.ok || (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429)) {
            sent.delivered = res.ok;
            break;
          }
        } catch (err) {
          logger.debug({ eventId: meta.eventId, err: err instanceof Error ? err.message : String(err) }, 'webhook delivery failed');
        }
        await sleep(Math.min(5_000, 100 * 2 ** (sent.attempts - 1)));
      }
      if (!sent.delivered) logger.warn({ eventId: meta.eventId, httpStatus: sent.httpStatus, attempts: sent.attempts }, 'webhook not delivered');
      return sent;
    } finally {
      inflight--;
      checkIdle();
    }
  }

  function webhookBody(s: SandboxShipment, status: WarehouseStatus, n: number): WarehouseWebhook {
    const body: WarehouseWebhook = {
      eventId: `evt_${s.shipmentId}_${n}`,
      shipmentId: s.shipmentId,
      reference: s.reference,
      status,
      occurredAt: new Date().toISOString(),
    };
    if (status === 'HANDED_TO_CARRIER' || status === 'IN_TRANSIT' || status === 'DELIVERED' || status === 'DELIVERY_FAILED' || status === 'RETURNED' || status === 'LOST') {
      body.trackingNumber = s.trackingNumber;
      body.carrier = s.carrier;
    }
    if (status === 'DELIVERY_FAILED') body.reason = 'Recipient not at home, three attempts';
    if (status === 'RETURNED') body.reason = 'Returned to sender';
    if (status === 'LOST') body.reason = 'Carrier reports the parcel lost';
    if (status === 'ON_HOLD') body.reason = 'Held at the warehouse: customs documents missing';
    if (status === 'CANCELLED') body.reason = 'Cancelled by the warehouse';
    return body;
  }

  async function save(s: SandboxShipment, plan: WarehouseFaultPlan): Promise<void> {
    if (!o.persist) return;
    await o.persist(s, plan).catch((err: unknown) => logger.error({ reference: s.reference, err: err instanceof Error ? err.message : String(err) }, 'could not persist shipment'));
  }

  /**
   * Walks one shipment through its statuses, one step per `stepMs`, sending a webhook per status.
   * `resumeFrom` (after a restart): start at that status again (its webhook may not have gone out;
   * the same eventId makes a repeat harmless).
   */
  async function walk(s: SandboxShipment, plan: WarehouseFaultPlan, resumeFrom?: WarehouseStatus): Promise<void> {
    activeWalks++;
    try {
      const statuses = walkOf(plan, o.reports);
      const from = resumeFrom === undefined ? 0 : Math.max(0, statuses.indexOf(resumeFrom));
      const bodies = statuses.map((status, i) => ({ status, body: webhookBody(s, status, i + 1) })).filter((b) => statuses.indexOf(b.status) >= from);
      // Reordered: DELIVERED's webhook goes out before HANDED_TO_CARRIER's.
      const order = [...bodies];
      if (plan.reorderWebhooks) {
        const h = order.findIndex((b) => b.status === 'HANDED_TO_CARRIER');
        const d = order.findIndex((b) => b.status === 'DELIVERED');
        if (h >= 0 && d >= 0) {
          const [handed] = order.splice(h, 1);
          if (handed) order.splice(d, 0, handed);
        }
      }
      // Paused before it moved: still paused after a restart (restored at its first status) until resumed.
      if (plan.paused && (resumeFrom === undefined || resumeFrom === statuses[0])) {
        await new Promise<void>((resolve) => paused.set(s.reference, resolve));
        paused.delete(s.reference);
      }
      for (const { status, body } of order) {
        await sleep(stepMs);
        if (closed) return;
        // Cancelled while it walked: nothing moves any more.
        if (s.status === 'CANCELLED') return;
        // The shipment's own state moves forward even when webhooks are reordered.
        const idx = statuses.indexOf(status);
        if (idx >= statuses.indexOf(s.status)) s.status = status;
        await save(s, plan);
        body.occurredAt = new Date().toISOString();
        const raw = JSON.stringify(body);
        const meta = { eventId: body.eventId, reference: s.reference, shipmentId: s.shipmentId, status };
        const sends = [deliver(raw, meta)];
        if (plan.duplicateWebhooks) sends.push(deliver(raw, meta));
        await Promise.all(sends);
      }
    } finally {
      activeWalks--;
      checkIdle();
    }
  }

  function json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function view(s: SandboxShipment) {
    return { shipmentId: s.shipmentId, reference: s.reference, status: s.status, trackingNumber: s.trackingNumber, carrier: s.carrier };
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      const b = c as Buffer;
      size += b.length;
      if (size > 1_000_000) throw new Error('body too large');
      chunks.push(b);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  async function onSubmit(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readBody(req));
    } catch {
      return json(res, 400, { code: 'MALFORMED', message: 'body is not JSON' });
    }
    if (!checkRequest.Check(parsed)) {
      const first = [...checkRequest.Errors(parsed)][0];
      return json(res, 400, { code: 'MALFORMED', message: `${first?.instancePath || '/'} ${first?.message ?? 'invalid'}` });
    }
    const request = parsed as ShipmentRequest;
    const reference = request.reference;
    const n = (submits.get(reference) ?? 0) + 1;
    submits.set(reference, n);
    if (planFor(reference).holdSubmits) await holdOn(heldSubmits, reference);
    if (closed) return json(res, 503, { code: 'UNAVAILABLE', message: 'warehouse closing' });
    const plan = planFor(reference);
    if (plan.delayMs !== undefined) await sleep(plan.delayMs);
    const existing = byReference.get(reference);
    if (existing && plan.rejectRepeats !== undefined) return json(res, 422, { code: plan.rejectRepeats, message: REJECT_MESSAGES[plan.rejectRepeats] });
    if (existing) return json(res, 200, view(existing));
    if (n <= (plan.timeouts ?? 0)) {
      logger.debug({ reference }, 'fault: submit hangs');
      return; // never answered; the socket is destroyed on close or by the client's timeout
    }
    if (n <= (plan.timeouts ?? 0) + (plan.serverErrors ?? 0)) return json(res, 503, { code: 'UNAVAILABLE', message: 'warehouse temporarily unavailable' });
    if (plan.reject !== undefined && n <= (plan.timeouts ?? 0) + (plan.serverErrors ?? 0) + (plan.rejectTimes ?? Number.POSITIVE_INFINITY)) {
      return json(res, 422, { code: plan.reject, message: REJECT_MESSAGES[plan.reject] });
    }
    if (request.items.length === 0) return json(res, 422, { code: 'REJECTED', message: 'a shipment needs at least one item' });
    const a = request.address;
    if (a.line1.trim() === '' || a.city.trim() === '' || a.postalCode.trim() === '' || !/^[A-Z]{2}$/.test(a.country)) {
      return json(res, 422, { code: 'ADDRESS_INVALID', message: 'line1, city, postalCode and a 2-letter country are required' });
    }
    // Like a carrier's address check: a Polish postal code is NN-NNN.
    if (a.country === 'PL' && !/^\d{2}-\d{3}$/.test(a.postalCode.trim())) {
      return json(res, 422, { code: 'ADDRESS_INVALID', message: `postal code "${a.postalCode}" is not a Polish postal code (NN-NNN)` });
    }
    const shipmentId = `shp_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    const s: SandboxShipment = {
      shipmentId,
      reference,
      status: 'ACCEPTED',
      trackingNumber: `TRK${shipmentId.slice(4, 14).toUpperCase()}`,
      carrier: CARRIERS[Math.floor(random() * CARRIERS.length)] ?? 'DPD',
      request,
      createdAt: new Date().toISOString(),
    };
    shipments.set(shipmentId, s);
    byReference.set(reference, s);
    created.set(reference, (created.get(reference) ?? 0) + 1);
    if (o.persist) {
      try {
        await o.persist(s, plan);
      } catch (err) {
        // Not durable: forget it and answer 503, so the client's retry creates it again.
        shipments.delete(shipmentId);
        byReference.delete(reference);
        created.set(reference, (created.get(reference) ?? 1) - 1);
        logger.error({ reference, err: err instanceof Error ? err.message : String(err) }, 'could not persist shipment');
        return json(res, 503, { code: 'UNAVAILABLE', message: 'warehouse temporarily unavailable' });
      }
    }
    void walk(s, plan);
    if (n <= (plan.timeouts ?? 0) + (plan.lostResponses ?? 0)) {
      logger.debug({ reference }, 'fault: shipment created, response lost');
      req.socket.destroy();
      return;
    }
    return json(res, 201, view(s));
  }

  /**
   * `POST /shipments/{id}/cancel`: only while nothing has left the building (CANCELLABLE_STATUSES);
   * a repeat answers the cancelled shipment again; once a carrier has it, 409 CANCEL_TOO_LATE. A
   * cancel sends the CANCELLED status webhook, like any status change.
   */
  /** An undeliverable address, as a carrier's check sees it (the submit's rules), or null. */
  function addressProblem(a: ShipmentRequest['address']): string | null {
    if (a.line1.trim() === '' || a.city.trim() === '' || a.postalCode.trim() === '' || !/^[A-Z]{2}$/.test(a.country)) return 'line1, city, postalCode and a 2-letter country are required';
    if (a.country === 'PL' && !/^\d{2}-\d{3}$/.test(a.postalCode.trim())) return `postal code "${a.postalCode}" is not a Polish postal code (NN-NNN)`;
    return null;
  }

  /**
   * `POST /shipments/{id}/address` `{ recipient, address }`: a new address while nothing has left the
   * building; 409 ADDRESS_CHANGE_TOO_LATE once a carrier has it; 422 ADDRESS_INVALID like a submit.
   */
  async function onAddress(shipmentId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const s = shipments.get(shipmentId);
    if (!s) return json(res, 404, { code: 'NOT_FOUND', message: 'no such shipment' });
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return json(res, 400, { code: 'MALFORMED', message: 'body is not JSON' });
    }
    if (!checkAddressChange.Check(body)) return json(res, 400, { code: 'MALFORMED', message: 'recipient and address are required' });
    const change = body as ShipmentAddressChange;
    if (!CANCELLABLE_STATUSES.includes(s.status) || s.status === 'CANCELLED') {
      return json(res, 409, { code: ADDRESS_CHANGE_TOO_LATE, message: `shipment ${s.shipmentId} is ${s.status}${s.carrier ? ` with ${s.carrier}` : ''}; its address can no longer be changed` });
    }
    const problem = addressProblem(change.address);
    if (problem !== null) return json(res, 422, { code: 'ADDRESS_INVALID', message: problem });
    s.request = { ...s.request, recipient: change.recipient, address: change.address };
    await save(s, planFor(s.reference));
    return json(res, 200, view(s));
  }

  async function onCancel(shipmentId: string, res: ServerResponse): Promise<void> {
    const s = shipments.get(shipmentId);
    if (!s) return json(res, 404, { code: 'NOT_FOUND', message: 'no such shipment' });
    const n = (cancels.get(s.reference) ?? 0) + 1;
    cancels.set(s.reference, n);
    if (planFor(s.reference).holdCancels) await holdOn(heldCancels, s.reference);
    if (closed) return json(res, 503, { code: 'UNAVAILABLE', message: 'warehouse closing' });
    const plan = planFor(s.reference);
    if (n <= (plan.cancelErrors ?? 0)) return json(res, 503, { code: 'UNAVAILABLE', message: 'warehouse temporarily unavailable' });
    if (s.status === 'CANCELLED') return json(res, 200, view(s));
    if (!CANCELLABLE_STATUSES.includes(s.status)) {
      return json(res, 409, { code: CANCEL_TOO_LATE, message: `shipment ${s.shipmentId} is ${s.status}${s.carrier ? ` with ${s.carrier}` : ''}; it can no longer be cancelled` });
    }
    s.status = 'CANCELLED';
    await save(s, plan);
    const body = webhookBody(s, 'CANCELLED', 99);
    body.reason = 'cancelled at the merchant\'s request';
    void deliver(JSON.stringify(body), { eventId: body.eventId, reference: s.reference, shipmentId: s.shipmentId, status: 'CANCELLED' });
    return json(res, 200, view(s));
  }

  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://sandbox');
    if (o.apiKey !== undefined && req.headers['authorization'] !== `Bearer ${o.apiKey}`) {
      return json(res, 401, { code: 'UNAUTHORIZED', message: 'missing or wrong API key' });
    }
    if (req.method === 'POST' && u.pathname === '/shipments') {
      onSubmit(req, res).catch((err: unknown) => {
        if (!res.headersSent) json(res, 500, { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) });
      });
      return;
    }
    if (req.method === 'GET' && u.pathname === '/shipments') {
      const reference = u.searchParams.get('reference');
      if (reference === null) return json(res, 400, { code: 'MALFORMED', message: 'reference is required' });
      const n = (lookups.get(reference) ?? 0) + 1;
      lookups.set(reference, n);
      if (n <= (planFor(reference).lookupErrors ?? 0)) return json(res, 503, { code: 'UNAVAILABLE', message: 'warehouse temporarily unavailable' });
      const answer = () => {
        const s = byReference.get(reference);
        json(res, 200, { shipments: s ? [view(s)] : [] });
      };
      if (planFor(reference).holdLookups) {
        void holdOn(heldLookups, reference).then(() => (closed ? json(res, 503, { code: 'UNAVAILABLE', message: 'warehouse closing' }) : answer()));
        return;
      }
      return answer();
    }
    const ad = /^\/shipments\/([^/]+)\/address$/.exec(u.pathname);
    if (req.method === 'POST' && ad) {
      onAddress(decodeURIComponent(ad[1] ?? ''), req, res).catch((err: unknown) => {
        if (!res.headersSent) json(res, 500, { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) });
      });
      return;
    }
    const c = /^\/shipments\/([^/]+)\/cancel$/.exec(u.pathname);
    if (req.method === 'POST' && c) {
      onCancel(decodeURIComponent(c[1] ?? ''), res).catch((err: unknown) => {
        if (!res.headersSent) json(res, 500, { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) });
      });
      return;
    }
    const m = /^\/shipments\/([^/]+)$/.exec(u.pathname);
    if (req.method === 'GET' && m) {
      const s = shipments.get(decodeURIComponent(m[1] ?? ''));
      return s ? json(res, 200, view(s)) : json(res, 404, { code: 'NOT_FOUND', message: 'no such shipment' });
    }
    return json(res, 404, { code: 'NOT_FOUND', message: `no route ${req.method} ${u.pathname}` });
  });
  const listening = await listenHttp(server, o.port, o.host);
  const { port, url } = listening;
  for (const { shipment, plan } of o.initialShipments ?? []) {
    shipments.set(shipment.shipmentId, shipment);
    byReference.set(shipment.reference, shipment);
    created.set(shipment.reference, 1);
    submits.set(shipment.reference, 1);
    plans.set(shipment.reference, plan);
    const statuses = walkOf(plan, o.reports);
    if (statuses.indexOf(shipment.status) < statuses.length - 1) void walk(shipment, plan, shipment.status);
  }
  logger.info({ url, webhookUrl, stepMs }, 'sandbox warehouse listening');

  return {
    url,
    port,
    shipments,
    submits,
    cancels,
    created,
    plans,
    webhooks,
    shipmentByReference: (r) => byReference.get(r),
    setWebhookUrl(u) {
      webhookUrl = u;
    },
    setPlan(reference, plan) {
      plans.set(reference, plan);
    },
    held(reference) {
      return { submits: heldSubmits.get(reference)?.length ?? 0, cancels: heldCancels.get(reference)?.length ?? 0, lookups: heldLookups.get(reference)?.length ?? 0 };
    },
    answerLookups(reference) {
      return open(heldLookups, reference);
    },
    answerSubmits(reference, count) {
      return open(heldSubmits, reference, count);
    },
    answerCancels(reference) {
      return open(heldCancels, reference);
    },
    resume(reference) {
      const plan = plans.get(reference);
      const s = byReference.get(reference);
      // Resumed for good: a restart does not pause it again.
      if (plan?.paused && s) {
        plan.paused = false;
        void save(s, plan);
      }
      paused.get(reference)?.();
    },
    sendWebhook(body, opts = {}) {
      return deliver(JSON.stringify(body), { eventId: body.eventId, reference: body.reference, shipmentId: body.shipmentId, status: body.status }, opts.signature);
    },
    idle(timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`sandbox warehouse not idle after ${timeoutMs} ms (${activeWalks} walks, ${inflight} webhooks in flight)`)), timeoutMs);
        idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
        checkIdle();
      });
    },
    async close() {
      closed = true;
      for (const r of paused.values()) r();
      for (const k of [...heldSubmits.keys()]) open(heldSubmits, k);
      for (const k of [...heldCancels.keys()]) open(heldCancels, k);
      for (const k of [...heldLookups.keys()]) open(heldLookups, k);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await listening.close();
      http.close();
      activeWalks = 0;
      checkIdle();
    },
  };
}

/** Standalone: configuration from the environment, Ctrl-C stops it. */
async function main(): Promise<void> {
  const env = process.env;
  const secret = env['WAREHOUSE_WEBHOOK_SECRET'];
  const logger = createLogger({ name: 'warehouse-sandbox', level: env['LOG_LEVEL'] ?? 'info' });
  if (secret === undefined || secret === '') {
    logger.error('WAREHOUSE_WEBHOOK_SECRET is required (the gateway verifies webhooks with it)');
    process.exit(1);
  }
  const num = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) {
      logger.error({ variable: name, value: raw }, 'expected a non-negative number');
      process.exit(1);
    }
    return n;
  };
  const rate = num('WAREHOUSE_SANDBOX_FAULT_RATE', 0);
  const each = rate / FAULT_ORDER.length;
  const sandbox = await startWarehouseSandbox({
    port: num('WAREHOUSE_SANDBOX_PORT', 4100),
    apiKey: env['WAREHOUSE_API_KEY'] || undefined,
    webhookUrl: env['WAREHOUSE_WEBHOOK_URL'] ?? 'http://127.0.0.1:3000/webhooks/warehouse',
    webhookSecret: secret,
    stepMs: num('WAREHOUSE_SANDBOX_STEP_MS', 2000),
    faults: Object.fromEntries(FAULT_ORDER.map((k) => [k, each])),
    seed: num('WAREHOUSE_SANDBOX_SEED', 1),
    logger,
  });
  const stop = () => {
    void sandbox.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}
