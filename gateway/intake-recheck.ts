import { startPeriodic, withTryLock } from '../infra/runtime/periodic.ts';
import type { OrderData } from '../machines/order/index.ts';
import { missingOrders } from '../services/orders/index.ts';
import { recheckWindow, type RecheckOptions } from './recheck-window.ts';

export interface IntakeRecheckOptions extends RecheckOptions {
  /** Republishes before an order still missing is given up on, loudly (default 10). */
  maxAttempts?: number;
  /** Publishes the order's ORDER_PLACED again: the same envelope id, a new NATS message id. */
  republish: (order: OrderData, attempt: number) => Promise<void>;
}

export interface IntakeRecheck {
  /** One check now; resolves with the order ids it republished. */
  check(): Promise<string[]>;
  stop(): Promise<void>;
}

const RECHECK_LOCK = 0x6f70_6972; // 'opir'

/**
 * Every order the gateway accepted (answered 202) comes to exist, whatever NATS lost: its
 * ORDER_PLACED was stored by JetStream before the answer, yet a NATS cluster node SIGKILLed on
 * nats-server 2.9 can lose a work-queue message (README, "Scaling out"). So the gateway walks
 * `order_intake` by time, asks the orders service which of those orders do not exist
 * (`missingOrders`), and republishes each one's ORDER_PLACED under its stable envelope id
 * (`order-placed:<orderId>`, so the order host's inbox drops it if the first one arrives after all)
 * with a new NATS message id (the duplicate window would drop the old one). Orders still missing are
 * asked again on every check, up to `maxAttempts`, then given up on with an error in the log.
 * One gateway at a time checks (a Postgres advisory lock); each keeps its own place in time.
 */
export function startIntakeRecheck(o: IntakeRecheckOptions): IntakeRecheck {
  const log = o.logger.child({ component: 'intake-recheck' });
  const cursor = recheckWindow(o);
  const maxAttempts = o.maxAttempts ?? 10;
  /** Orders found missing, asked again on every check until they exist. */
  const missing = new Map<string, { order: OrderData; attempts: number }>();

  async function checkOnce(): Promise<string[]> {
    const found = await withTryLock(o.sql, RECHECK_LOCK, async (tx) => {
      const { from, until } = cursor.next();
      const rows = await tx<{ order_id: string; order_data: OrderData; created_at: Date }[]>`
        select order_id, order_data, created_at from order_intake
         where created_at > ${from} and created_at <= ${until}
         order by created_at limit ${cursor.maxRows}`;
      cursor.advance(until, rows.length, rows.at(-1)?.created_at);
      const candidates = new Map<string, OrderData>(rows.map((r) => [r.order_id, r.order_data]));
      for (const [id, m] of missing) candidates.set(id, m.order);
      return { candidates, absent: new Set(await missingOrders(tx, [...candidates.keys()])) };
    });
    if (!found) return [];
    for (const id of missing.keys()) if (!found.absent.has(id)) missing.delete(id);
    // Every order found missing is remembered before any is republished: the window has moved past
    // them, so should a republish fail (NATS away), the next check still asks for the rest.
    for (const id of found.absent) if (!missing.has(id)) missing.set(id, { order: found.candidates.get(id) as OrderData, attempts: 0 });
    const republished: string[] = [];
    for (const id of found.absent) {
      if (periodic.stopping) break;
      const order = found.candidates.get(id) as OrderData;
      const attempts = (missing.get(id)?.attempts ?? 0) + 1;
      if (attempts > maxAttempts) {
        log.error({ orderId: id, externalId: order.externalId, attempts: attempts - 1 }, 'order accepted at intake still does not exist after republishing it; given up (look at NATS and the order host)');
        missing.delete(id);
        continue;
      }
      await o.republish(order, attempts);
      missing.set(id, { order, attempts });
      republished.push(id);
      log.warn({ orderId: id, externalId: order.externalId, attempt: attempts }, 'order accepted at intake does not exist: ORDER_PLACED republished');
    }
    return republished;
  }

  const periodic = startPeriodic({
    everyMs: o.everyMs,
    task: checkOnce,
    logger: log,
    what: 'intake recheck',
  });

  return {
    check: periodic.run,
    stop: periodic.stop,
  };
}
