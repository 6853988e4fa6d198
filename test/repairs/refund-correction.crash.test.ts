import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startChild, type Child } from '../support/processes.ts';
import { startRepairsWorld, type RepairsWorld } from './repairs-world.ts';

/**
 * A refund and a correction each survive a SIGKILL of their service mid-call: the provider has
 * answered (the refund is made, the correction issued) but nothing was saved or reported. After a
 * restart there is still exactly one refund at the Stripe / PayU sandbox and one correction at the
 * invoicing sandbox, and the order records them.
 */
let w: RepairsWorld;
const children: Child[] = [];

beforeAll(async () => {
  w = await startRepairsWorld({ skip: ['payments', 'invoicing'] });
});
afterEach(async () => {
  for (const c of children.splice(0)) await c.kill('SIGKILL');
});
afterAll(async () => {
  await w?.stop();
});

const child = async (which: 'payments' | 'invoicing', kill: boolean): Promise<Child> => {
  const c = await startChild('test/repairs/crash-child.ts', [which], { ...w.t.env, ...(kill ? { TEST_KILL_AFTER_PROVIDER_ANSWER: '1' } : {}) }, 60_000);
  children.push(c);
  return c;
};
const event = (orderId: string, body: Record<string, unknown>) => w.admin('POST', `/admin/api/orders/${orderId}/events`, body);

async function paidAndAccepted(pay: 'stripe' | 'payu') {
  const o = await w.place();
  w.warehouse.setPlan(o.orderId, { paused: true });
  const payuOrderId = pay === 'payu' ? await w.payWithPayu(o.externalId) : null;
  if (pay === 'stripe') await w.pay(o.orderId);
  const d = await w.waitFor(o.orderId, 'accepted and e-mailed', (x) => x.tracking.shipmentId !== null && x.documentState === 'emailed', 60_000);
  return { ...o, payuOrderId, paymentId: d.payment.paymentId as string };
}

describe('refunds and corrections survive a SIGKILL of their service mid-call', () => {
  it('payments killed after Stripe refunded (nothing saved, nothing reported) → after a restart exactly one refund', async () => {
    const invoicing = await child('invoicing', false);
    const first = await child('payments', true);
    const o = await paidAndAccepted('stripe');
    expect((await event(o.orderId, { type: 'CANCEL', note: 'crash test' })).status).toBe(202);
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(w.stripe.refunds().filter((r) => r.payment_intent === o.paymentId)).toHaveLength(1);
    expect((await w.detail(o.orderId)).refunds[0]?.status).toBe('requested');
    await child('payments', false);
    const d = await w.waitFor(o.orderId, 'refunded after the restart', (x) => x.refunds[0]?.status === 'refunded' && x.corrections[0]?.status === 'emailed', 60_000);
    const refunds = w.stripe.refunds().filter((r) => r.payment_intent === o.paymentId);
    expect(refunds).toHaveLength(1);
    expect(d.refunds[0].providerRefundId).toBe(refunds[0]?.id);
    expect(w.invoicing.invoices().filter((i) => i.oid === `${o.orderId}:correction:1`)).toHaveLength(1);
    await invoicing.kill('SIGTERM');
  });

  it('payments killed after PayU accepted the refund → after a restart the refund is found by extRefundId, not asked again', async () => {
    const invoicing = await child('invoicing', false);
    const first = await child('payments', true);
    const o = await paidAndAccepted('payu');
    expect((await event(o.orderId, { type: 'CANCEL', note: 'crash test' })).status).toBe(202);
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(w.payu.refunds().filter((r) => r.orderId === o.payuOrderId)).toHaveLength(1);
    await child('payments', false);
    const d = await w.waitFor(o.orderId, 'refunded after the restart', (x) => x.refunds[0]?.status === 'refunded', 60_000);
    const refunds = w.payu.refunds().filter((r) => r.orderId === o.payuOrderId);
    expect(refunds).toHaveLength(1);
    expect(d.refunds[0].providerRefundId).toBe(refunds[0]?.refundId);
    await invoicing.kill('SIGTERM');
  });

  it('invoicing killed after the correction was issued → after a restart exactly one correction, e-mailed once', async () => {
    const payments = await child('payments', false);
    const first = await child('invoicing', true);
    const o = await paidAndAccepted('stripe');
    expect((await event(o.orderId, { type: 'CANCEL', note: 'crash test' })).status).toBe(202);
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const oid = `${o.orderId}:correction:1`;
    expect(w.invoicing.invoices().filter((i) => i.oid === oid)).toHaveLength(1);
    expect((await w.detail(o.orderId)).corrections[0]?.status).toBe('requested');
    await child('invoicing', false);
    const d = await w.waitFor(o.orderId, 'correction e-mailed after the restart', (x) => x.corrections[0]?.status === 'emailed' && x.refunds[0]?.status === 'refunded', 60_000);
    const corrections = w.invoicing.invoices().filter((i) => i.oid === oid);
    expect(corrections).toHaveLength(1);
    expect(d.corrections[0].document.providerId).toBe(String(corrections[0]?.id));
    expect(w.sink.mails.filter((m) => m.subject.startsWith(`Faktura korygująca`) && m.subject.includes(o.externalId))).toHaveLength(1);
    expect(w.stripe.refunds().filter((r) => r.payment_intent === o.paymentId)).toHaveLength(1);
    await payments.kill('SIGTERM');
  });
});
