import { eventually } from '../support/context.ts';
import { startSystemWorld, type Json, type SystemWorldOptions } from '../support/system-world.ts';
import { SHOP, intakeBody, paidSession, payuNotification, stripeEvent } from '../gateway/gateway-helpers.ts';

export { WAREHOUSE_KEY, WAREHOUSE_SECRET } from '../support/system-world.ts';

/** An order as `GET /admin/api/orders/:id` answers it (JSON, read loosely by the tests). */
type OrderJson = Json;

export type RepairsWorld = Awaited<ReturnType<typeof startRepairsWorld>>;

/**
 * Everything an admin repair touches, for real on loopback (the system world: gateway, services,
 * sandboxes; mailboxes at nowhere.example refuse mail, like a customer's typo), with the repairs'
 * helpers: place and pay an order, read it, wait for it.
 */
export async function startRepairsWorld(o: Omit<SystemWorldOptions, 'rejectRecipients'> = {}) {
  const world = await startSystemWorld({ ...o, rejectRecipients: /@nowhere\.example$/ });
  const { http, admin, stripe, payu } = world;
  const detail = async (orderId: string) => {
    const r = await admin('GET', `/admin/api/orders/${orderId}`);
    return r.status === 200 ? r.body : null;
  };
  const waitFor = (orderId: string, what: string, check: (d: OrderJson) => boolean, timeoutMs = 30_000): Promise<OrderJson> =>
    eventually(async () => {
      const d = await detail(orderId);
      return d && check(d) ? d : undefined;
    }, `order ${orderId}: ${what}`, timeoutMs);

  return {
    ...world,
    detail,
    waitFor,
    /** POST /orders through the shop's key; waits until the order is pending. */
    async place(over: Record<string, unknown> = {}): Promise<{ orderId: string; externalId: string }> {
      const r = await http('POST', '/orders', intakeBody(over), SHOP);
      if (r.status !== 202) throw new Error(`intake answered ${r.status}: ${JSON.stringify(r.body)}`);
      await waitFor(r.body.orderId, 'pending', (d) => d.state === 'pending');
      return r.body;
    },
    /** A Stripe checkout.session.completed webhook for the order's total (the Stripe sandbox knows the payment). */
    async pay(orderId: string, amount = 6500): Promise<void> {
      const session = paidSession(orderId, amount);
      stripe.addPayment(session.payment_intent, amount, 'pln');
      const e = stripeEvent('checkout.session.completed', session);
      const r = await http('POST', '/webhooks/payments/stripe', e.payload, e.headers);
      if (r.status !== 200) throw new Error(`stripe webhook answered ${r.status}: ${JSON.stringify(r.body)}`);
    },
    /** A PayU COMPLETED notification for the order (the PayU sandbox knows the PayU order); returns its PayU order id. */
    async payWithPayu(externalId: string, amount = 6500): Promise<string> {
      const payuOrderId = `PAYU${Math.random().toString(36).slice(2, 12).toUpperCase()}`;
      payu.addOrder(payuOrderId, amount, 'PLN');
      const n = payuNotification(externalId, 'COMPLETED', { payuOrderId, amount: String(amount) });
      const r = await http('POST', '/webhooks/payments/payu', n.payload, n.headers);
      if (r.status !== 200) throw new Error(`payu webhook answered ${r.status}: ${JSON.stringify(r.body)}`);
      return payuOrderId;
    },
  };
}
