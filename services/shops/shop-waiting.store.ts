import type { Sql } from '../../infra/db/postgres.ts';
import type { Envelope } from '../contracts/index.ts';

/** An update waiting for its shop (`shop_waiting`, migration 016). */
export interface WaitingUpdate {
  id: string;
  shop: string;
  orderId: string;
  messageId: string;
  envelope: Envelope;
  /** Calls that failed so far (0: it only waited behind an earlier update of its order). */
  attempts: number;
  firstFailedAt: Date | null;
}

/**
 * Shop updates that wait for their shop in Postgres rather than on their NATS partition, so a shop
 * that is down holds back only its own orders' updates, for as long as SHOPS_RETRY_HOURS.
 * Per (shop, order) the lowest id goes first: only an order's head is ever claimed.
 */
export function createShopWaiting(sql: Sql) {
  return {
    /** Does this order have updates waiting (a newer one must queue behind them)? */
    async hasWaiting(shop: string, orderId: string): Promise<boolean> {
      const rows = await sql`select 1 from shop_waiting where shop = ${shop} and order_id = ${orderId} limit 1`;
      return rows.length > 0;
    },

    /** Parks an update (a redelivery of one already parked changes nothing). */
    async park(p: { shop: string; orderId: string; envelope: Envelope; attempts: number; nextAt: Date; error: string | null }): Promise<void> {
      await sql`
        insert into shop_waiting (shop, order_id, message_id, envelope, attempts, first_failed_at, next_at, last_error)
        values (${p.shop}, ${p.orderId}, ${p.envelope.id}, ${sql.json(p.envelope as never)}, ${p.attempts},
                ${p.attempts > 0 ? sql`now()` : null}, ${p.nextAt}, ${p.error})
        on conflict (message_id) do nothing`;
    },

    /**
     * Claims up to `limit` due order heads for `leaseMs` (another worker skips them meanwhile; a worker
     * that dies leaves its claim to expire). Different heads are different orders, so they may run at once.
     */
    async claimDue(limit: number, leaseMs: number): Promise<WaitingUpdate[]> {
      const rows = await sql<Array<{ id: string; shop: string; order_id: string; message_id: string; envelope: Envelope; attempts: number; first_failed_at: Date | null }>>`
        update shop_waiting w set claimed_until = now() + ${leaseMs} * interval '1 millisecond'
        where w.id in (
          select h.id from shop_waiting h
          where h.next_at <= now() and (h.claimed_until is null or h.claimed_until < now())
            and not exists (select 1 from shop_waiting e where e.shop = h.shop and e.order_id = h.order_id and e.id < h.id)
          order by h.next_at limit ${limit}
          for update skip locked)
        returning w.id::text as id, w.shop, w.order_id, w.message_id, w.envelope, w.attempts, w.first_failed_at`;
      return rows.map((r) => ({ id: r.id, shop: r.shop, orderId: r.order_id, messageId: r.message_id, envelope: r.envelope, attempts: r.attempts, firstFailedAt: r.first_failed_at }));
    },

    /** The update went through (or was given up): the order's next update becomes its head. */
    async remove(id: string): Promise<void> {
      await sql`delete from shop_waiting where id = ${id}`;
    },

    async retryLater(id: string, attempts: number, nextAt: Date, error: string): Promise<void> {
      await sql`
        update shop_waiting set attempts = ${attempts}, next_at = ${nextAt}, claimed_until = null, last_error = ${error},
               first_failed_at = coalesce(first_failed_at, now())
        where id = ${id}`;
    },
  };
}

export type ShopWaiting = ReturnType<typeof createShopWaiting>;
