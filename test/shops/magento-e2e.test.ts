import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../infra/runtime/service.ts';
import { startMagentoSandbox, type MagentoSandbox } from '../../infra/sandbox/magento-sandbox.ts';
import { startShopsService } from '../../services/shops/index.ts';
import { eventually } from '../support/context.ts';
import { startRepairsWorld, type RepairsWorld } from '../repairs/repairs-world.ts';
import { expectInOrder } from '../support/in-order.ts';

/**
 * Magento 2 end to end: orders are found by polling the Magento sandbox's orders search (cursor in
 * Postgres), go through the real gateway (admin API, warehouse webhooks), order host, invoicing,
 * logistics, NATS and Postgres, and every change goes back as Magento comments, hold / unhold and a
 * shipment with its tracking number.
 */
const TOKEN = 'magento-integration-token-0123456789';
let w: RepairsWorld;
let mage: MagentoSandbox;
let shops: RunningService | null = null;

beforeAll(async () => {
  mage = await startMagentoSandbox({ token: TOKEN });
  w = await startRepairsWorld({
    env: {
      SHOPS: 'mage:magento',
      SHOP_MAGE_URL: mage.url,
      SHOP_MAGE_KEY: TOKEN,
      SHOP_MAGE_PAYMENT: 'shop',
      SHOPS_POLL_MS: '100',
      SHOPS_RETRY_BASE_MS: '150',
      SHOPS_RETRY_CAP_MS: '1500',
    },
  });
  shops = await startShopsService(w.t);
});
afterAll(async () => {
  await shops?.stop();
  await w?.stop();
  await mage?.close();
});

const orderIdOf = (entityId: number) =>
  eventually(async () => {
    const [row] = await w.t.sql<{ order_id: string }[]>`select order_id from shop_intake where shop = 'mage' and external_id = ${String(entityId)}`;
    return row?.order_id;
  }, `shop intake of Magento order ${entityId}`);

const comments = (id: number) => mage.comments(id).map((c) => `${c.status ?? '-'}: ${c.comment}`);

describe('Magento 2 shop connector end to end', () => {
  it('an order found by polling is paid, held, released, shipped and delivered; Magento shows hold, unhold, the shipment with its track and each comment in order', async () => {
    const mo = mage.createOrder();
    const orderId = await orderIdOf(mo.entity_id);
    const placed = await w.waitFor(orderId, 'pending', (d) => d.state === 'pending');
    expect(placed.context.order).toMatchObject({ externalId: String(mo.entity_id), shop: 'mage', total: 6500, shippingPrice: 1500, customer: { taxId: '5260250274' } });

    w.warehouse.setPlan(orderId, { reject: 'OUT_OF_STOCK', rejectTimes: 1 });
    mage.markPaid(mo.entity_id);
    await w.waitFor(orderId, 'held', (d) => d.state === 'held');
    await eventually(async () => mage.order(mo.entity_id)?.state === 'holded', 'Magento shows the hold');
    expect((await w.admin('POST', `/admin/api/orders/${orderId}/events`, { type: 'RELEASE', note: 'restocked' })).status).toBe(202);
    const closed = await w.waitFor(orderId, 'closed', (d) => d.state === 'closed', 60_000);
    const tracking = closed.context.trackingNumber as string;
    await eventually(async () => comments(mo.entity_id).includes('-: Delivered to the customer.'), 'Magento has every comment', 60_000);
    const list = comments(mo.entity_id);
    expectInOrder(list, ['-: Captured amount online.', 'processing: Status: processing', /^-: On hold: .*\(OUT_OF_STOCK\)$/, '-: Hold released; the order goes on.', new RegExp(`Shipped: .*${tracking}$`), 'complete: Status: complete', '-: Delivered to the customer.']);
    expect(mage.shipments.filter((s) => s.order_id === mo.entity_id)).toEqual([
      expect.objectContaining({ items: [expect.objectContaining({ qty: 2 }), expect.objectContaining({ qty: 1 })], tracks: [expect.objectContaining({ track_number: tracking })] }),
    ]);
    expect(mage.order(mo.entity_id)?.state).toBe('complete');
    const history = closed.history as Array<{ type: string }>;
    expect(history.filter((h) => h.type === 'PAYMENT_CONFIRMED')).toHaveLength(1);
    expect(history.filter((h) => h.type === 'ORDER_PLACED')).toHaveLength(1);
  });

  it('an order cancelled at Magento is cancelled here too (the poller sees its state canceled)', async () => {
    const mo = mage.createOrder();
    const orderId = await orderIdOf(mo.entity_id);
    await w.waitFor(orderId, 'pending', (d) => d.state === 'pending');
    mage.cancel(mo.entity_id);
    const cancelled = await w.waitFor(orderId, 'cancelled', (d) => d.state === 'cancelled', 60_000);
    const cancel = (cancelled.history as Array<{ type: string; outcome: string; actor: string | null; note: string | null }>).filter((h) => h.type === 'CANCEL');
    expect(cancel).toEqual([expect.objectContaining({ outcome: 'applied', actor: 'mage' })]);
  });

  it('across a restart of the poller no order is missed or taken twice (orders changed in the same second included)', async () => {
    await shops?.stop();
    shops = null;
    const a = mage.createOrder();
    const b = mage.createOrder({}, { sameSecond: true });
    const c = mage.createOrder({}, { sameSecond: true });
    shops = await startShopsService(w.t);
    const ids = await Promise.all([a, b, c].map((o) => orderIdOf(o.entity_id)));
    for (const id of ids) await w.waitFor(id, 'pending', (d) => d.state === 'pending');
    // Another restart with nothing new: nothing taken again.
    await shops.stop();
    shops = await startShopsService(w.t);
    const d = mage.createOrder();
    await w.waitFor(await orderIdOf(d.entity_id), 'pending', (x) => x.state === 'pending');
    const intake = await w.t.sql<{ external_id: string; n: number }[]>`select external_id, count(*)::int as n from shop_intake where shop = 'mage' group by external_id`;
    expect(intake.every((r) => r.n === 1)).toBe(true);
    for (const o of [a, b, c, d]) expect(intake.some((r) => r.external_id === String(o.entity_id))).toBe(true);
    const placed = await w.t.sql<{ n: number }[]>`select count(*)::int as n from order_history h join orders o on o.id = h.order_id where o.shop = 'mage' and h.type = 'ORDER_PLACED' and h.outcome = 'created'`;
    expect(placed[0]?.n).toBe(intake.length);
    // The cursor moves right after the order is published: it ends on the newest order.
    await eventually(async () => {
      const [cursor] = await w.t.sql<{ entity_id: string }[]>`select entity_id::text from shop_poll_cursor where shop = 'mage'`;
      return cursor?.entity_id === String(d.entity_id);
    }, 'the cursor on the newest order');
  });
});
