import { startPeriodic, withTryLock } from '../infra/runtime/periodic.ts';
import type { WarehouseWebhook } from '../services/contracts/index.ts';
import { warehouseArrival } from '../services/logistics/index.ts';
import { orderAnswers } from '../services/orders/index.ts';
import { recheckWindow, type RecheckOptions } from './recheck-window.ts';

export interface WebhookRecheckOptions extends RecheckOptions {
  /** Replays of one webhook (an admin's included) before the recheck leaves it to an admin (default 3). */
  maxReplays?: number;
  /** The webhook inbox's replay: decides again on the stored bytes and publishes what follows. */
  replay: (webhookId: string) => Promise<unknown>;
}

export interface WebhookRecheck {
  /** One check now; resolves with the webhook ids it replayed. */
  check(): Promise<string[]>;
  stop(): Promise<void>;
}

const RECHECK_LOCK = 0x6f70_7768; // 'opwh'
const REPLAY_SUFFIX = /#replay-\d+$/;

type Row = { id: string; provider: string; dedupe_key: string; order_id: string; message_ids: string[]; body: Buffer; published_at: Date; replay_count: number };

/**
 * Every webhook the gateway accepted (answered 200) for an order reaches it, whatever NATS lost: the
 * order event was stored by JetStream before the answer, yet a NATS cluster node SIGKILLed on
 * nats-server 2.9 can lose a work-queue message (README, "Scaling out"), and the provider, answered
 * 200, never sends it again. So the gateway walks the webhook inbox by the time each webhook's events
 * were published: an accepted webhook of an order, published `graceMs` ago, whose events the order has no history row for (`orderAnswers`:
 * applied or ignored, under the id published or the stable id the logistics service gives a warehouse
 * status) is replayed from its stored bytes, as an admin would, but under the very same message ids
 * (a new NATS message id): should the first arrive after all, the order's inbox drops the second. A warehouse status that is only logged
 * (no order event) is not looked for. A webhook still unanswered is asked again on every check until
 * it has been replayed `maxReplays` times, then left to an admin (the console lists it) with an error
 * in the log. One gateway at a time checks (a Postgres advisory lock); each keeps its own place in time.
 */
export function startWebhookRecheck(o: WebhookRecheckOptions): WebhookRecheck {
  const log = o.logger.child({ component: 'webhook-recheck' });
  const cursor = recheckWindow(o);
  const maxReplays = o.maxReplays ?? 3;
  /** Webhooks found unanswered, looked at again on every check until answered or given up. */
  const open = new Set<string>();

  /** The ids the order may know this webhook's event by. */
  const idsOf = (r: Row) => [...new Set([...r.message_ids.map((m) => m.replace(REPLAY_SUFFIX, '')), ...r.message_ids, r.dedupe_key])];
  /** A warehouse status only logged leads to no order event: nothing to look for. */
  const movesOrder = (r: Row) => {
    if (r.provider !== 'warehouse') return true;
    try {
      const text = r.body.toString('utf8');
      return warehouseArrival(JSON.parse(text) as WarehouseWebhook, text)?.orderEvent != null;
    } catch {
      return false;
    }
  };

  async function checkOnce(): Promise<string[]> {
    const found = await withTryLock(o.sql, RECHECK_LOCK, async (tx) => {
      const { from, until } = cursor.next();
      const ORDER_OF = tx`coalesce(order_id, case when provider = 'warehouse' then external_ref end)`;
      // A warehouse status names its order by our reference (the order id).
      // Walked by when its events were published, not when it was received: the publish mark is a
      // deferred write, and a walk by arrival moved past a webhook whose mark came after the check.
      const fresh = await tx<Row[]>`
        select id::text, provider, dedupe_key, ${ORDER_OF} as order_id, message_ids, body, published_at, replay_count from webhook_inbox
         where published_at > ${from} and published_at <= ${until}
           and verdict = 'accepted' and ${ORDER_OF} is not null
         order by published_at limit ${cursor.maxRows}`;
      cursor.advance(until, fresh.length, fresh.at(-1)?.published_at);
      const again = open.size === 0 ? [] : await tx<Row[]>`
        select id::text, provider, dedupe_key, ${ORDER_OF} as order_id, message_ids, body, published_at, replay_count from webhook_inbox
         where id = any(${[...open]}::bigint[]) and verdict = 'accepted' and ${ORDER_OF} is not null`;
      const rows = [...fresh, ...again].filter((r) => r.published_at.getTime() <= until.getTime() && movesOrder(r));
      const answers = await orderAnswers(tx, rows.flatMap((r) => idsOf(r).map((messageId) => ({ orderId: r.order_id, messageId }))));
      const answered = new Set(answers.map((a) => `${a.orderId} ${a.messageId}`));
      return rows.filter((r) => !idsOf(r).some((m) => answered.has(`${r.order_id} ${m}`)));
    });
    if (!found) return [];
    const unanswered = new Map(found.map((r) => [r.id, r]));
    for (const id of open) if (!unanswered.has(id)) open.delete(id);
    // Every webhook found unanswered is remembered before any is replayed: the window has moved past
    // them, so should a replay fail (NATS away), the next check still looks at the rest.
    const alreadyOpen = new Set(open);
    for (const r of unanswered.values()) open.add(r.id);
    const replayed: string[] = [];
    for (const r of unanswered.values()) {
      if (periodic.stopping) break;
      if (r.replay_count >= maxReplays) {
        open.delete(r.id);
        if (alreadyOpen.has(r.id)) log.error({ webhookId: r.id, provider: r.provider, orderId: r.order_id, replays: r.replay_count }, 'webhook accepted for an order still has no answer from it after replays; left to an admin (look at NATS and the order host)');
        continue;
      }
      await o.replay(r.id);
      replayed.push(r.id);
      log.warn({ webhookId: r.id, provider: r.provider, orderId: r.order_id, replay: r.replay_count + 1 }, 'webhook accepted for an order never reached it: replayed from its stored bytes');
    }
    return replayed;
  }

  const periodic = startPeriodic({ everyMs: o.everyMs, task: checkOnce, logger: log, what: 'webhook recheck' });
  return {
    check: periodic.run,
    stop: periodic.stop,
  };
}
