import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { orderState, publishOrderEvent, sampleOrder } from '../support/orders.ts';
import { startChild, type Child } from '../support/processes.ts';

const CHILD = 'test/support/orders-child.ts';
let t: TestContext;
const children: Child[] = [];

async function child(mode: string, extraEnv: Record<string, string> = {}): Promise<Child> {
  const c = await startChild(CHILD, [mode], { ...t.env, ...extraEnv });
  children.push(c);
  return c;
}

/** Nothing pending or in flight on any order partition consumer. */
async function orderConsumersIdle(): Promise<boolean> {
  const jsm = await jetstreamManager(t.nc);
  for (let p = 0; p < t.names.partitions; p++) {
    const info = await jsm.consumers.info(t.names.streams.orderEvents, t.names.consumers.orderPartition(p));
    if (info.num_pending !== 0 || info.num_ack_pending !== 0) return false;
  }
  return true;
}

beforeAll(async () => {
  t = await createTestContext({ ACK_WAIT_MS: '1500' });
});
afterAll(async () => {
  await Promise.all(children.map((c) => c.kill('SIGKILL')));
  await t?.cleanup();
});

describe('order host under crashes (real child processes, SIGKILL)', () => {
  it('killed after commit but before ack: the redelivery changes nothing', async () => {
    const crashing = await child('crash-after-commit', { CRASH_ON_TYPE: 'PAYMENT_CONFIRMED' });
    const order = sampleOrder();
    await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
    const paid = await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_CONFIRMED', { provider: 'stripe', paymentId: 'pi', amount: 6500, currency: 'PLN' });
    const exit = await crashing.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(await orderState(t.sql, order.orderId)).toBe('processing');

    await child('host');
    // The unacked message comes back after ACK_WAIT and must be recognised as processed.
    await eventually(orderConsumersIdle, 'redelivered message acked', 20_000, 200);
    const history = await t.sql`select type, outcome from order_history where order_id = ${order.orderId} order by id`;
    expect(history.map((h) => `${h['type']}:${h['outcome']}`)).toEqual(['ORDER_PLACED:created', 'PAYMENT_CONFIRMED:applied']);
    expect(await t.sql`select 1 from processed_messages where message_id = ${paid.id}`).toHaveLength(1);
    expect((await t.sql`select count(*)::int as n from outbox where order_id = ${order.orderId}`)[0]?.['n']).toBe(2);
  });

  it('killed before commit: the event is applied exactly once after restart', async () => {
    await Promise.all(children.splice(0).map((c) => c.kill('SIGKILL')));
    const host = await child('host');
    const order = sampleOrder();
    await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'pending', 'pending');

    // Hold the order row so the host's transaction blocks inside, before its commit.
    const lock = await t.sql.reserve();
    await lock`begin`;
    await lock`select 1 from orders where id = ${order.orderId} for update`;
    const paid = await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_CONFIRMED', { provider: 'stripe', paymentId: 'pi', amount: 6500, currency: 'PLN' });
    await eventually(
      async () => (await t.sql`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%update orders set%'`).length > 0,
      'host blocked inside its transaction',
    );
    await host.kill('SIGKILL');
    // A backend waiting on a lock does not notice its client died; it would run the statement to its
    // end once the lock is free. End the dead client's sessions the way Postgres does when it sees
    // the broken connection (client_connection_check_interval), so the write is really lost.
    await t.sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and wait_event_type = 'Lock' and query like '%update orders set%'`;
    await lock`rollback`;
    lock.release();
    expect(await orderState(t.sql, order.orderId)).toBe('pending');
    expect(await t.sql`select 1 from processed_messages where message_id = ${paid.id}`).toHaveLength(0);

    await child('host');
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'processing', 'applied after restart');
    await eventually(orderConsumersIdle, 'consumers idle', 20_000, 200);
    const applied = await t.sql`select 1 from order_history where order_id = ${order.orderId} and type = 'PAYMENT_CONFIRMED'`;
    expect(applied).toHaveLength(1);
  });

  it('two host processes, 500 orders × 5 events: right final states, history in publish order, no duplicate outbox rows', async () => {
    await Promise.all(children.splice(0).map((c) => c.kill('SIGKILL')));
    await Promise.all([child('host'), child('host-no-relay')]);
    const sequence = ['ORDER_PLACED', 'PAYMENT_FAILED', 'PAYMENT_CONFIRMED', 'SHIPMENT_ACCEPTED', 'HANDED_TO_CARRIER'] as const;
    const orders = Array.from({ length: 500 }, () => sampleOrder());
    const payloads = (o: ReturnType<typeof sampleOrder>): Record<(typeof sequence)[number], unknown> => ({
      ORDER_PLACED: { order: o },
      PAYMENT_FAILED: { provider: 'payu', reason: 'insufficient funds' },
      PAYMENT_CONFIRMED: { provider: 'payu', paymentId: `p-${o.orderId}`, amount: o.total, currency: o.currency },
      SHIPMENT_ACCEPTED: { shipmentId: `sh-${o.orderId}` },
      HANDED_TO_CARRIER: { trackingNumber: `T-${o.orderId}`, carrier: 'DPD' },
    });
    // Each order's events are published one after another; orders interleave.
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < orders.length) {
          const o = orders[next++] as ReturnType<typeof sampleOrder>;
          for (const type of sequence) await publishOrderEvent(t.nc, t.names, o.orderId, type, payloads(o)[type]);
        }
      }),
    );
    await eventually(
      async () => (await t.sql`select count(*)::int as n from orders where state = 'inShipment' and id = any(${orders.map((o) => o.orderId)})`)[0]?.['n'] === 500,
      'all 500 orders in shipment',
      120_000,
      250,
    );
    const histories = await t.sql<{ order_id: string; types: string[]; outcomes: string[] }[]>`
      select order_id, array_agg(type order by id) as types, array_agg(outcome order by id) as outcomes
      from order_history where order_id = any(${orders.map((o) => o.orderId)}) group by order_id`;
    expect(histories).toHaveLength(500);
    for (const h of histories) {
      expect(h.types).toEqual([...sequence]);
      expect(h.outcomes).toEqual(['created', 'applied', 'applied', 'applied', 'applied']);
    }
    const outbox = await t.sql`select order_id, count(*)::int as n, count(distinct subject)::int as subjects from outbox
      where order_id = any(${orders.map((o) => o.orderId)}) group by order_id`;
    expect(outbox).toHaveLength(500);
    expect(outbox.every((r) => r['n'] === 2 && r['subjects'] === 2)).toBe(true);
  }, 180_000);
});
