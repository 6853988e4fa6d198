import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { OrderData } from '../../machines/order/index.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import type { CommandService, Envelope, Names } from '../../services/contracts/index.ts';
import { publishOrderEvent } from '../support/orders.ts';

/** Places an order and confirms its payment (the moment that starts invoicing and shipping). */
export async function placeAndPay(nc: NatsConnection, names: Names, order: OrderData): Promise<void> {
  await publishOrderEvent(nc, names, order.orderId, 'ORDER_PLACED', { order }, { id: `placed:${order.orderId}` });
  await publishOrderEvent(nc, names, order.orderId, 'PAYMENT_CONFIRMED', { provider: 'stripe', paymentId: `pi_${order.orderId}`, amount: order.total, currency: order.currency }, { id: `paid:${order.orderId}` });
}

export interface OrderRow {
  state: string;
  document_state: string;
  snapshot: { value: unknown; context: { document: { providerId: string; number: string; issueDate: string; provider: string } | null; documentFailure: { code: string; message: string } | null } };
}

export async function orderRow(sql: Sql, orderId: string): Promise<OrderRow | undefined> {
  const [row] = await sql<OrderRow[]>`select state, document_state, snapshot from orders where id = ${orderId}`;
  return row;
}

export async function history(sql: Sql, orderId: string): Promise<Array<{ type: string; outcome: string; payload: Record<string, unknown> }>> {
  return sql<Array<{ type: string; outcome: string; payload: Record<string, unknown> }>>`
    select type, outcome, payload from order_history where order_id = ${orderId} order by id`;
}

/** Every envelope currently stored in one service's command stream (read without consuming). */
export async function commandsIn(nc: NatsConnection, names: Names, service: CommandService): Promise<Envelope[]> {
  const jsm = await jetstreamManager(nc);
  const stream = names.streams.command(service);
  const info = await jsm.streams.info(stream);
  const out: Envelope[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m) out.push(m.json<Envelope>());
  }
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
