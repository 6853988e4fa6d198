import type { StateValue } from 'xstate';
import type { Sql } from '../../infra/db/postgres.ts';
import type { Failure, Hold } from '../../machines/order/index.ts';
import { activeStateIds } from '../../infra/tools/machine-graph.ts';

/** Read models of the console's "needs attention" page and machine page (the order list and detail come from the admin API). */

export interface HeldOrder {
  id: string;
  externalId: string;
  hold: Hold | null;
  holdCount: number;
  updatedAt: string;
}

export interface FailedDocument {
  id: string;
  externalId: string;
  state: string;
  failure: Failure | null;
  documentRequests: number;
}

export async function heldOrders(sql: Sql, limit = 200): Promise<HeldOrder[]> {
  const rows = await sql<{ id: string; external_id: string; hold: Hold | null; hold_count: number | null; updated_at: Date }[]>`
    select id, external_id, snapshot->'context'->'hold' as hold, (snapshot->'context'->>'holdCount')::int as hold_count, updated_at
    from orders where state = 'held' order by updated_at asc, id limit ${limit}`;
  return rows.map((r) => ({ id: r.id, externalId: r.external_id, hold: r.hold, holdCount: r.hold_count ?? 1, updatedAt: r.updated_at.toISOString() }));
}

export async function failedDocuments(sql: Sql, limit = 200): Promise<FailedDocument[]> {
  const rows = await sql<{ id: string; external_id: string; state: string; failure: Failure | null; requests: number | null }[]>`
    select id, external_id, state, snapshot->'context'->'documentFailure' as failure, (snapshot->'context'->>'documentRequests')::int as requests
    from orders where document_state = 'failed' order by updated_at asc, id limit ${limit}`;
  return rows.map((r) => ({ id: r.id, externalId: r.external_id, state: r.state, failure: r.failure, documentRequests: r.requests ?? 0 }));
}

export async function countsPerState(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql<{ state: string; n: number }[]>`select state, count(*)::int as n from orders group by state`;
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

/** Orders per state node of the order machine (every active node counts, parallel regions included). */
export async function countsPerStateNode(sql: Sql, rootId: string): Promise<Map<string, number>> {
  const rows = await sql<{ value: StateValue; n: number }[]>`select state_value as value, count(*)::int as n from orders group by state_value`;
  const counts = new Map<string, number>();
  for (const r of rows) {
    for (const id of activeStateIds(rootId, r.value)) counts.set(id, (counts.get(id) ?? 0) + r.n);
  }
  return counts;
}
