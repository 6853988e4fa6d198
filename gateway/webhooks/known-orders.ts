import type { OrderReference } from '../../services/orders/index.ts';

/** Most references remembered; the oldest is forgotten first. */
const KNOWN_ORDERS_MAX = 10_000;

/**
 * Orders the gateway already knows by a reference (our order id, `<shop>:<externalId>`, or a bare
 * externalId only one shop uses). An order's id and externalId never change once placed, so a
 * remembered answer stays true: the payment matcher remembers what it found, and order intake
 * remembers each order it accepts under its id — a payment that names it (the usual case, a few
 * seconds later) then needs no look-up in Postgres.
 */
export function createKnownOrders(max = KNOWN_ORDERS_MAX) {
  const byRef = new Map<string, OrderReference>();
  return {
    get: (ref: string): OrderReference | undefined => byRef.get(ref),
    /** `ref` names exactly this order, once and for all (never an ambiguous bare externalId). */
    remember(ref: string, order: OrderReference): void {
      if (byRef.size >= max && !byRef.has(ref)) byRef.delete(byRef.keys().next().value as string);
      byRef.set(ref, order);
    },
  };
}

export type KnownOrders = ReturnType<typeof createKnownOrders>;
