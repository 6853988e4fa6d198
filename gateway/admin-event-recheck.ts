import { startPeriodic, withTryLock } from '../infra/runtime/periodic.ts';
import type { Envelope } from '../services/contracts/index.ts';
import { orderAnswers } from '../services/orders/index.ts';
import { recheckWindow, type RecheckOptions } from './recheck-window.ts';

export interface AdminEventRecheckOptions extends RecheckOptions {
  /** Sends before an event still unanswered is left to an admin, loudly (default 3). */
  maxReplays?: number;
  /** Publishes the event again: the same envelope (its id is what the order's inbox knows), a new NATS message id. */
  republish: (subject: string, envelope: Envelope, attempt: number) => Promise<void>;
}

export interface AdminEventRecheck {
  /** One check now; resolves with the message ids it published again. */
  check(): Promise<string[]>;
  stop(): Promise<void>;
}

const RECHECK_LOCK = 0x6f70_6165; // 'opae'

type Row = { admin: string; key: string; order_id: string; message_id: string; subject: string; envelope: Envelope; answered_at: Date; replays: number };

/**
 * Every admin event the gateway accepted (answered 202) reaches its order, whatever NATS lost: the
 * event was stored by JetStream before the answer, yet a NATS cluster node SIGKILLed on nats-server
 * 2.9 can lose a work-queue message (README, "Scaling out"), and the admin, answered 202, sees the
 * order unchanged (a repeat of the request gets the recorded answer, not a second event). So the
 * gateway walks `admin_idempotency` by answer time: an accepted event answered `graceMs` ago that
 * its order has no history row for (`orderAnswers`: applied or ignored) is published again under
 * its envelope id (should the first arrive after all, the order's inbox drops the second); one the
 * host dead-lettered is not lost (an admin sees the dead letter) and is left alone. One still
 * unanswered is asked again on every check until sent `maxReplays` times, then left to an admin with
 * an error in the log. One gateway at a time checks (a Postgres advisory lock); each keeps its own
 * place in time.
 */
export function startAdminEventRecheck(o: AdminEventRecheckOptions): AdminEventRecheck {
  const log = o.logger.child({ component: 'admin-event-recheck' });
  const cursor = recheckWindow(o);
  const maxReplays = o.maxReplays ?? 3;
  /** Events found unanswered (`admin key`), looked at again on every check until answered or given up. */
  const open = new Map<string, { admin: string; key: string }>();
  const keyOf = (r: { admin: string; key: string }) => `${r.admin} ${r.key}`;

  async function checkOnce(): Promise<string[]> {
    const found = await withTryLock(o.sql, RECHECK_LOCK, async (tx) => {
      const { from, until } = cursor.next();
      const fresh = await tx<Row[]>`
        select admin, key, order_id, message_id, subject, envelope, answered_at, replays from admin_idempotency
         where envelope is not null and answered_at > ${from} and answered_at <= ${until}
         order by answered_at limit ${cursor.maxRows}`;
      cursor.advance(until, fresh.length, fresh.at(-1)?.answered_at);
      const reopened = [...open.values()];
      const again = reopened.length === 0 ? [] : await tx<Row[]>`
        select a.admin, a.key, a.order_id, a.message_id, a.subject, a.envelope, a.answered_at, a.replays
          from admin_idempotency a
          join unnest(${reopened.map((r) => r.admin)}::text[], ${reopened.map((r) => r.key)}::text[]) as r(admin, key) on a.admin = r.admin and a.key = r.key
         where a.envelope is not null`;
      const rows = new Map([...fresh, ...again].map((r) => [keyOf(r), r]));
      const answers = await orderAnswers(tx, [...rows.values()].map((r) => ({ orderId: r.order_id, messageId: r.message_id })));
      const answered = new Set(answers.map((a) => `${a.orderId} ${a.messageId}`));
      const unanswered = [...rows.values()].filter((r) => !answered.has(`${r.order_id} ${r.message_id}`));
      // An event the order host refused for good is dead-lettered, not lost: an admin sees it there.
      const dead = unanswered.length === 0 ? [] : await tx<{ message_id: string }[]>`select message_id from dead_letters where message_id = any(${unanswered.map((r) => r.message_id)}::text[])`;
      const deadIds = new Set(dead.map((d) => d.message_id));
      return unanswered.filter((r) => !deadIds.has(r.message_id));
    });
    if (!found) return [];
    const unanswered = new Set(found.map(keyOf));
    for (const k of open.keys()) if (!unanswered.has(k)) open.delete(k);
    // Every event found unanswered is remembered before any is sent: the window has moved past them,
    // so should a publish fail (NATS away), the next check still looks at the rest.
    const alreadyOpen = new Set(open.keys());
    for (const r of found) open.set(keyOf(r), { admin: r.admin, key: r.key });
    const sent: string[] = [];
    for (const r of found) {
      if (periodic.stopping) break;
      if (r.replays >= maxReplays) {
        open.delete(keyOf(r));
        if (alreadyOpen.has(keyOf(r))) log.error({ orderId: r.order_id, messageId: r.message_id, type: r.envelope.type, admin: r.admin, replays: r.replays }, 'admin event accepted for an order still has no answer from it after sending it again; left to an admin (look at NATS and the order host)');
        continue;
      }
      await o.republish(r.subject, r.envelope, r.replays + 1);
      await o.sql`update admin_idempotency set replays = replays + 1 where admin = ${r.admin} and key = ${r.key}`;
      sent.push(r.message_id);
      log.warn({ orderId: r.order_id, messageId: r.message_id, type: r.envelope.type, admin: r.admin, replay: r.replays + 1 }, 'admin event accepted for an order never reached it: published again');
    }
    return sent;
  }

  const periodic = startPeriodic({ everyMs: o.everyMs, task: checkOnce, logger: log, what: 'admin event recheck' });
  return {
    check: periodic.run,
    stop: periodic.stop,
  };
}
