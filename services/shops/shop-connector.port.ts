import type { ShopKind } from '../../infra/config.ts';
import type { OrderData } from '../../machines/order/index.ts';
import type { ShopChange } from '../contracts/index.ts';

/**
 * One call to a shop, planned from the mapping (shop-mapping.ts): set a status, add a note, or (the
 * generic webhook connector) send one signed event carrying the change and our status word.
 */
export type ShopCall =
  | { op: 'status'; status: string }
  | { op: 'note'; text: string; customer: boolean }
  | { op: 'event'; type: string; status: string | null; change: ShopChange }
  | { op: 'action'; action: 'hold' | 'unhold' | 'cancel' }
  | { op: 'ship'; trackingNumber: string; carrier: string | null };

/** What a call is part of, so the adapter can log it next to the order. */
export interface CallMeta {
  orderId: string;
  version: number;
  /** `<update message id>:<step>`: a step logged ok is not sent again on a redelivery. */
  callKey: string;
}

/** The CANCEL an order cancelled at its shop sends ours (stable id: sent once however often the shop reports it). */
export function shopCancel(shop: string, orderId: string, status: string): { id: string; payload: { note: string } } {
  return { id: `shop-cancelled:${orderId}`, payload: { note: `Cancelled at the shop ${shop} (its status "${status}").` } };
}

/** An order as a shop sent it, mapped to ours (the gateway gives it our order id). */
export interface IncomingOrder {
  /** The shop's id of the order (REST calls use it), our externalId. */
  externalId: string;
  /** The shop's last-modified stamp (with the id, the de-duplication key of a webhook). */
  modified: string;
  /** The shop's status of the order as it arrived. */
  status: string;
  /** The shop's own paid signal (used only when SHOP_<NAME>_PAYMENT=shop). */
  paid: { paymentId: string; method: string | null } | null;
  /** Cancelled at the shop (WooCommerce status `cancelled`, Magento state `canceled`): our order is cancelled too. */
  cancelled: boolean;
  order: Omit<OrderData, 'orderId'>;
}

/**
 * A shop connector: how orders come in from one kind of shop (`mapIncoming`, pure) and how our
 * changes go back (`pushStatus`, `addNote`). Adapters throw OrderpilotError: retryable for a shop
 * that is down, slow or rate-limiting; SHOP_REJECTED (permanent) when it refuses the call.
 */
export interface ShopConnector {
  readonly kind: ShopKind;
  readonly shop: string;
  pushStatus(externalId: string, status: string, meta: CallMeta): Promise<void>;
  addNote(externalId: string, note: { text: string; customer: boolean }, meta: CallMeta): Promise<void>;
  /** Connectors that speak in events (the generic webhook connector): one event per change. */
  sendEvent?(externalId: string, event: { type: string; status: string | null; change: ShopChange }, meta: CallMeta): Promise<void>;
  /** Connectors with order actions (Magento): hold, unhold, cancel, or a shipment with its tracking number. */
  act?(externalId: string, call: Extract<ShopCall, { op: 'action' | 'ship' }>, meta: CallMeta): Promise<void>;
}

/** One request to a shop and its answer, as the shop log keeps it. */
export interface ShopExchange {
  shop: string;
  orderId: string | null;
  externalId: string | null;
  version: number | null;
  callKey: string | null;
  kind: 'status' | 'note' | 'event' | 'action' | 'gave-up' | 'replayed' | 'skipped-stale' | 'skipped-unknown-shop';
  method?: string | null;
  url?: string | null;
  request?: string | null;
  httpStatus?: number | null;
  response?: string | null;
  ok: boolean;
  errorCode?: string | null;
  summary: string;
}

/** The shop log and each order's progress at its shop (Postgres: shop_log, shop_order_state). */
export interface ShopLogPort {
  record(e: ShopExchange): Promise<void>;
  /** Was this call already made successfully (a redelivery after a crash)? */
  isDone(callKey: string): Promise<boolean>;
  state(shop: string, orderId: string): Promise<{ lastVersion: number; lastStatus: string | null } | null>;
  /** Records that updates up to `version` are handled (never moves backwards). */
  advance(s: { shop: string; orderId: string; externalId: string; version: number; lastStatus: string | null }): Promise<void>;
}
