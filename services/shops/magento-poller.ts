import type { NatsConnection } from '@nats-io/transport-node';
import type { ShopConfig } from '../../infra/config.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import type { Logger } from '../../infra/logger.ts';
import { publishOrderEvent } from '../../infra/nats/publish.ts';
import { withTryLock } from '../../infra/runtime/periodic.ts';
import type { OrderData } from '../../machines/order/index.ts';
import type { Names, OrderEventPayload, OrderPlacedPayload } from '../contracts/index.ts';
import { mapMagentoOrder } from './magento.incoming.ts';
import { shopCancel, type IncomingOrder } from './shop-connector.port.ts';

export interface MagentoPollerDeps {
  shop: ShopConfig;
  sql: Sql;
  nc: NatsConnection;
  names: Names;
  logger: Logger;
  pollMs: number;
  search(since: string, page: number, pageSize: number): Promise<{ items: unknown[]; total: number }>;
  pageSize?: number;
}

/** Advisory lock of one shop's poller (one poller per shop across instances). */
function lockKey(shop: string): number {
  let h = 0x2545f491;
  for (let i = 0; i < shop.length; i++) h = Math.imul(h ^ shop.charCodeAt(i), 0x01000193);
  return 7_400_150_000 + ((h >>> 0) % 100_000);
}

const EPOCH = '1970-01-01 00:00:00';

/**
 * Polls a Magento shop's orders search for orders updated since the cursor (`shop_poll_cursor`:
 * `updated_at` + `entity_id`, in Postgres), oldest first; each new order gets our id once
 * (`shop_intake`) and ORDER_PLACED (plus PAYMENT_CONFIRMED from the shop's paid state when
 * SHOP_<NAME>_PAYMENT=shop, and CANCEL once the shop cancelled it); the cursor moves after each order is published. Magento's `updated_at`
 * has second resolution, so the search asks `gteq` the cursor's second and skips what is at or
 * before (updated_at, entity_id): a restart neither misses an order nor takes one twice (and a repeat
 * publish would be dropped by its stable message id). One poller per shop holds an advisory lock.
 */
export function startMagentoPoller(d: MagentoPollerDeps): { stop(): Promise<void> } {
  const log = d.logger.child({ poller: d.shop.name });
  const pageSize = d.pageSize ?? 50;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<void> = Promise.resolve();

  async function place(order: OrderData, incoming: IncomingOrder): Promise<void> {
    const paid = incoming.paid;
    await publishOrderEvent<OrderPlacedPayload>(d.nc, d.names, { id: `order-placed:${order.orderId}`, type: 'ORDER_PLACED', orderId: order.orderId, payload: { order }, actor: 'shop', occurredAt: order.placedAt });
    if (d.shop.payment === 'shop' && paid !== null) {
      const payload: OrderEventPayload<'PAYMENT_CONFIRMED'> = { provider: 'magento', paymentId: paid.paymentId, amount: order.total, currency: order.currency, ...(paid.method ? { method: paid.method.slice(0, 50) } : {}) };
      await publishOrderEvent(d.nc, d.names, { id: `shop-paid:${order.orderId}`, type: 'PAYMENT_CONFIRMED', orderId: order.orderId, payload, actor: d.shop.name });
    }
    if (incoming.cancelled) {
      const c = shopCancel(d.shop.name, order.orderId, incoming.status);
      await publishOrderEvent(d.nc, d.names, { id: c.id, type: 'CANCEL', orderId: order.orderId, payload: c.payload, actor: d.shop.name });
    }
  }

  /**
   * One round under the shop's advisory lock, held by a transaction (`withTryLock`: simple protocol,
   * no snapshot pinned while Magento answers), like every leader here, rather than a session lock
   * on a `reserve()`d connection (which unpatched postgres.js 3.4.9 could not survive losing: README,
   * "Postgres going away"). The round's own statements run outside that transaction, each committed
   * as it goes.
   */
  async function round(): Promise<void> {
    await withTryLock(d.sql, lockKey(d.shop.name), async () => {
      const [cur] = await d.sql<{ updated_at: string; entity_id: string }[]>`select updated_at, entity_id::text from shop_poll_cursor where shop = ${d.shop.name}`;
      let cursor = { updatedAt: cur?.updated_at ?? EPOCH, entityId: Number(cur?.entity_id ?? 0) };
      const since = cursor.updatedAt;
      for (let page = 1; !stopped; page++) {
        const { items, total } = await d.search(since, page, pageSize);
        for (const raw of items) {
          const m = raw as { entity_id?: unknown; updated_at?: unknown };
          const updatedAt = String(m.updated_at ?? '');
          const entityId = Number(m.entity_id);
          if (updatedAt < cursor.updatedAt || (updatedAt === cursor.updatedAt && entityId <= cursor.entityId)) continue;
          try {
            const incoming = mapMagentoOrder(raw, { shop: d.shop.name });
            const [row] = await d.sql<{ order_id: string }[]>`
              with ins as (
                insert into shop_intake (shop, external_id, order_id) values (${d.shop.name}, ${incoming.externalId}, ${`ord_${crypto.randomUUID()}`})
                on conflict (shop, external_id) do nothing returning order_id)
              select order_id from ins union all select order_id from shop_intake where shop = ${d.shop.name} and external_id = ${incoming.externalId} limit 1`;
            if (!row) throw new Error('shop intake row missing');
            await place({ ...incoming.order, orderId: row.order_id }, incoming);
          } catch (err) {
            // An order we cannot map is logged and passed over (the shop's data must be fixed there).
            if (!(err instanceof Error) || (err as { code?: string }).code !== 'VALIDATION_FAILED') throw err;
            log.warn({ entityId, err: err.message }, 'Magento order not taken');
          }
          cursor = { updatedAt, entityId };
          await d.sql`
            insert into shop_poll_cursor (shop, updated_at, entity_id) values (${d.shop.name}, ${updatedAt}, ${entityId})
            on conflict (shop) do update set updated_at = excluded.updated_at, entity_id = excluded.entity_id, at = now()`;
        }
        // Magento answers a page past the end with the last page again: stop by the count.
        if (page * pageSize >= total || items.length === 0) break;
      }
    });
  }

  const loop = () => {
    if (stopped) return;
    running = round()
      .catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'Magento poll failed; next round retries'))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, d.pollMs);
      });
  };
  loop();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
