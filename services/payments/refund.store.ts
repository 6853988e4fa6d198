import type { Sql } from '../../infra/db/postgres.ts';

export interface RefundRow {
  refundId: string;
  orderId: string;
  provider: string;
  status: 'requested' | 'refunded' | 'failed';
  providerRefundId: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  attempts: number;
}

/**
 * The payments service's own record of refunds (`refunds`). It lets a repeated command answer
 * without asking the provider again, and shows admins what was refunded; the provider's
 * idempotency (Stripe's key, PayU's extRefundId) is what makes a crash mid-call harmless.
 */
export interface RefundStore {
  /** Records the request (first one wins) and counts an attempt; returns the row as it stands. */
  begin(r: { refundId: string; orderId: string; provider: string; paymentId: string; amount: number; currency: string; reason: string }): Promise<RefundRow>;
  refunded(refundId: string, providerRefundId: string): Promise<void>;
  failed(refundId: string, code: string, message: string): Promise<void>;
  ofOrder(orderId: string): Promise<RefundRow[]>;
}

interface Row {
  refund_id: string;
  order_id: string;
  provider: string;
  status: RefundRow['status'];
  provider_refund_id: string | null;
  error_code: string | null;
  error_message: string | null;
  attempts: number;
}
const toRow = (r: Row): RefundRow => ({
  refundId: r.refund_id,
  orderId: r.order_id,
  provider: r.provider,
  status: r.status,
  providerRefundId: r.provider_refund_id,
  errorCode: r.error_code,
  errorMessage: r.error_message,
  attempts: r.attempts,
});

export function createRefundStore(sql: Sql): RefundStore {
  return {
    async begin(r) {
      const [row] = await sql<Row[]>`insert into refunds (refund_id, order_id, provider, payment_id, amount, currency, reason, status, attempts)
        values (${r.refundId}, ${r.orderId}, ${r.provider}, ${r.paymentId}, ${r.amount}, ${r.currency}, ${r.reason.slice(0, 500)}, 'requested', 1)
        on conflict (refund_id) do update set attempts = refunds.attempts + 1, updated_at = now()
        returning refund_id, order_id, provider, status, provider_refund_id, error_code, error_message, attempts`;
      if (!row) throw new Error(`refund ${r.refundId} not recorded`);
      return toRow(row);
    },
    async refunded(refundId, providerRefundId) {
      await sql`update refunds set status = 'refunded', provider_refund_id = ${providerRefundId}, error_code = null, error_message = null, updated_at = now()
        where refund_id = ${refundId}`;
    },
    async failed(refundId, code, message) {
      await sql`update refunds set status = 'failed', error_code = ${code}, error_message = ${message.slice(0, 2000)}, updated_at = now()
        where refund_id = ${refundId} and status <> 'refunded'`;
    },
    async ofOrder(orderId) {
      const rows = await sql<Row[]>`select refund_id, order_id, provider, status, provider_refund_id, error_code, error_message, attempts
        from refunds where order_id = ${orderId} order by created_at, refund_id`;
      return rows.map(toRow);
    },
  };
}

/** The refunds of one order, oldest first (the read model other services and the console use). */
export function refundsOfOrder(sql: Sql, orderId: string): Promise<RefundRow[]> {
  return createRefundStore(sql).ofOrder(orderId);
}
