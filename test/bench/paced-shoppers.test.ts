import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { pacedShoppersOnThread } from './paced-shoppers.ts';

const SECRET = 'whsec_paced_shoppers_test';
const SHOP_KEY = 'paced-shop-key';

/** What a stand-in gateway saw: each order placed, then its payment, in arrival order. */
interface Seen {
  kind: 'placed' | 'paid';
  orderId: string;
  at: number;
}

const read = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/**
 * The shoppers' side only: the bench's real gateway is the orderpilot process, which `npm run bench`
 * starts; here a stand-in answers the two routes the shoppers call, checks the shop key and the Stripe
 * signature as the gateway would, and records what it saw.
 */
async function standInGateway(seen: Seen[], opts: { failPayments?: boolean } = {}): Promise<string> {
  let next = 0;
  server = createServer((req, res) => {
    void read(req).then((body) => {
      if (req.url === '/orders' && req.headers.authorization === `Bearer ${SHOP_KEY}`) {
        const orderId = `ord_test_${++next}`;
        seen.push({ kind: 'placed', orderId, at: Date.now() });
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ orderId }));
        return;
      }
      if (req.url === '/webhooks/payments/stripe' && !opts.failPayments) {
        const event = Stripe.webhooks.constructEvent(body, String(req.headers['stripe-signature']), SECRET);
        const orderId = (event.data.object as unknown as { metadata: { order_id: string } }).metadata.order_id;
        seen.push({ kind: 'paid', orderId, at: Date.now() });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
        return;
      }
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":"NOPE"}');
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

describe("the bench's paced shoppers (test/bench/paced-shoppers.ts)", () => {
  it('place and pay every order from their own thread, and say when each webhook went out and how late each order started', async () => {
    const seen: Seen[] = [];
    const gatewayUrl = await standInGateway(seen);
    const before = Date.now();
    const { timed, lateMs, threadId } = await pacedShoppersOnThread({ gatewayUrl, shopKey: SHOP_KEY, secret: SECRET, rate: 40, orders: 12 });
    expect(threadId).not.toBe(0);
    expect(timed).toHaveLength(12);
    expect(lateMs).toHaveLength(12);
    for (const late of lateMs) expect(late).toBeGreaterThanOrEqual(0);
    const placed = new Map(seen.filter((s) => s.kind === 'placed').map((s) => [s.orderId, s.at]));
    const paid = new Map(seen.filter((s) => s.kind === 'paid').map((s) => [s.orderId, s.at]));
    expect(new Set(timed.map((t) => t.orderId))).toEqual(new Set(placed.keys()));
    for (const t of timed) {
      // Paid after it was placed, with a correctly signed webhook, sent at the time reported.
      expect(paid.get(t.orderId)).toBeGreaterThanOrEqual(placed.get(t.orderId)!);
      expect(t.paidAt).toBeGreaterThanOrEqual(placed.get(t.orderId)!);
      expect(t.paidAt).toBeLessThanOrEqual(paid.get(t.orderId)!);
      expect(t.paidAt).toBeGreaterThanOrEqual(before);
    }
  });

  it('run beforeStart once the thread is loaded and start the first order only after it resolved', async () => {
    const seen: Seen[] = [];
    const gatewayUrl = await standInGateway(seen);
    let seenAtStart = -1;
    let startedAt = 0;
    const { timed } = await pacedShoppersOnThread(
      { gatewayUrl, shopKey: SHOP_KEY, secret: SECRET, rate: 50, orders: 3 },
      {
        beforeStart: async () => {
          seenAtStart = seen.length;
          await new Promise((r) => setTimeout(r, 50));
          startedAt = Date.now();
        },
      },
    );
    expect(seenAtStart).toBe(0);
    expect(timed).toHaveLength(3);
    for (const s of seen) expect(s.at).toBeGreaterThanOrEqual(startedAt);
  });

  it('reject, with no order sent, when beforeStart fails', async () => {
    const seen: Seen[] = [];
    const gatewayUrl = await standInGateway(seen);
    await expect(
      pacedShoppersOnThread({ gatewayUrl, shopKey: SHOP_KEY, secret: SECRET, rate: 50, orders: 3 }, { beforeStart: () => Promise.reject(new Error('no snapshot')) }),
    ).rejects.toThrow('no snapshot');
    expect(seen).toEqual([]);
  });

  it("reject with the gateway's answer when a payment is refused", async () => {
    const gatewayUrl = await standInGateway([], { failPayments: true });
    await expect(pacedShoppersOnThread({ gatewayUrl, shopKey: SHOP_KEY, secret: SECRET, rate: 50, orders: 2 })).rejects.toThrow(
      /paced shoppers: .*HTTP 400: \{"code":"NOPE"\}/,
    );
  });
});
