import type { Sql } from '../../infra/db/postgres.ts';

/**
 * Shipments per outcome, from the warehouse log's timeline entries (what an admin would see):
 * orders handed to the carrier, delivered, rejected (per code), with a problem (per warehouse
 * status), given up on, and unmatched webhooks. Each order counts once per outcome and reason.
 */
export async function readShipmentOutcomes(sql: Sql): Promise<Array<{ outcome: string; reason: string; count: number }>> {
  const rows = await sql<Array<{ outcome: string; reason: string; count: number }>>`
    select lower(coalesce(order_event, kind)) as outcome,
           case when order_event in ('HANDED_TO_CARRIER', 'DELIVERED') then '' else coalesce(error_code, status, '') end as reason,
           count(distinct coalesce(order_id, reference, id::text))::int as count
    from warehouse_log
    where timeline
    group by 1, 2`;
  return [...rows];
}
