import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../infra/logger.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { startConnectedShopsTraffic, type ConnectedShopsTraffic } from '../../infra/demo/connected-shops.ts';
import { createSandboxStateStore } from '../../infra/demo/sandbox-state.store.ts';
import { startSandboxes, type Sandboxes } from '../../infra/demo/sandboxes.ts';
import { startShopsService } from '../../services/shops/index.ts';
import { eventually } from '../support/context.ts';
import { startRepairsWorld, type RepairsWorld } from '../repairs/repairs-world.ts';

/**
 * The demo's connected shops (`npm start`): the WooCommerce and Magento sandboxes that startSandboxes
 * starts with `shops: true`, configured by the environment it returns, with the demo's checkout
 * traffic. Orders from both shops go all the way through the real gateway, services, NATS and
 * Postgres and each shop shows its orders' statuses; the shops' state is kept in the demo's
 * `sandbox` schema, so a restarted shop still knows its orders and numbers new ones after them.
 */
const logger = createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'warn', name: 'demo-shops' });
let w: RepairsWorld;
let sandboxes: Sandboxes;
let traffic: ConnectedShopsTraffic | null = null;
const extra: RunningService[] = [];

beforeAll(async () => {
  sandboxes = await startSandboxes({ logger, shops: true });
  // The shops' part of the environment the demo merges into its own (the world brings its own invoicing, warehouse and SMTP).
  const shopEnv = Object.fromEntries(Object.entries(sandboxes.env).filter(([k]) => k.startsWith('SHOP')));
  w = await startRepairsWorld({ env: { ...shopEnv, SHOPS_POLL_MS: '200', SHOPS_RETRY_BASE_MS: '150', SHOPS_RETRY_CAP_MS: '1500' } });
  extra.push(await startShopsService(w.t));
  sandboxes.woo?.setWebhookUrl(`${w.gw.url}/webhooks/shops/woo`);
});
afterAll(async () => {
  await traffic?.stop();
  for (const s of extra.reverse()) await s.stop();
  await sandboxes?.close();
  await w?.stop();
});

describe("the demo's connected shops", () => {
  it('checkouts at the WooCommerce and the Magento sandbox become orders, paid by the shop, and each shop shows its order processing', async () => {
    const woo = sandboxes.woo!;
    const magento = sandboxes.magento!;
    traffic = startConnectedShopsTraffic({ woo, magento, everyMs: 3_600_000, payAfterMs: 50, logger });
    const byShop = (shop: string) =>
      eventually(async () => {
        const [row] = await w.t.sql<{ id: string; external_id: string }[]>`select id, external_id from orders where shop = ${shop} order by created_at limit 1`;
        return row;
      }, `an order from ${shop}`, 60_000);
    const fromWoo = await byShop('woo');
    const fromMagento = await byShop('magento');
    await w.waitFor(fromWoo.id, 'paid by the shop', (d) => d.state !== 'pending', 60_000);
    await w.waitFor(fromMagento.id, 'paid by the shop', (d) => d.state !== 'pending', 60_000);
    await eventually(async () => ['processing', 'completed'].includes(String(woo.order(Number(fromWoo.external_id))?.status)), 'WooCommerce shows the order processing', 60_000);
    await eventually(async () => magento.comments(Number(fromMagento.external_id)).some((c) => c.status === 'processing'), 'Magento has the processing comment', 60_000);
    expect(traffic.placed).toEqual({ woo: 1, magento: 1 });
  });

  it('a restarted shop sandbox still knows its orders (kept in the sandbox schema) and numbers new ones after them', async () => {
    const store = await createSandboxStateStore(w.t.sql);
    const first = await startSandboxes({ logger, store, shops: true });
    let wooOrder;
    let magentoOrder;
    try {
      wooOrder = await first.woo!.createOrder();
      await first.woo!.markPaid(wooOrder.id);
      magentoOrder = first.magento!.createOrder();
      first.magento!.markPaid(magentoOrder.entity_id);
      await eventually(
        async () => (await store.shopOrders<{ status: string }>('woo')).some((o) => o.order.status === 'processing') && (await store.shopOrders<{ state: string }>('magento')).some((o) => o.order.state === 'processing'),
        'the shops saved their paid orders',
      );
    } finally {
      await first.close();
    }
    const again = await startSandboxes({ logger, store, shops: true });
    try {
      expect(again.woo!.order(wooOrder.id)?.status).toBe('processing');
      expect(again.woo!.notes(wooOrder.id).map((n) => n.note)).toContain('Order status changed from Pending payment to Processing.');
      expect(again.magento!.order(magentoOrder.entity_id)?.state).toBe('processing');
      expect((await again.woo!.createOrder()).id).toBe(wooOrder.id + 1);
      expect(again.magento!.createOrder().entity_id).toBe(magentoOrder.entity_id + 1);
    } finally {
      await again.close();
    }
  });

  it('a restarted demo Stripe knows its payments and what was refunded of each; a parcel paused for an admin stays paused', async () => {
    const store = await createSandboxStateStore(w.t.sql);
    const refund = (sb: Sandboxes, params: Record<string, string>) =>
      fetch(`${sb.stripe.url}/v1/refunds`, { method: 'POST', headers: { authorization: `Bearer ${sb.stripe.secretKey}`, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() });
    const shipment = (sb: Sandboxes, reference: string) =>
      fetch(`${sb.warehouse.url}/shipments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sb.env['WAREHOUSE_API_KEY']}`, 'content-type': 'application/json', 'idempotency-key': reference },
        body: JSON.stringify({ reference, recipient: { name: 'Jan', email: 'jan@example.com', phone: null }, address: { line1: 'ul. Prosta 1', line2: null, city: 'Warszawa', postalCode: '00-001', country: 'PL' }, items: [{ sku: 'MUG-1', quantity: 1 }] }),
      });
    const first = await startSandboxes({ logger, store, stepMs: 20 });
    try {
      // A payment Stripe never made cannot be refunded (as at Stripe); the checkout's payment can.
      expect((await refund(first, { payment_intent: 'pi_never_made' })).status).toBe(400);
      first.stripe.addPayment('pi_demo_1', 5000, 'PLN');
      expect((await refund(first, { payment_intent: 'pi_demo_1', amount: '1000' })).status).toBe(200);
      first.warehouse.setPlan('ord_paused', { paused: true });
      expect((await shipment(first, 'ord_paused')).status).toBe(201);
      await eventually(async () => (await store.stripePayments()).some((p) => p.paymentIntent === 'pi_demo_1' && p.refunded === 1000), 'the refund kept');
    } finally {
      await first.close();
    }
    const again = await startSandboxes({ logger, store, stepMs: 20 });
    try {
      const tooMuch = await refund(again, { payment_intent: 'pi_demo_1', amount: '4001' });
      expect(((await tooMuch.json()) as { error: { code: string } }).error.code).toBe('amount_too_large');
      expect((await refund(again, { payment_intent: 'pi_demo_1', amount: '4000' })).status).toBe(200);
      // Still paused after the restart: a parcel shipped after it walks all the way while it stays put.
      expect((await shipment(again, 'ord_walks')).status).toBe(201);
      await eventually(async () => again.warehouse.shipmentByReference('ord_walks')?.status === 'DELIVERED', 'a parcel walks meanwhile');
      expect(again.warehouse.shipmentByReference('ord_paused')?.status).toBe('ACCEPTED');
      again.warehouse.resume('ord_paused');
      await eventually(async () => again.warehouse.shipmentByReference('ord_paused')?.status === 'DELIVERED', 'the resumed parcel walks on');
    } finally {
      await again.close();
    }
  });
});
