import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { OrderData } from '../../machines/order/index.ts';
import { encodeEnvelope, makeEnvelope, type Envelope, type Names } from '../../services/contracts/index.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import { eventually } from './context.ts';

/** The address every sample order ships and bills to. */
export const SAMPLE_ADDRESS = { name: 'Jan Kowalski', line1: 'ul. Prosta 1', city: 'Warszawa', postalCode: '00-001', country: 'PL', phone: '+48500100200' };

/** A valid order (PLN, a private buyer in Warsaw) for tests. */
export function sampleOrder(over: Partial<OrderData> = {}): OrderData {
  const orderId = over.orderId ?? `ord_${randomUUID()}`;
  const address = SAMPLE_ADDRESS;
  return {
    orderId,
    externalId: `EXT-${orderId.slice(-12)}`,
    currency: 'PLN',
    language: 'pl',
    customer: { email: 'jan@example.com', name: 'Jan Kowalski' },
    billingAddress: address,
    shippingAddress: address,
    lines: [{ sku: 'SKU-1', name: 'Kubek', quantity: 2, unitPrice: 2500, taxRate: 23 }],
    shippingPrice: 1500,
    total: 6500,
    placedAt: new Date().toISOString(),
    ...over,
  };
}

/** Publishes an event into the order actor's stream (as the gateway or a service would). */
export async function publishOrderEvent(
  nc: NatsConnection,
  names: Names,
  orderId: string,
  type: string,
  payload: unknown,
  opts: { id?: string; actor?: string } = {},
): Promise<Envelope> {
  const env = makeEnvelope({ type, orderId, payload, id: opts.id, actor: opts.actor });
  await jetstream(nc).publish(names.subjects.orderEvent(orderId), encodeEnvelope(env), { msgID: env.id });
  return env;
}

export async function orderState(sql: Sql, orderId: string): Promise<string | undefined> {
  const [row] = await sql<{ state: string }[]>`select state from orders where id = ${orderId}`;
  return row?.state;
}

/**
 * A held order through the real order host (which must be running): placed, paid by `provider`,
 * rejected by the warehouse with `code` / `message`. Resolves with the order once it is held.
 */
export async function heldOrder(
  t: { nc: NatsConnection; names: Names; sql: Sql },
  o: { code?: string; message?: string; provider?: 'stripe' | 'payu' } = {},
): Promise<OrderData> {
  const order = sampleOrder();
  const provider = o.provider ?? 'stripe';
  await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
  await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_CONFIRMED', { provider, paymentId: `${provider === 'stripe' ? 'pi' : 'p'}_${order.orderId}`, amount: order.total, currency: 'PLN' });
  await publishOrderEvent(t.nc, t.names, order.orderId, 'SHIPMENT_REJECTED', { code: o.code ?? 'OUT_OF_STOCK', message: o.message ?? 'SKU-1 not in stock' }, { actor: 'warehouse' });
  await eventually(async () => (await orderState(t.sql, order.orderId)) === 'held', `order ${order.externalId} held`, 60_000);
  return order;
}
