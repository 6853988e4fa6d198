import type { Logger } from '../../infra/logger.ts';
import { retryDelayMs, type RetryPolicy } from '../../infra/retry-policy.ts';
import { ShopUpdateSchema, validate, type Envelope } from '../contracts/index.ts';
import type { ShopApplyResult, ShopAttempt } from './shop-update.handler.ts';
import type { ShopWaiting, WaitingUpdate } from './shop-waiting.store.ts';

export interface ShopQueueDeps {
  apply(env: Envelope, attempt: ShopAttempt): Promise<ShopApplyResult>;
  waiting: ShopWaiting;
  policy: RetryPolicy;
  /** A shop's tries of one update before it is given up; 0 = only `retryForMs` limits it. */
  maxAttempts(shop: string): number;
  /** How long after its first failure an update is still tried (SHOPS_RETRY_HOURS). */
  retryForMs: number;
  /** How long a worker may hold an update it tries before another may take it. */
  leaseMs: number;
  /** How often the worker looks for due updates when there was nothing to do. */
  pollMs: number;
  logger: Logger;
}

/**
 * How shop updates wait for a shop that is away, without holding back anyone else.
 *
 * An update from its partition is tried once at once. If the shop is down, slow or rate-limiting it
 * is parked in `shop_waiting` with its next attempt and the partition goes on with other orders; every
 * later update of the same order parks behind it, so one order's updates still reach the shop in
 * order. The worker (every shops instance runs one; claims are leased and skip each other) tries each
 * order's oldest waiting update when due, with the shops' retry policy, for up to SHOPS_RETRY_HOURS
 * (or SHOPS_MAX_ATTEMPTS tries), then gives it up (an admin is told) and the next one goes.
 *
 * While a shop fails, this process parks its new updates without calling it until the retry delay
 * has passed (a down shop costs one timeout, not one per order); the first success reopens it.
 */
export function createShopQueue(deps: ShopQueueDeps) {
  const log = deps.logger.child({ component: 'shop-queue' });
  const coolUntil = new Map<string, number>();

  const failed = (shop: string, delayMs: number) => coolUntil.set(shop, Math.max(coolUntil.get(shop) ?? 0, Date.now() + delayMs));
  const describe = (r: Extract<ShopApplyResult, { kind: 'retry' }>) => `${r.err.code}: ${r.err.message}`.slice(0, 2000);

  /** A shop-update from its NATS partition. Throws only for database trouble (the runner retries). */
  async function fromPartition(env: Envelope): Promise<void> {
    const u = validate(ShopUpdateSchema, env.payload, 'shop-update payload');
    const park = (attempts: number, nextAt: Date, error: string | null) => deps.waiting.park({ shop: u.shop, orderId: u.orderId, envelope: env, attempts, nextAt, error });
    if (await deps.waiting.hasWaiting(u.shop, u.orderId)) return park(0, new Date(), null);
    const cool = coolUntil.get(u.shop) ?? 0;
    if (cool > Date.now()) return park(0, new Date(cool), null);
    const r = await deps.apply(env, { attempt: 1, lastAttempt: deps.maxAttempts(u.shop) === 1 });
    if (r.kind === 'done') return;
    const delay = retryDelayMs(deps.policy, 1, r.err);
    failed(u.shop, delay);
    log.warn({ shop: u.shop, orderId: u.orderId, code: r.err.code, delay }, 'shop did not take the update; it waits and is tried again');
    await park(1, new Date(Date.now() + delay), describe(r));
  }

  async function tryWaiting(w: WaitingUpdate): Promise<void> {
    const attempt = w.attempts + 1;
    const age = w.firstFailedAt === null ? 0 : Date.now() - w.firstFailedAt.getTime();
    const max = deps.maxAttempts(w.shop);
    const lastAttempt = (max > 0 && attempt >= max) || age >= deps.retryForMs;
    try {
      const r = await deps.apply(w.envelope, { attempt, lastAttempt });
      if (r.kind === 'done') {
        coolUntil.delete(w.shop);
        await deps.waiting.remove(w.id);
        return;
      }
      const delay = retryDelayMs(deps.policy, attempt, r.err);
      failed(w.shop, delay);
      await deps.waiting.retryLater(w.id, attempt, new Date(Date.now() + delay), describe(r));
    } catch (err) {
      // Database trouble: the claim expires and the update is tried again then.
      log.error({ shop: w.shop, orderId: w.orderId, err: err instanceof Error ? err.message : String(err) }, 'waiting shop update not handled; tried again after its lease');
    }
  }

  /** Tries due waiting updates until there are none (one order head each, several orders at once). */
  function startWorker(): { stop(): Promise<void> } {
    let stopping = false;
    let wake: (() => void) | null = null;
    const done = (async () => {
      while (!stopping) {
        let claimed: WaitingUpdate[] = [];
        try {
          claimed = await deps.waiting.claimDue(8, deps.leaseMs);
          await Promise.all(claimed.map(tryWaiting));
        } catch (err) {
          log.error({ err: err instanceof Error ? err.message : String(err) }, 'could not read the waiting shop updates');
        }
        if (claimed.length === 0 && !stopping) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, deps.pollMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = null;
        }
      }
    })();
    return {
      async stop() {
        stopping = true;
        (wake as (() => void) | null)?.();
        await done;
      },
    };
  }

  return { fromPartition, startWorker };
}
