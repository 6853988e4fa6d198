import type { ShopKind } from '../../infra/config.ts';
import { SHOP_CHANGE_KINDS, type ShopChange, type ShopChangeKind } from '../contracts/index.ts';
import type { ShopCall } from './shop-connector.port.ts';

/**
 * The status mapping of each connector, as data: per change of an order, the shop status to set
 * (null: none) and the note to add (null: none; `customer`: the customer sees it). Notes are
 * templates: `{code}`, `{message}`, `{trackingNumber}`, `{carrier}`, `{number}`, `{pdfUrl}`, `{pdfLink}`
 * (` PDF: <link>` when the invoicing system has a public link, else nothing), `{reason}`.
 * `SHOP_<NAME>_MAPPING` overrides the statuses per shop.
 */
export interface MappingStep {
  status: string | null;
  note: { text: string; customer: boolean } | null;
  /** Event connectors: the event type sent for the change (with `status` in it); no status or note calls then. */
  event?: string;
  /** Magento: an order action made first (hold, unhold, cancel, a shipment with the tracking number). */
  action?: 'hold' | 'unhold' | 'cancel' | 'ship';
}
export type ShopMapping = Readonly<Record<ShopChangeKind, MappingStep>>;

/** WooCommerce's core statuses (REST v3 `status` enum, without the `wc-` prefix). */
export const WOOCOMMERCE_STATUSES = ['pending', 'processing', 'on-hold', 'completed', 'cancelled', 'refunded', 'failed', 'checkout-draft'] as const;

export const DEFAULT_MAPPINGS: Readonly<Record<ShopKind, ShopMapping>> = {
  woocommerce: {
    paid: { status: 'processing', note: null },
    held: { status: 'on-hold', note: { text: 'On hold: {message} ({code})', customer: false } },
    released: { status: 'processing', note: { text: 'Hold released; the order goes on.', customer: false } },
    // WooCommerce has no "shipped": `completed` unless configured (e.g. a plugin's `shipped`).
    shipped: { status: 'completed', note: { text: 'Your order has been shipped with {carrier}. Tracking number: {trackingNumber}', customer: true } },
    closed: { status: 'completed', note: { text: 'Delivered to the customer.', customer: false } },
    cancelled: { status: 'cancelled', note: { text: 'Cancelled: {reason}', customer: false } },
    documentIssued: { status: null, note: { text: 'Invoice {number} issued.{pdfLink}', customer: false } },
  },
  // Magento 2: actions (hold / unhold / cancel / ship with tracks) and comments; a status travels on a comment.
  magento: {
    paid: { status: 'processing', note: null },
    held: { action: 'hold', status: null, note: { text: 'On hold: {message} ({code})', customer: false } },
    released: { action: 'unhold', status: null, note: { text: 'Hold released; the order goes on.', customer: false } },
    shipped: { action: 'ship', status: null, note: null },
    closed: { status: 'complete', note: { text: 'Delivered to the customer.', customer: false } },
    cancelled: { action: 'cancel', status: null, note: { text: 'Cancelled: {reason}', customer: false } },
    documentIssued: { status: null, note: { text: 'Invoice {number} issued.{pdfLink}', customer: false } },
  },
  // Generic signed webhooks: one event per change, our status words.
  webhook: {
    paid: { event: 'order.status_changed', status: 'processing', note: null },
    held: { event: 'order.status_changed', status: 'held', note: null },
    released: { event: 'order.status_changed', status: 'processing', note: null },
    shipped: { event: 'shipment.handed_over', status: 'inShipment', note: null },
    closed: { event: 'order.status_changed', status: 'closed', note: null },
    cancelled: { event: 'order.status_changed', status: 'cancelled', note: null },
    documentIssued: { event: 'document.issued', status: null, note: null },
  },
};

/** The placeholders a note template may use (`fill` below). */
const PLACEHOLDERS = new Set(['code', 'message', 'trackingNumber', 'carrier', 'number', 'pdfUrl', 'pdfLink', 'reason']);

function changeKind(k: string, what: string): ShopChangeKind {
  if (!(SHOP_CHANGE_KINDS as readonly string[]).includes(k)) throw new Error(`unknown change "${k}" in the ${what} (known: ${SHOP_CHANGE_KINDS.join(', ')})`);
  return k as ShopChangeKind;
}

/**
 * A connector's default mapping with one shop's status overrides (SHOP_<NAME>_MAPPING) and note
 * overrides (SHOP_<NAME>_NOTES). An unknown change, an unknown placeholder, or a note for a connector
 * that sends events instead is refused at start.
 */
export function mappingFor(kind: ShopKind, overrides: Readonly<Record<string, string | null>>, notes: Readonly<Record<string, { text: string; customer: boolean } | null>> = {}): ShopMapping {
  const base = DEFAULT_MAPPINGS[kind];
  const out: Record<ShopChangeKind, MappingStep> = { ...base };
  for (const [k, status] of Object.entries(overrides)) {
    const change = changeKind(k, 'mapping');
    out[change] = { ...out[change], status };
  }
  for (const [k, note] of Object.entries(notes)) {
    const change = changeKind(k, 'notes');
    if (out[change].event !== undefined) throw new Error(`the ${kind} connector sends events, not notes ("${k}" in the notes)`);
    const unknown = [...(note?.text.matchAll(/\{(\w+)\}/g) ?? [])].map((m) => m[1] ?? '').filter((p) => !PLACEHOLDERS.has(p));
    if (unknown.length > 0) throw new Error(`unknown placeholder {${unknown[0]}} in the note for "${k}" (known: ${[...PLACEHOLDERS].map((p) => `{${p}}`).join(', ')})`);
    out[change] = { ...out[change], note };
  }
  return Object.freeze(out);
}

function fill(template: string, change: ShopChange): string {
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(change)) if (k !== 'kind') values[k] = v === null ? '' : String(v);
  if (change.kind === 'shipped' && change.carrier === null) values['carrier'] = 'the carrier';
  if (change.kind === 'cancelled' && change.reason === null) values['reason'] = 'no reason given';
  if (change.kind === 'documentIssued') values['pdfLink'] = change.pdfUrl ? ` PDF: ${change.pdfUrl}` : '';
  return template.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? '');
}

/** The calls one change makes at the shop, in order: its status first, then its note (or its one event). */
export function planShopCalls(mapping: ShopMapping, change: ShopChange): ShopCall[] {
  const step = mapping[change.kind];
  if (step.event !== undefined) return [{ op: 'event', type: step.event, status: step.status, change }];
  const calls: ShopCall[] = [];
  if (step.action === 'ship') {
    if (change.kind === 'shipped') calls.push({ op: 'ship', trackingNumber: change.trackingNumber, carrier: change.carrier });
  } else if (step.action !== undefined) calls.push({ op: 'action', action: step.action });
  if (step.status !== null) calls.push({ op: 'status', status: step.status });
  if (step.note !== null) calls.push({ op: 'note', text: fill(step.note.text, change), customer: step.note.customer });
  return calls;
}
