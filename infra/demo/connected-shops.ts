import type { Logger } from '../logger.ts';
import type { MagentoSandbox } from '../sandbox/magento-sandbox.ts';
import type { WooCommerceSandbox } from '../sandbox/woocommerce-sandbox.ts';

const CUSTOMERS = [
  { first: 'Anna', last: 'Nowak', email: 'anna.nowak@example.com' },
  { first: 'Tomasz', last: 'Zieliński', email: 'tomasz.zielinski@example.com' },
  { first: 'Ewa', last: 'Kamińska', email: 'ewa.kaminska@example.com' },
  { first: 'Marek', last: 'Lewandowski', email: 'marek.lewandowski@example.com' },
];

export interface ConnectedShopsTraffic {
  readonly placed: { woo: number; magento: number };
  stop(): Promise<void>;
}

/**
 * The demo's orders through the connected shop sandboxes, so a newcomer sees the shop side change:
 * every `everyMs` a checkout at the WooCommerce shop (its signed `order.created` webhook reaches the
 * gateway) or at the Magento shop (the shops service finds it by polling), alternately, paid at the
 * shop `payAfterMs` later (WooCommerce's payment plugin; a Magento invoice). Both shops are connected
 * with `SHOP_<NAME>_PAYMENT=shop`, so the shop's own paid signal confirms the payment.
 */
export function startConnectedShopsTraffic(o: { woo: WooCommerceSandbox; magento: MagentoSandbox; everyMs: number; payAfterMs?: number; logger: Logger }): ConnectedShopsTraffic {
  const log = o.logger.child({ component: 'demo-connected-shops' });
  const placed = { woo: 0, magento: 0 };
  const inflight = new Set<Promise<void>>();
  let n = 0;
  let stopped = false;
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  async function one(): Promise<void> {
    const c = CUSTOMERS[n % CUSTOMERS.length] ?? CUSTOMERS[0]!;
    if (n++ % 2 === 0) {
      const base = o.woo;
      const order = await base.createOrder({
        billing: { first_name: c.first, last_name: c.last, company: '', address_1: 'ul. Prosta 1', address_2: '', city: 'Warszawa', state: '', postcode: '00-001', country: 'PL', email: c.email, phone: '+48500100200' },
        meta_data: [],
      });
      placed.woo++;
      await pause(o.payAfterMs ?? 2000);
      await base.markPaid(order.id);
      log.debug({ shop: 'woo', id: order.id }, 'demo: WooCommerce checkout paid');
    } else {
      const order = o.magento.createOrder({ customer_email: c.email, customer_firstname: c.first, customer_lastname: c.last });
      placed.magento++;
      await pause(o.payAfterMs ?? 2000);
      o.magento.markPaid(order.entity_id);
      log.debug({ shop: 'magento', id: order.entity_id }, 'demo: Magento checkout invoiced');
    }
  }

  const tick = () => {
    if (stopped) return;
    const p: Promise<void> = one()
      .catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'demo: a connected shop checkout failed'))
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };
  // One of each at once, then one every `everyMs`.
  tick();
  tick();
  const timer = setInterval(tick, o.everyMs);
  return {
    placed,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.allSettled([...inflight]);
    },
  };
}
