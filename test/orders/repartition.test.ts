import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { ensureTopology } from '../../infra/nats/topology.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { natsNames } from '../../services/contracts/index.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { orderState, publishOrderEvent, sampleOrder } from '../support/orders.ts';

/**
 * ORDER_PARTITIONS decides which partition an order's events go to: a new count while events
 * still wait would split an order's events over two partitions, so it is refused until the
 * stream is empty.
 */
let t: TestContext;
let host: RunningService | undefined;
beforeAll(async () => {
  t = await createTestContext({ ORDER_PARTITIONS: '4' });
});
afterAll(async () => {
  await host?.stop();
  await t?.cleanup();
});

describe('changing ORDER_PARTITIONS', () => {
  it('is refused while order events wait, and allowed once the stream is empty', async () => {
    const topo = { ackWaitMs: t.config.ackWaitMs, duplicateWindowMs: t.config.duplicateWindowMs, maxDeliver: t.config.maxDeliver };
    const order = sampleOrder();
    await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
    const eight = natsNames(t.config.natsPrefix, 8);
    await expect(ensureTopology(t.nc, eight, topo)).rejects.toThrow(/ORDER_PARTITIONS: is 8, .* still holds 1 message/);
    await expect(ensureTopology(t.nc, natsNames(t.config.natsPrefix, 2), topo)).rejects.toThrow(/ORDER_PARTITIONS/);
    // The same count is fine whatever waits.
    await ensureTopology(t.nc, t.names, topo);

    host = await startOrdersService(t, { relay: false });
    await eventually(async () => (await orderState(t.sql, order.orderId)) === 'pending', 'order placed');
    const jsm = await jetstreamManager(t.nc);
    await eventually(async () => (await jsm.streams.info(t.names.streams.orderEvents)).state.messages === 0, 'stream empty');
    await host.stop();
    host = undefined;
    await ensureTopology(t.nc, eight, topo);
    expect((await jsm.consumers.info(eight.streams.orderEvents, eight.consumers.orderPartition(7))).config.filter_subject).toBe(eight.subjects.orderPartition(7));
  });
});
