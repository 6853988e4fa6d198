import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotifyCommand } from '../../services/contracts/index.ts';
import { SAMPLE_ADDRESS } from '../support/orders.ts';
import { eventually } from '../support/context.ts';
import { startRepairsWorld, type RepairsWorld } from './repairs-world.ts';

/**
 * "Cancel means something", end to end through the real gateway, NATS, Postgres, the order host,
 * the invoicing, mailer, logistics and payments services, and the Fakturownia, warehouse, Stripe and
 * PayU sandboxes over HTTP: the shipment is cancelled at the warehouse, the payment refunded once
 * at the provider, the document corrected once and the correction e-mailed.
 */
let w: RepairsWorld;

beforeAll(async () => {
  w = await startRepairsWorld();
});
afterAll(async () => {
  await w?.stop();
});

type HistoryRow = { type: string; outcome: string; actor: string | null; note: string | null };
const event = (orderId: string, body: Record<string, unknown>) => w.admin('POST', `/admin/api/orders/${orderId}/events`, body);
const mailsOf = (externalId: string) => w.sink.mails.filter((m) => m.subject.includes(externalId));
const invoicesOf = (oid: string) => w.invoicing.invoices().filter((i) => i.oid === oid);

/** Every admin notice published so far (no notifications service consumes them in this world). */
async function notices(orderId: string): Promise<NotifyCommand[]> {
  const jsm = await jetstreamManager(w.t.nc);
  const stream = w.t.names.streams.command('notify');
  const info = await jsm.streams.info(stream);
  const out: NotifyCommand[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    const env = m?.json<{ orderId: string | null; payload: NotifyCommand }>();
    if (env?.orderId === orderId) out.push(env.payload);
  }
  return out;
}

/** A paid order whose document is e-mailed and whose shipment waits at the warehouse (accepted, not moving). */
async function paidAndAccepted(pay: 'stripe' | 'payu' = 'stripe') {
  const o = await w.place();
  w.warehouse.setPlan(o.orderId, { paused: true });
  const payuOrderId = pay === 'payu' ? await w.payWithPayu(o.externalId) : null;
  if (pay === 'stripe') await w.pay(o.orderId);
  const d = await w.waitFor(o.orderId, 'accepted and e-mailed', (x) => x.tracking.shipmentId !== null && x.documentState === 'emailed');
  return { ...o, payuOrderId, paymentId: d.payment.paymentId as string, document: d.document as { providerId: string; number: string } };
}

describe('cancel means something (gateway, NATS, Postgres, services, sandboxes)', () => {
  it('a paid order (Stripe) is cancelled: shipment cancelled, refund made once, correction issued once and e-mailed', async () => {
    const o = await paidAndAccepted();
    const ok = await event(o.orderId, { type: 'CANCEL', note: 'customer changed their mind' });
    expect(ok.status).toBe(202);
    const d = await w.waitFor(o.orderId, 'cancelled, refunded, correction e-mailed', (x) => x.state === 'cancelled' && x.refunds[0]?.status === 'refunded' && x.corrections[0]?.status === 'emailed');
    // The warehouse.
    expect(w.warehouse.shipmentByReference(o.orderId)?.status).toBe('CANCELLED');
    expect(d.shipmentCancel).toEqual({ status: 'cancelled', message: null });
    // The money, once, at the provider.
    const refunds = w.stripe.refunds().filter((r) => r.payment_intent === o.paymentId);
    expect(refunds).toHaveLength(1);
    expect(refunds[0]).toMatchObject({ amount: 6500, currency: 'pln', metadata: { order_id: o.orderId, refund_id: `${o.orderId}:refund:1` } });
    expect(d.refunds[0]).toMatchObject({ refundId: `${o.orderId}:refund:1`, amount: 6500, providerRefundId: refunds[0]?.id });
    // The document, corrected once (a full reversal of the original), and e-mailed like the original.
    const corrections = invoicesOf(`${o.orderId}:correction:1`);
    expect(corrections).toHaveLength(1);
    expect(corrections[0]).toMatchObject({ kind: 'correction', invoice_id: Number(o.document.providerId), price_gross: '-65.00', gov_corrected_invoice_number: o.document.number });
    expect(d.corrections[0]).toMatchObject({ amount: 6500, full: true, document: { number: corrections[0]?.number } });
    const mails = mailsOf(o.externalId);
    expect(mails.map((m) => m.subject)).toEqual([expect.stringMatching(/^Faktura FV\//), `Faktura korygująca ${corrections[0]?.number} do zamówienia ${o.externalId}`]);
    expect(mails[1]?.attachments[0]?.content.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const history = (d.history as HistoryRow[]).map((h) => `${h.type}:${h.outcome}`);
    expect(history).toEqual(expect.arrayContaining(['CANCEL:applied', 'SHIPMENT_CANCELLED:applied', 'REFUND_COMPLETED:applied', 'CORRECTION_ISSUED:applied', 'CORRECTION_EMAILED:applied']));
    expect(d.allowedEvents).toEqual([]);
  });

  it('a held PayU order is cancelled: nothing at the warehouse to cancel, refunded once through PayU (extRefundId), corrected', async () => {
    const o = await w.place({ shippingAddress: { ...SAMPLE_ADDRESS, postalCode: '0' } });
    const payuOrderId = await w.payWithPayu(o.externalId);
    await w.waitFor(o.orderId, 'held with its document e-mailed', (x) => x.state === 'held' && x.documentState === 'emailed');
    expect((await event(o.orderId, { type: 'CANCEL', note: 'cannot deliver there' })).status).toBe(202);
    const d = await w.waitFor(o.orderId, 'cancelled and settled', (x) => x.state === 'cancelled' && x.refunds[0]?.status === 'refunded' && x.corrections[0]?.status === 'emailed');
    expect(d.shipmentCancel).toEqual({ status: 'cancelled', message: 'the warehouse had no shipment' });
    const refunds = w.payu.refunds().filter((r) => r.orderId === payuOrderId);
    expect(refunds).toEqual([expect.objectContaining({ extRefundId: `${o.orderId}:refund:1`, amount: '6500', currencyCode: 'PLN' })]);
    expect(d.refunds[0]?.providerRefundId).toBe(refunds[0]?.refundId);
    expect(invoicesOf(`${o.orderId}:correction:1`)).toHaveLength(1);
  });

  it('a cancel after the carrier took the parcel (its webhook not yet in) → held CANCEL_TOO_LATE, nothing refunded or corrected', async () => {
    const o = await paidAndAccepted();
    const shipment = w.warehouse.shipmentByReference(o.orderId);
    if (!shipment) throw new Error('no shipment');
    shipment.status = 'HANDED_TO_CARRIER';
    expect((await event(o.orderId, { type: 'CANCEL', note: 'too late?' })).status).toBe(202);
    const d = await w.waitFor(o.orderId, 'held CANCEL_TOO_LATE', (x) => x.state === 'held' && x.hold?.code === 'CANCEL_TOO_LATE');
    expect(d.hold.message).toContain('can no longer be cancelled');
    expect(d.cancellation).toBeNull();
    expect(d.refunds).toEqual([]);
    expect(w.stripe.refunds().filter((r) => r.payment_intent === o.paymentId)).toHaveLength(0);
    expect(invoicesOf(`${o.orderId}:correction:1`)).toHaveLength(0);
    await eventually(async () => (await notices(o.orderId)).some((n) => n.kind === 'order.held' && n.code === 'CANCEL_TOO_LATE'), 'CANCEL_TOO_LATE notice');
  });

  it('a document that arrives after the cancel raises a critical notification naming it', async () => {
    w.invoicing.configure({ latencyMs: 2500 });
    try {
      const o = await w.place();
      await w.pay(o.orderId);
      await w.waitFor(o.orderId, 'processing, document requested', (x) => x.state === 'processing' && x.documentState === 'requested');
      expect((await event(o.orderId, { type: 'CANCEL', note: 'fraud suspected' })).status).toBe(202);
      await w.waitFor(o.orderId, 'cancelled before the document', (x) => x.state === 'cancelled' && x.document === null);
      const d = await w.waitFor(o.orderId, 'late document recorded', (x) => x.document !== null);
      const notice = await eventually(async () => (await notices(o.orderId)).find((n) => n.kind === 'document.after-cancel'), 'document.after-cancel notice');
      expect(notice).toMatchObject({ severity: 'critical', code: 'DOCUMENT_AFTER_CANCEL' });
      expect(notice.message).toContain(d.document.number);
      expect(d.refunds.map((r: { status: string }) => r.status)).toEqual(['refunded']);
    } finally {
      w.invoicing.configure({ latencyMs: 0 });
    }
  });

  it('provider faults: Stripe 500s and a lost answer still make exactly one refund; PayU down for good → REFUND_FAILED, critical notice, a later REFUND goes through', async () => {
    const s = await paidAndAccepted('stripe');
    w.stripe.configure({ failNext: 1, dropNext: 1 });
    expect((await event(s.orderId, { type: 'CANCEL', note: 'faults' })).status).toBe(202);
    await w.waitFor(s.orderId, 'refunded despite the faults', (x) => x.refunds[0]?.status === 'refunded');
    expect(w.stripe.refunds().filter((r) => r.payment_intent === s.paymentId)).toHaveLength(1);

    const p = await paidAndAccepted('payu');
    w.payu.configure({ failNext: 1000 });
    try {
      expect((await event(p.orderId, { type: 'CANCEL', note: 'PayU is down' })).status).toBe(202);
      const failed = await w.waitFor(p.orderId, 'refund failed', (x) => x.refunds[0]?.status === 'failed');
      expect(failed.refunds[0].error).toMatch(/^RETRIES_EXHAUSTED/);
      const notice = await eventually(async () => (await notices(p.orderId)).find((n) => n.kind === 'refund.failed'), 'refund.failed notice');
      expect(notice).toMatchObject({ severity: 'critical', code: 'RETRIES_EXHAUSTED' });
      expect(failed.allowedEvents).toEqual(['REFUND']);
    } finally {
      w.payu.configure({ failNext: 0 });
    }
    expect(w.payu.refunds().filter((r) => r.orderId === p.payuOrderId)).toHaveLength(0);
    expect((await event(p.orderId, { type: 'REFUND', amount: 6500, reason: 'refund after the PayU outage' })).status).toBe(202);
    const d = await w.waitFor(p.orderId, 'refunded on the second try', (x) => x.refunds[1]?.status === 'refunded');
    expect(w.payu.refunds().filter((r) => r.orderId === p.payuOrderId).map((r) => [r.extRefundId, r.amount])).toEqual([[`${p.orderId}:refund:2`, '6500']]);
    // The document was corrected once, by the cancel.
    expect(d.corrections).toHaveLength(1);
  });

  it('REFUND (partial): that amount refunded once and corrected; more than is left → 409; a bad body → 422 beside its field', async () => {
    const o = await paidAndAccepted();
    const bad = await event(o.orderId, { type: 'REFUND', amount: 0, reason: '' });
    expect(bad.status).toBe(422);
    const missing = await event(o.orderId, { type: 'REFUND', note: 'x' });
    expect(missing.body.error.details.fields).toEqual([
      { field: 'body.amount', message: 'is required for REFUND (minor units)' },
      { field: 'body.reason', message: 'is required for REFUND' },
    ]);
    expect((await event(o.orderId, { type: 'REFUND', amount: 1500, reason: 'Zwrot kosztów dostawy', note: 'courier was late' })).status).toBe(202);
    const d = await w.waitFor(o.orderId, 'partly refunded and corrected', (x) => x.refunds[0]?.status === 'refunded' && x.corrections[0]?.status === 'emailed');
    expect(d.state).toBe('processing');
    expect(w.stripe.refunds().filter((r) => r.payment_intent === o.paymentId).map((r) => r.amount)).toEqual([1500]);
    const corr = invoicesOf(`${o.orderId}:correction:1`);
    expect(corr).toHaveLength(1);
    expect(corr[0]).toMatchObject({ kind: 'correction', price_gross: '-15.00', correction_reason: 'Zwrot kosztów dostawy' });
    expect(d.corrections[0]).toMatchObject({ amount: 1500, full: false });
    const tooMuch = await event(o.orderId, { type: 'REFUND', amount: 5001, reason: 'too much' });
    expect(tooMuch.status).toBe(409);
    // A cancel now refunds and corrects only what is left.
    expect((await event(o.orderId, { type: 'CANCEL', note: 'after all' })).status).toBe(202);
    const c = await w.waitFor(o.orderId, 'cancelled and settled', (x) => x.state === 'cancelled' && x.refunds[1]?.status === 'refunded' && x.corrections[1]?.status === 'emailed');
    expect(w.stripe.refunds().filter((r) => r.payment_intent === o.paymentId).map((r) => r.amount)).toEqual([1500, 5000]);
    expect(c.corrections.map((x: { amount: number }) => x.amount)).toEqual([1500, 5000]);
    expect(invoicesOf(`${o.orderId}:correction:2`)[0]?.price_gross).toBe('-50.00');
  });
});
