import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import type { Logger } from '../logger.ts';
import { createHttpPost, type HttpPost } from '../sandbox/http-post.ts';

/**
 * A demo shop: places orders through `POST /orders` and pays them with signed Stripe webhooks at a
 * steady rate, with a realistic share of trouble. What goes wrong is chosen per order:
 *
 * - `badNip`: a company buyer with an invalid Polish NIP (the invoicing system refuses the document;
 *   the parcel still ships, an admin is notified);
 * - `outOfStock`: the warehouse refuses the shipment once (the order is held; a release goes through);
 * - `badAddress`: a postal code the warehouse cannot deliver to (held ADDRESS_INVALID until an admin
 *   corrects the address: a release with the same address is refused again, as a carrier would);
 * - `customerCancels`: a paid order whose parcel waits at the warehouse, for an admin to cancel (the
 *   shipment is cancelled, the payment refunded, the document corrected);
 * - `lostResponse`: the shop never sees the answer to `POST /orders` and sends it again, and the
 *   payment provider never sees our 200 and sends the webhook again (both must be harmless);
 * - `paymentFailed`: the first payment attempt fails, the customer pays on the second;
 * - `unpaid`: the customer walks away (the payment timeout cancels the order).
 *
 * The warehouse-side trouble needs the sandbox warehouse to play along: `onPlaced` tells the
 * caller which order got which trouble (the demo sets the sandbox's plan for that reference).
 */

export type Trouble = 'none' | 'badNip' | 'outOfStock' | 'badAddress' | 'customerCancels' | 'lostResponse' | 'paymentFailed' | 'unpaid';

export const DEFAULT_TROUBLE: Readonly<Record<Exclude<Trouble, 'none'>, number>> = {
  badNip: 0.04,
  outOfStock: 0.04,
  badAddress: 0.03,
  customerCancels: 0.02,
  lostResponse: 0.05,
  paymentFailed: 0.04,
  unpaid: 0.02,
};

export interface ShopOrder {
  externalId: string;
  currency: string;
  language?: 'pl' | 'en';
  customer: { email: string; name: string; company?: string; taxId?: string };
  billingAddress: { name: string; line1: string; city: string; postalCode: string; country: string; phone?: string };
  shippingAddress: { name: string; line1: string; city: string; postalCode: string; country: string; phone?: string };
  lines: Array<{ sku: string; name: string; quantity: number; unitPrice: number; taxRate: number }>;
  shippingPrice: number;
  total: number;
}

const PRODUCTS = [
  { sku: 'MUG-01', name: 'Kubek ceramiczny', unitPrice: 3900, taxRate: 23 },
  { sku: 'TEE-M', name: 'Koszulka bawełniana M', unitPrice: 7900, taxRate: 23 },
  { sku: 'BOOK-7', name: 'Książka: Wzorce projektowe', unitPrice: 5990, taxRate: 5 },
  { sku: 'TEA-100', name: 'Herbata liściasta 100 g', unitPrice: 2450, taxRate: 8 },
  { sku: 'LAMP-3', name: 'Lampka biurkowa LED', unitPrice: 14900, taxRate: 23 },
];
const PEOPLE = [
  { name: 'Jan Kowalski', city: 'Warszawa', postalCode: '00-001', line1: 'ul. Prosta 1' },
  { name: 'Anna Nowak', city: 'Kraków', postalCode: '30-002', line1: 'ul. Długa 12/4' },
  { name: 'Piotr Wiśniewski', city: 'Gdańsk', postalCode: '80-003', line1: 'ul. Morska 7' },
  { name: 'Maria Wójcik', city: 'Poznań', postalCode: '60-004', line1: 'os. Zielone 3' },
];

/** A random valid Polish NIP (checksum digit per the official weights). */
export function validNip(random: () => number = Math.random): string {
  const w = [6, 5, 7, 2, 3, 4, 5, 6, 7];
  for (;;) {
    const d = Array.from({ length: 9 }, (_, i) => (i === 0 ? 1 + Math.floor(random() * 9) : Math.floor(random() * 10)));
    const c = d.reduce((s, x, i) => s + x * (w[i] ?? 0), 0) % 11;
    if (c !== 10) return `${d.join('')}${c}`;
  }
}

/** An order as a shop would send it; `trouble` shapes the data (bad NIP) where the data is the trouble. */
export function buildShopOrder(trouble: Trouble, random: () => number = Math.random, externalId = `SHOP-${randomUUID().slice(0, 13)}`): ShopOrder {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(random() * a.length)] as T;
  const person = pick(PEOPLE);
  const lines = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({ ...pick(PRODUCTS), quantity: 1 + Math.floor(random() * 3) }));
  const shippingPrice = 1499;
  const total = lines.reduce((s, l) => s + l.quantity * l.unitPrice, 0) + shippingPrice;
  const address = { name: person.name, line1: person.line1, city: person.city, postalCode: person.postalCode, country: 'PL', phone: '+48500100200' };
  // A postal code typed without its dash: no carrier delivers to it until an admin corrects it.
  const shippingAddress = trouble === 'badAddress' ? { ...address, postalCode: person.postalCode.replace('-', '') } : address;
  const company = trouble === 'badNip' || random() < 0.3;
  const email = `${person.name.split(' ')[0]?.toLowerCase() ?? 'klient'}.${externalId.toLowerCase()}@example.com`;
  return {
    externalId,
    currency: 'PLN',
    customer: company
      ? { email, name: person.name, company: `${person.name.split(' ')[1] ?? 'Firma'} Sp. z o.o.`, taxId: trouble === 'badNip' ? '1234567890' : validNip(random) }
      : { email, name: person.name },
    billingAddress: address,
    shippingAddress,
    lines,
    shippingPrice,
    total,
  };
}

export function pickTrouble(shares: Partial<Record<Exclude<Trouble, 'none'>, number>>, random: () => number = Math.random): Trouble {
  const r = random();
  let acc = 0;
  for (const [kind, share] of Object.entries(shares) as Array<[Exclude<Trouble, 'none'>, number]>) {
    acc += share;
    if (r < acc) return kind;
  }
  return 'none';
}

/** A Stripe `checkout.session.*` event for an order, signed like Stripe does (the stripe package's own signer). */
export function stripePaymentEvent(
  secret: string,
  orderId: string,
  amount: number,
  currency: string,
  opts: { eventId?: string; failed?: boolean } = {},
): { eventId: string; paymentIntent: string; body: string; headers: Record<string, string> } {
  const eventId = opts.eventId ?? `evt_${randomUUID().replace(/-/g, '')}`;
  const session = {
    id: `cs_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
    object: 'checkout.session',
    payment_status: opts.failed ? 'unpaid' : 'paid',
    amount_total: amount,
    currency: currency.toLowerCase(),
    payment_intent: `pi_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
    client_reference_id: null,
    metadata: { order_id: orderId },
  };
  const type = opts.failed ? 'checkout.session.async_payment_failed' : 'checkout.session.completed';
  const body = JSON.stringify({ id: eventId, object: 'event', api_version: '2025-01-27', created: Math.floor(Date.now() / 1000), type, data: { object: session } });
  const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret });
  return { eventId, paymentIntent: session.payment_intent, body, headers: { 'content-type': 'application/json', 'stripe-signature': signature } };
}

/** The headers of `POST /orders` for a shop with this key. */
export function shopHeaders(shopKey: string): Record<string, string> {
  return { 'content-type': 'application/json', authorization: `Bearer ${shopKey}` };
}

/** POSTs JSON (through `http`) until the server answers 2xx (or `attempts` run out); network errors and 5xx are retried. */
export async function postUntilAccepted(
  http: HttpPost,
  url: string,
  body: string,
  headers: Record<string, string>,
  opts: { attempts?: number; timeoutMs?: number; loseFirstAnswer?: boolean } = {},
): Promise<{ status: number; json: unknown; attempts: number }> {
  const attempts = opts.attempts ?? 20;
  let last = 'no attempt';
  for (let n = 1; n <= attempts; n++) {
    try {
      const res = await http.post(url, body, headers, opts.timeoutMs);
      const text = res.text;
      if (res.ok && opts.loseFirstAnswer && n === 1) continue; // the answer "never arrived": send again
      if (res.ok) return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null, attempts: n };
      last = `HTTP ${res.status}: ${text.slice(0, 200)}`;
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new PermanentHttpError(last);
    } catch (err) {
      if (err instanceof PermanentHttpError) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** n)));
  }
  throw new Error(`POST ${url} failed after ${attempts} attempts: ${last}`);
}

export class PermanentHttpError extends Error {
  readonly code = 'HTTP_PERMANENT';
}

export interface DemoShopOptions {
  /** Base URL of the gateway (`http://127.0.0.1:3000`), or a function choosing one per request. */
  gatewayUrl: string | (() => string);
  /** The shop's intake key (one from SHOP_KEYS), sent as `Authorization: Bearer <key>`. */
  shopKey: string;
  stripeSecret: string;
  /** Orders per second (steady). */
  ratePerSecond: number;
  /** Stop after this many orders (default: run until stop()). */
  maxOrders?: number;
  trouble?: Partial<Record<Exclude<Trouble, 'none'>, number>>;
  /** The troubles of the first orders, in order (the demo starts with one order of each repair kind). */
  firstTroubles?: readonly Trouble[];
  /** Delay between the order and its payment (a customer in the checkout), default 300 ms. */
  payAfterMs?: number;
  /** Called once the gateway accepted an order, before it is paid (the demo plans warehouse trouble here). */
  onPlaced?: (order: PlacedOrder) => void | Promise<void>;
  /** Called after each payment webhook was accepted (the bench and chaos driver time from here). */
  onPaid?: (order: PlacedOrder, eventId: string) => void;
  /** Stripe (the sandbox): each checkout's payment is made there first, so a later refund finds it. */
  stripe?: { addPayment(paymentIntent: string, amount: number, currency: string): void };
  logger: Logger;
  random?: () => number;
}

export interface PlacedOrder {
  orderId: string;
  externalId: string;
  total: number;
  currency: string;
  trouble: Trouble;
}

export interface DemoShop {
  readonly stats: { placed: number; paid: number; failedPayments: number; unpaid: number; errors: number; byTrouble: Record<string, number> };
  readonly orders: readonly PlacedOrder[];
  /** Resolves when maxOrders were placed and paid (or stop() was called). */
  readonly done: Promise<void>;
  /** Stops placing orders; orders in flight are finished (placed and paid). */
  stop(): Promise<void>;
}

export function startDemoShop(o: DemoShopOptions): DemoShop {
  const random = o.random ?? Math.random;
  const gateway = typeof o.gatewayUrl === 'function' ? o.gatewayUrl : () => o.gatewayUrl as string;
  const stats: DemoShop['stats'] = { placed: 0, paid: 0, failedPayments: 0, unpaid: 0, errors: 0, byTrouble: {} };
  const orders: PlacedOrder[] = [];
  const inflight = new Set<Promise<void>>();
  let stopped = false;
  let started = 0;
  const log = o.logger.child({ component: 'demo-shop' });
  const http = createHttpPost();

  async function one(n: number): Promise<void> {
    const trouble = o.firstTroubles?.[n] ?? pickTrouble(o.trouble ?? DEFAULT_TROUBLE, random);
    stats.byTrouble[trouble] = (stats.byTrouble[trouble] ?? 0) + 1;
    const order = buildShopOrder(trouble, random);
    const lost = trouble === 'lostResponse';
    const placed = await postUntilAccepted(http, `${gateway()}/orders`, JSON.stringify(order), shopHeaders(o.shopKey), { loseFirstAnswer: lost });
    const orderId = (placed.json as { orderId?: string } | null)?.orderId;
    if (typeof orderId !== 'string') throw new Error(`POST /orders answered without an orderId: ${JSON.stringify(placed.json)}`);
    const p: PlacedOrder = { orderId, externalId: order.externalId, total: order.total, currency: order.currency, trouble };
    orders.push(p);
    stats.placed++;
    await o.onPlaced?.(p);
    if (trouble === 'unpaid') {
      stats.unpaid++;
      log.info({ orderId, externalId: order.externalId }, 'demo shop: customer walked away without paying');
      return;
    }
    await new Promise((r) => setTimeout(r, o.payAfterMs ?? 300));
    const stripeUrl = () => `${gateway()}/webhooks/payments/stripe`;
    if (trouble === 'paymentFailed') {
      const f = stripePaymentEvent(o.stripeSecret, orderId, order.total, order.currency, { failed: true });
      await postUntilAccepted(http, stripeUrl(), f.body, f.headers);
      stats.failedPayments++;
    }
    const ev = stripePaymentEvent(o.stripeSecret, orderId, order.total, order.currency);
    o.stripe?.addPayment(ev.paymentIntent, order.total, order.currency);
    await postUntilAccepted(http, stripeUrl(), ev.body, ev.headers, { loseFirstAnswer: lost });
    stats.paid++;
    o.onPaid?.(p, ev.eventId);
    log.debug({ orderId, externalId: order.externalId, trouble }, 'demo shop: order placed and paid');
  }

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const intervalMs = 1000 / Math.max(0.01, o.ratePerSecond);
  const t0 = performance.now();
  let timer: NodeJS.Timeout | null = null;
  const finishIfDone = () => {
    if ((stopped || (o.maxOrders !== undefined && started >= o.maxOrders)) && inflight.size === 0) resolveDone();
  };
  const tick = () => {
    timer = null;
    if (stopped) return finishIfDone();
    // Steady rate: start every order that is due by now (catches up after a slow moment).
    const due = Math.floor((performance.now() - t0) / intervalMs) + 1;
    while (started < due && !stopped && (o.maxOrders === undefined || started < o.maxOrders)) {
      const p: Promise<void> = one(started++)
        .catch((err: unknown) => {
          stats.errors++;
          log.warn({ err: err instanceof Error ? err.message : String(err) }, 'demo shop: order could not be placed or paid');
        })
        .finally(() => {
          inflight.delete(p);
          finishIfDone();
        });
      inflight.add(p);
    }
    if (o.maxOrders !== undefined && started >= o.maxOrders) return finishIfDone();
    timer = setTimeout(tick, Math.max(1, t0 + started * intervalMs - performance.now()));
  };
  tick();

  return {
    stats,
    orders,
    done,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
      http.close();
      resolveDone();
    },
  };
}
