/**
 * The bench's paced shoppers on a thread of their own: `orders` orders placed (POST /orders) and paid
 * (a signed Stripe webhook) at `rate` per second, each due at `start + i / rate`.
 *
 * Why a thread: the driver's main thread also runs the sandboxes — the invoicing system renders a PDF
 * (3–6 ms of synchronous pdfkit each), the SMTP sink and the warehouse answer and sign — and while a
 * few of those ran back to back, the pacing timer fired late: measured on the main thread (1,000
 * orders at 50/s, 2026-12-03), the shoppers started their orders p50 2.6 / p90 78 / p99 170 ms after
 * they were due, so one order in ten went out in a bunch with the next few, and a "steady 50 orders/s"
 * reached the system as bursts. Here the timer has an event loop to itself; how late each order still
 * went out is returned and printed beside the latencies, so the pacing is measured, not assumed.
 *
 * The thread runs in the driver's process: its CPU is still counted as the driver's.
 */
import { isMainThread, parentPort, threadId, Worker, workerData } from 'node:worker_threads';
import { buildShopOrder, postUntilAccepted, shopHeaders, stripePaymentEvent } from '../../infra/demo/demo-shop.ts';
import { createHttpPost, type HttpPost } from '../../infra/sandbox/http-post.ts';

export interface PacedShoppersInput {
  gatewayUrl: string;
  shopKey: string;
  /** The Stripe webhook secret the payments are signed with. */
  secret: string;
  rate: number;
  orders: number;
}

/** One order: when its payment webhook was sent (epoch ms, as the database's timestamps). */
export interface Timed {
  orderId: string;
  paidAt: number;
}

export interface PacedShoppersResult {
  timed: Timed[];
  /** For each order, how many ms after its due time it was started, in the order they were due. */
  lateMs: number[];
  /** The thread the loop ran on (0: the main thread). */
  threadId: number;
}

/** One order: placed, then paid with a signed webhook; resolves with the moment the webhook was sent. */
export async function placeAndPay(http: HttpPost, o: Pick<PacedShoppersInput, 'gatewayUrl' | 'shopKey' | 'secret'>): Promise<Timed> {
  const order = buildShopOrder('none');
  const placed = await postUntilAccepted(http, `${o.gatewayUrl}/orders`, JSON.stringify(order), shopHeaders(o.shopKey));
  const orderId = (placed.json as { orderId: string }).orderId;
  const ev = stripePaymentEvent(o.secret, orderId, order.total, order.currency);
  const paidAt = Date.now();
  await postUntilAccepted(http, `${o.gatewayUrl}/webhooks/payments/stripe`, ev.body, ev.headers);
  return { orderId, paidAt };
}

/** The paced loop itself, on whatever thread calls it. */
export async function pacedShoppers(o: PacedShoppersInput): Promise<PacedShoppersResult> {
  const http = createHttpPost();
  const timed: Timed[] = [];
  const lateMs: number[] = [];
  const inflight: Array<Promise<void>> = [];
  // The first order that failed (its requests retried and gave up): no more are started, and the run
  // rejects with it once those under way are done.
  let failed: { err: unknown } | undefined;
  try {
    const start = performance.now();
    for (let i = 0; i < o.orders && failed === undefined; i++) {
      const due = start + (i * 1000) / o.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      lateMs.push(Math.round(Math.max(0, performance.now() - due) * 10) / 10);
      inflight.push(placeAndPay(http, o).then((t) => void timed.push(t), (err: unknown) => void (failed ??= { err })));
    }
    await Promise.all(inflight);
    if (failed !== undefined) throw failed.err;
  } finally {
    http.close();
  }
  return { timed, lateMs, threadId };
}

/**
 * Runs `pacedShoppers` on a worker thread (this file, loaded through tsx by paced-shoppers.thread.mjs)
 * and resolves with its result; a failure in the thread (a gateway that stopped answering) rejects
 * with its message. `beforeStart` runs once the thread is loaded and before its first order, so what
 * it measures from there leaves out starting the thread (tsx compiling this file on it).
 */
export function pacedShoppersOnThread(o: PacedShoppersInput, opts: { beforeStart?: () => Promise<void> } = {}): Promise<PacedShoppersResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./paced-shoppers.thread.mjs', import.meta.url), { workerData: { pacedShoppers: o } });
    let settled = false;
    const fail = (err: unknown) => {
      settled = true;
      void worker.terminate();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    worker.on('message', (m: { ready: true } | { ok: true; result: PacedShoppersResult } | { ok: false; error: string }) => {
      if ('ready' in m) {
        Promise.resolve(opts.beforeStart?.()).then(() => worker.postMessage('go'), fail);
        return;
      }
      settled = true;
      // The answer is in: end the thread (after a failure, the other orders' requests may still run).
      void worker.terminate();
      if (m.ok) resolve(m.result);
      else reject(new Error(`paced shoppers: ${m.error}`));
    });
    worker.once('error', fail);
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`paced shoppers: the thread exited (code ${code}) without a result`));
    });
  });
}

const input = isMainThread ? undefined : (workerData as { pacedShoppers?: PacedShoppersInput } | null)?.pacedShoppers;
if (input !== undefined && parentPort !== null) {
  const port = parentPort;
  // Loaded: say so, and start the orders when told to.
  port.once('message', () => {
    pacedShoppers(input).then(
      (result) => port.postMessage({ ok: true, result }),
      (err: unknown) => port.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  port.postMessage({ ready: true });
}
