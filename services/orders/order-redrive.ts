import type { NatsConnection } from '@nats-io/transport-node';
import type { Sql } from '../../infra/db/postgres.ts';
import type { Logger } from '../../infra/logger.ts';
import { replayDeadLetter } from '../../infra/db/dead-letters.ts';
import { jetstreamOf, publishEnvelope } from '../../infra/nats/publish.ts';
import { startPeriodic, withTryLock } from '../../infra/runtime/periodic.ts';
import { awaitedEffects, restoreOrderSnapshot, type OrderEffect, type OrderSnapshot } from '../../machines/order/index.ts';
import type { Envelope, Names } from '../contracts/index.ts';
import { planEffects } from './order-effects.ts';

export interface OrderRedriveOptions {
  sql: Sql;
  nc: NatsConnection;
  names: Names;
  logger: Logger;
  /** Pause between checks (0: only `check()` by hand). */
  everyMs: number;
  /** An order quiet this long while it waits for a service is asked again; each further attempt waits twice as long. */
  afterMs: number;
  /** Orders created longer ago than this are not looked at (default 24 h). */
  lookbackMs?: number;
  /** Attempts before an order still waiting is given up on, with a critical admin notification (default 5). */
  maxAttempts?: number;
  /** Most orders one check reads (default 2,000, the longest-waiting first). */
  maxRows?: number;
  paymentTimeoutMs: number;
}

export interface Redriven {
  orderId: string;
  /** The commands sent again (`issue-document`, `submit-shipment`, …) or `PAYMENT_TIMEOUT`. */
  sent: string[];
  attempt: number;
}

export interface OrderRedrive {
  /** One check now; resolves with what it sent again. */
  check(): Promise<Redriven[]>;
  stop(): Promise<void>;
}

const REDRIVE_LOCK = 0x6f70_7264; // 'oprd'
const CONSUMER = 'orders';

type Candidate = { id: string; version: number; state: string; snapshot: { value: OrderSnapshot['value']; context: unknown } };

/**
 * Nothing an order waits for is lost for good, whatever NATS lost. JetStream stored each command
 * and answer before anyone went on, yet a NATS cluster node SIGKILLed on nats-server 2.9 can lose a
 * work-queue message outright (README, "Scaling out"): a command that never reaches its service, or
 * the service's answer that never reaches the order, leaves the order waiting forever. So every
 * `everyMs` one orders process (a Postgres advisory lock) looks for orders quiet for `afterMs` that
 * still wait for a service (`awaitedEffects`, from the machine's state: a submit, the document or its
 * e-mail, a refund, …) and sends those commands again, built from the order as it is now. Every
 * service answers a repeated command idempotently (the submit looks its reference up, the document
 * its order, a refund goes by its id, an e-mail is one per document) and its answer to a command it
 * already carried out is the same answer again; the order ignores an answer it has. Likewise a
 * pending order past its payment timeout with no timer left (it fired; its message was lost) gets
 * its timer set again, due at once (a second timeout, should the first arrive after all, is ignored).
 * Attempts back off (`afterMs`, ×2 each time) and reset when the order moves; after `maxAttempts`
 * an admin is notified (critical, ORDER_STALLED) and the order is left alone. And an event that came
 * before its order and was dead-lettered `UNKNOWN_ORDER` is replayed once the order exists (whatever
 * brought the order back: the sweeper, the intake recheck, a late delivery).
 */
export function startOrderRedrive(o: OrderRedriveOptions): OrderRedrive {
  const log = o.logger.child({ component: 'order-redrive' });
  const maxAttempts = o.maxAttempts ?? 5;
  const maxRows = o.maxRows ?? 2000;
  /** Per order: the version last re-driven, how often, when; `gaveUp` once an admin was told. */
  const tried = new Map<string, { version: number; attempts: number; lastAt: number; gaveUp: boolean }>();

  const publishAll = async (messages: ReadonlyArray<{ subject: string; envelope: Envelope }>) => {
    await Promise.all(messages.map((m) => publishEnvelope(o.nc, m.subject, m.envelope)));
  };

  async function checkOnce(): Promise<Redriven[]> {
    const found = await withTryLock(o.sql, REDRIVE_LOCK, async (tx) => {
      const now = Date.now();
      const cut = new Date(now - o.afterMs);
      const since = new Date(now - (o.lookbackMs ?? 24 * 3600_000));
      // The summary columns and the context narrow it down; `awaitedEffects` decides. A scan of the
      // window's orders (about 0.2 s of Postgres per 100,000 orders, measured): cheap once a minute.
      const orders = await tx<Candidate[]>`
        select id, version, state, snapshot from orders
         where created_at > ${since} and updated_at < ${cut}
           and ((state = 'pending' and created_at < ${new Date(now - o.paymentTimeoutMs - o.afterMs)})
             or state_value->'processing'->>'fulfilment' in ('submitting', 'cancelling')
             or document_state in ('requested', 'issued')
             or (state = 'cancelled' and document_state = 'none' and (snapshot->'context'->>'documentRequests')::int > 0
                 and snapshot->'context'->>'documentFailure' is null)
             or snapshot->'context'->'shipmentCancel'->>'status' = 'requested'
             or snapshot->'context'->'refunds' @> '[{"status":"requested"}]'
             or snapshot->'context'->'corrections' @> '[{"status":"requested"}]'
             or snapshot->'context'->'corrections' @> '[{"status":"issued"}]'
             or jsonb_typeof(snapshot->'context'->'pendingShippingAddress') = 'object')
         order by updated_at limit ${maxRows}`;
      // Pending past its payment timeout with no timer left: the timer fired, and its message was lost.
      const pending = orders.filter((r) => r.state === 'pending').map((r) => r.id);
      const timed = pending.length === 0 ? [] : await tx<{ order_id: string }[]>`select order_id from timers where order_id = any(${pending}::text[]) and kind = 'payment-timeout'`;
      const lostTimers = new Set(pending.filter((id) => !timed.some((t) => t.order_id === id)));
      // Events that came before their order (dead-lettered UNKNOWN_ORDER, e.g. behind an ORDER_PLACED
      // NATS passed over or lost) whose order exists now: replayed, oldest first.
      const orphans = await tx<{ id: string; order_id: string }[]>`
        select d.id::text, d.order_id from dead_letters d
         where d.replayed_at is null and d.error_code = 'UNKNOWN_ORDER' and d.created_at > ${since}
           and exists (select 1 from orders o where o.id = d.order_id)
         order by d.id limit ${maxRows}`;
      return { orders, lostTimers, orphans };
    });
    if (!found) return [];
    for (const d of found.orphans) {
      if (periodic.stopping) break;
      await replayDeadLetter(o.sql, async (subject, data, msgID) => void (await jetstreamOf(o.nc).publish(subject, data, { msgID })), d.id, 'order re-drive', 'its order exists now');
      log.warn({ orderId: d.order_id, deadLetter: d.id }, 'event dead-lettered before its order existed replayed: the order exists now');
    }
    const now = Date.now();
    const out: Redriven[] = [];
    const seen = new Set<string>();
    for (const row of found.orders) {
      if (periodic.stopping) break;
      seen.add(row.id);
      const snapshot = restoreOrderSnapshot(row.snapshot);
      const awaited: OrderEffect[] = awaitedEffects(snapshot);
      const timer = found.lostTimers.has(row.id);
      if (awaited.length === 0 && !timer) continue;
      const prev = tried.get(row.id);
      const same = prev !== undefined && prev.version === row.version;
      if (same && prev.gaveUp) continue;
      const attempts = same ? prev.attempts : 0;
      if (same && now - prev.lastAt < o.afterMs * 2 ** (attempts - 1)) continue;
      const what = [...awaited.map((e) => e.type), ...(timer ? ['PAYMENT_TIMEOUT'] : [])];
      const cause = { id: `redrive:${row.id}:${row.version}:${attempts + 1}`, correlationId: `redrive:${row.id}` } as Envelope;
      if (attempts >= maxAttempts) {
        tried.set(row.id, { version: row.version, attempts, lastAt: now, gaveUp: true });
        const message = `Order ${snapshot.context.order.externalId} has waited for ${what.join(', ')} since ${new Date(now - o.afterMs).toISOString().slice(0, 16)} or earlier; asked ${attempts} times, no answer: look at the service and NATS`;
        const plan = planEffects({ names: o.names, snapshot, actions: [{ type: 'notifyAdmin', params: { kind: 'order.stalled', severity: 'critical', code: 'ORDER_STALLED', message } }], cause, now: new Date(now), paymentTimeoutMs: o.paymentTimeoutMs });
        await publishAll(plan.outbox.map((m, i) => ({ subject: m.subject, envelope: { ...m.envelope, id: `${cause.id}:notify:${i}` } })));
        log.error({ orderId: row.id, waitingFor: what, attempts }, 'order still waits after being asked again; given up, admin notified');
        continue;
      }
      const plan = planEffects({ names: o.names, snapshot, actions: awaited, cause, now: new Date(now), paymentTimeoutMs: o.paymentTimeoutMs });
      const messages = plan.outbox.map((m, i) => ({ subject: m.subject, envelope: { ...m.envelope, id: `${cause.id}:${i}` } }));
      await publishAll(messages);
      // The timer set again, due now (the relay fires it; the order ignores a second timeout).
      if (timer) {
        const [t] = planEffects({ names: o.names, snapshot, actions: [{ type: 'schedulePaymentTimeout' }], cause, now: new Date(now), paymentTimeoutMs: 0 }).timers;
        if (t) {
          await o.sql`insert into timers (id, order_id, kind, fire_at, subject, envelope)
            values (${t.envelope.id}, ${row.id}, ${t.kind}, now(), ${t.subject}, ${o.sql.json(t.envelope as never)})
            on conflict (order_id, kind) do nothing`;
        }
      }
      tried.set(row.id, { version: row.version, attempts: attempts + 1, lastAt: now, gaveUp: false });
      out.push({ orderId: row.id, sent: [...messages.map((m) => m.envelope.type), ...(timer ? ['PAYMENT_TIMEOUT'] : [])], attempt: attempts + 1 });
      log.warn({ orderId: row.id, waitingFor: what, attempt: attempts + 1, state: row.state }, 'order waited too long for a service; its requests sent again');
    }
    // Orders that moved on (or left the window) are forgotten.
    for (const id of tried.keys()) if (!seen.has(id)) tried.delete(id);
    return out;
  }

  const periodic = startPeriodic({ everyMs: o.everyMs, task: checkOnce, logger: log, what: 'order re-drive' });
  return {
    check: periodic.run,
    stop: periodic.stop,
  };
}
