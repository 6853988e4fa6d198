import type { Sql } from '../../infra/db/postgres.ts';
import type { ShopUpdate } from '../contracts/index.ts';

export interface ShopLogEntry {
  id: string;
  shop: string;
  kind: string;
  method: string | null;
  url: string | null;
  request: string | null;
  httpStatus: number | null;
  response: string | null;
  ok: boolean;
  errorCode: string | null;
  summary: string;
  version: number | null;
  at: string;
}

/** Every request to an order's shop and its answer, oldest first (the order page's shop timeline). */
export async function shopLog(sql: Sql, orderId: string): Promise<ShopLogEntry[]> {
  const rows = await sql<Array<Omit<ShopLogEntry, 'at' | 'id'> & { id: string; at: Date }>>`
    select id::text as id, shop, kind, method, url, request, http_status as "httpStatus", response, ok,
           error_code as "errorCode", summary, version, at
    from shop_log where order_id = ${orderId} order by id`;
  return rows.map((r) => ({ ...r, at: r.at.toISOString() }));
}

/**
 * What matters of an order's shop log (the order page's default view): the calls that reached the
 * shop, and the updates given up or skipped; failed attempts that were retried are in `shopLog`.
 */
export async function shopTimeline(sql: Sql, orderId: string): Promise<ShopLogEntry[]> {
  return (await shopLog(sql, orderId)).filter((e) => e.ok || e.kind === 'gave-up' || e.kind === 'skipped-unknown-shop');
}

/** The updates the shops service gave up for an order (an admin may replay them): the original message id and update. */
export async function givenUpShopUpdates(sql: Sql, orderId: string): Promise<Array<{ messageId: string; update: ShopUpdate }>> {
  const rows = await sql<{ request: string | null }[]>`select request from shop_log where order_id = ${orderId} and kind = 'gave-up' order by id`;
  const out = new Map<string, ShopUpdate>();
  for (const r of rows) {
    if (r.request === null) continue;
    const kept = JSON.parse(r.request) as { messageId: string; update: ShopUpdate };
    const { replayOf: _r, ...update } = kept.update;
    out.set(kept.messageId, update);
  }
  return [...out].map(([messageId, update]) => ({ messageId, update }));
}

/** One shop's health from its log: when a call last reached it, the last failure, recent failures and give-ups. */
export interface ShopHealth {
  shop: string;
  lastOkAt: string | null;
  lastFailureAt: string | null;
  lastFailure: string | null;
  failuresLastHour: number;
  givenUpLastDay: number;
  /** Updates waiting for the shop (shop_waiting), and since when the oldest has been failing. */
  waiting: number;
  waitingSince: string | null;
  /** `failing`: the newest call failed; `ok`: it went through; `idle`: no call yet. */
  health: 'ok' | 'failing' | 'idle';
}

export async function shopHealth(sql: Sql, shops: readonly string[]): Promise<ShopHealth[]> {
  const rows = await sql<Array<{ shop: string; last_ok: Date | null; last_failure: Date | null; failures_hour: number; given_up_day: number }>>`
    select shop,
           max(at) filter (where ok and kind in ('status', 'note', 'event', 'action')) as last_ok,
           max(at) filter (where not ok and kind in ('status', 'note', 'event', 'action')) as last_failure,
           (count(*) filter (where not ok and kind in ('status', 'note', 'event', 'action') and at > now() - interval '1 hour'))::int as failures_hour,
           (count(*) filter (where kind = 'gave-up' and at > now() - interval '1 day'))::int as given_up_day
    from shop_log where shop in ${sql(shops.length > 0 ? [...shops] : [''])} group by shop`;
  const last = await sql<Array<{ shop: string; summary: string }>>`
    select distinct on (shop) shop, summary from shop_log
    where not ok and kind in ('status', 'note', 'event', 'action') and shop in ${sql(shops.length > 0 ? [...shops] : [''])}
    order by shop, id desc`;
  const waiting = await sql<Array<{ shop: string; waiting: number; since: Date | null }>>`
    select shop, count(*)::int as waiting, min(first_failed_at) as since from shop_waiting
    where shop in ${sql(shops.length > 0 ? [...shops] : [''])} group by shop`;
  return shops.map((shop) => {
    const r = rows.find((x) => x.shop === shop);
    const wait = waiting.find((x) => x.shop === shop);
    const lastOk = r?.last_ok ?? null;
    const lastFailure = r?.last_failure ?? null;
    return {
      shop,
      lastOkAt: lastOk?.toISOString() ?? null,
      lastFailureAt: lastFailure?.toISOString() ?? null,
      lastFailure: last.find((x) => x.shop === shop)?.summary ?? null,
      failuresLastHour: r?.failures_hour ?? 0,
      givenUpLastDay: r?.given_up_day ?? 0,
      waiting: wait?.waiting ?? 0,
      waitingSince: wait?.since?.toISOString() ?? null,
      health: lastOk === null && lastFailure === null ? 'idle' : lastFailure !== null && (lastOk === null || lastFailure > lastOk) ? 'failing' : 'ok',
    };
  });
}
