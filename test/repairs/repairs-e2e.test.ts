import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_ADDRESS } from '../support/orders.ts';
import { eventually } from '../support/context.ts';
import { startRepairsWorld, type RepairsWorld } from './repairs-world.ts';

/**
 * Admin repairs end to end: through the real gateway (intake, Stripe webhook, admin API), NATS,
 * Postgres, the order host, invoicing, mailer and logistics services, the Fakturownia and warehouse
 * sandboxes over HTTP and an SMTP sink.
 */
let w: RepairsWorld;

beforeAll(async () => {
  w = await startRepairsWorld();
});
afterAll(async () => {
  await w?.stop();
});

const BAD_NIP_BUYER = { email: 'firma@example.com', name: 'Anna Nowak', company: 'Firma sp. z o.o.', taxId: '1234567890' };
const GOOD_NIP = '5260250274';
const event = (orderId: string, body: Record<string, unknown>, headers: Record<string, string> = {}) => w.admin('POST', `/admin/api/orders/${orderId}/events`, body, headers);
const invoicesOf = (orderId: string) => w.invoicing.invoices().filter((i) => i.oid === orderId);
const mailsOf = (externalId: string) => w.sink.mails.filter((m) => m.subject.includes(externalId));
type HistoryRow = { type: string; outcome: string; actor: string | null; note: string | null };

/** A document created at the invoicing system by hand (as an admin does in its own UI). */
async function issueByHand(invoice: Record<string, unknown>): Promise<{ id: number; number: string; issue_date: string }> {
  const res = await fetch(`${w.invoicing.url}/invoices.json`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      api_token: w.invoicing.apiToken,
      invoice: { kind: 'vat', buyer_name: 'Firma sp. z o.o.', buyer_tax_no: GOOD_NIP, buyer_country: 'PL', positions: [{ name: 'Kubek', tax: 23, total_price_gross: '65.00', quantity: 1 }], ...invoice },
    }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: number; number: string; issue_date: string };
}

async function badNipOrderFailed(): Promise<{ orderId: string; externalId: string }> {
  const o = await w.place({ customer: BAD_NIP_BUYER });
  await w.pay(o.orderId);
  await w.waitFor(o.orderId, 'document failed on the NIP', (d) => d.documentState === 'failed' && d.documentFailure?.code === 'INVOICE_BUYER_TAX_ID_INVALID');
  return o;
}

describe('admin repairs end to end (gateway, NATS, Postgres, services, sandboxes)', () => {
  it('a held ADDRESS_INVALID order gets a corrected address and ships to it (the warehouse received the new one)', async () => {
    const o = await w.place({ shippingAddress: { ...SAMPLE_ADDRESS, postalCode: '00001' } });
    await w.pay(o.orderId);
    const held = await w.waitFor(o.orderId, 'held ADDRESS_INVALID', (d) => d.state === 'held' && d.hold?.code === 'ADDRESS_INVALID');
    expect(held.allowedEvents).toEqual(expect.arrayContaining(['UPDATE_SHIPPING_ADDRESS', 'RELEASE', 'MARK_SHIPPED', 'CANCEL']));

    // Validated like the intake, each problem named beside its field; the note is required.
    const noNote = await event(o.orderId, { type: 'UPDATE_SHIPPING_ADDRESS', shippingAddress: { ...SAMPLE_ADDRESS, postalCode: '00-950' } });
    expect(noNote.status).toBe(422);
    expect(noNote.body.error.details.fields).toContainEqual({ field: 'body.note', message: 'is required for UPDATE_SHIPPING_ADDRESS' });
    const { postalCode: _p, ...noPostalCode } = SAMPLE_ADDRESS;
    const bad = await event(o.orderId, { type: 'UPDATE_SHIPPING_ADDRESS', note: 'x', shippingAddress: { ...noPostalCode, country: 'Poland' } });
    expect(bad.status).toBe(422);
    const fields = (bad.body.error.details.fields as Array<{ field: string }>).map((f) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['body.shippingAddress.postalCode', 'body.shippingAddress.country']));

    const newAddress = { ...SAMPLE_ADDRESS, line1: 'ul. Nowa 2', postalCode: '00-950' };
    const ok = await event(o.orderId, { type: 'UPDATE_SHIPPING_ADDRESS', note: 'customer gave the right postal code', shippingAddress: newAddress });
    expect(ok.status).toBe(202);
    const shipped = await w.waitFor(o.orderId, 'shipped', (d) => d.state === 'inShipment' || d.state === 'closed');
    const shipment = w.warehouse.shipmentByReference(o.orderId);
    expect(shipment?.request.address).toMatchObject({ line1: 'ul. Nowa 2', postalCode: '00-950' });
    expect(w.warehouse.created.get(o.orderId)).toBe(1);
    expect(w.warehouse.submits.get(o.orderId)).toBe(2);
    expect(shipped.context.order.shippingAddress).toMatchObject({ line1: 'ul. Nowa 2', postalCode: '00-950' });
    const update = (shipped.history as HistoryRow[]).find((h) => h.type === 'UPDATE_SHIPPING_ADDRESS');
    expect(update).toMatchObject({ outcome: 'applied', actor: 'alice', note: 'customer gave the right postal code' });
    // Once a carrier has it, the address can no longer be changed.
    const late = await event(o.orderId, { type: 'UPDATE_SHIPPING_ADDRESS', note: 'again', shippingAddress: newAddress });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('EVENT_NOT_ALLOWED');
  });

  it('an address corrected while the warehouse has the shipment (no carrier yet) is changed there; once a carrier has it the change is refused and the old address stays', async () => {
    const o = await w.place();
    w.warehouse.setPlan(o.orderId, { paused: true });
    await w.pay(o.orderId);
    await w.waitFor(o.orderId, 'accepted at the warehouse', (x) => x.state === 'processing' && x.tracking.shipmentId !== null);
    const newAddress = { ...SAMPLE_ADDRESS, line1: 'ul. Zmieniona 9', postalCode: '02-222' };
    const first = await event(o.orderId, { type: 'UPDATE_SHIPPING_ADDRESS', note: 'customer moved', shippingAddress: newAddress });
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    const changed = await w.waitFor(o.orderId, 'address changed', (x) => x.context.order.shippingAddress.line1 === 'ul. Zmieniona 9' && !x.context.pendingShippingAddress);
    expect(w.warehouse.shipmentByReference(o.orderId)?.request.address).toMatchObject({ line1: 'ul. Zmieniona 9', postalCode: '02-222' });
    expect(w.warehouse.created.get(o.orderId), `submits: ${w.warehouse.submits.get(o.orderId)}`).toBe(1);
    const types = (changed.history as HistoryRow[]).map((h) => `${h.type}:${h.outcome}`);
    expect(types, types.join(' ')).toEqual(expect.arrayContaining(['UPDATE_SHIPPING_ADDRESS:applied', 'SHIPMENT_ADDRESS_CHANGED:applied']));

    const shipment = w.warehouse.shipmentByReference(o.orderId);
    if (!shipment) throw new Error('no shipment');
    shipment.status = 'HANDED_TO_CARRIER';
    const second = await event(o.orderId, { type: 'UPDATE_SHIPPING_ADDRESS', note: 'too late?', shippingAddress: { ...newAddress, line1: 'ul. Trzecia 3' } });
    expect(second.status, JSON.stringify(second.body)).toBe(202);
    const refused = await w.waitFor(o.orderId, 'address change refused', (x) => (x.history as HistoryRow[]).some((h) => h.type === 'SHIPMENT_ADDRESS_REFUSED' && h.outcome === 'applied'));
    expect(refused.context.order.shippingAddress.line1).toBe('ul. Zmieniona 9');
    expect(refused.context.pendingShippingAddress, (refused.history as HistoryRow[]).map((h) => `${h.type}:${h.outcome}`).join(' ')).toBeNull();
    expect(w.warehouse.shipmentByReference(o.orderId)?.request.address.line1).toBe('ul. Zmieniona 9');
  });

  it('an order held at the warehouse (ON_HOLD, no carrier) gets its corrected address there and is released with it', async () => {
    const o = await w.place();
    w.warehouse.setPlan(o.orderId, { problem: 'ON_HOLD' });
    await w.pay(o.orderId);
    const held = await w.waitFor(o.orderId, 'held ON_HOLD', (d) => d.state === 'held' && d.hold?.code === 'ON_HOLD');
    expect(held.tracking.shipmentId).not.toBeNull();
    expect(held.allowedEvents).toContain('UPDATE_SHIPPING_ADDRESS');
    const newAddress = { ...SAMPLE_ADDRESS, line1: 'ul. Magazynowa 4', postalCode: '01-234' };
    const ok = await event(o.orderId, { type: 'UPDATE_SHIPPING_ADDRESS', note: 'customer confirmed the street', shippingAddress: newAddress });
    expect(ok.status, JSON.stringify(ok.body)).toBe(202);
    // Read from the history, not the moment: whatever the warehouse says next, the change released the order.
    const released = await w.waitFor(o.orderId, 'the address change applied', (d) => (d.history as HistoryRow[]).some((h) => h.type === 'SHIPMENT_ADDRESS_CHANGED' && h.outcome === 'applied'));
    const change = (released.history as Array<HistoryRow & { from: string | null; to: string | null }>).find((h) => h.type === 'SHIPMENT_ADDRESS_CHANGED');
    expect(change).toMatchObject({ from: 'held', to: 'processing' });
    expect(released.context.order.shippingAddress.line1).toBe('ul. Magazynowa 4');
    // The warehouse's shipment carries it, and it is the same shipment (changed, not made again).
    expect(w.warehouse.shipmentByReference(o.orderId)?.request.address).toMatchObject({ line1: 'ul. Magazynowa 4', postalCode: '01-234' });
    expect(w.warehouse.created.get(o.orderId)).toBe(1);
    const types = (released.history as HistoryRow[]).map((h) => `${h.type}:${h.outcome}`);
    expect(types).toEqual(expect.arrayContaining(['UPDATE_SHIPPING_ADDRESS:applied', 'SHIPMENT_ADDRESS_CHANGED:applied']));
  });

  it('a held order can be marked shipped by hand through the admin API', async () => {
    const o = await w.place({ shippingAddress: { ...SAMPLE_ADDRESS, postalCode: '1' } });
    await w.pay(o.orderId);
    await w.waitFor(o.orderId, 'held', (d) => d.state === 'held');
    const ok = await event(o.orderId, { type: 'MARK_SHIPPED', trackingNumber: 'MANUAL-123', carrier: 'InPost', note: 'sent from the shop' });
    expect(ok.status).toBe(202);
    const d = await w.waitFor(o.orderId, 'in shipment', (x) => x.state === 'inShipment');
    expect(d.tracking).toMatchObject({ trackingNumber: 'MANUAL-123', carrier: 'InPost' });
  });

  it('a bad-NIP document: UPDATE_BUYER refuses a wrong checksum, then the corrected buyer gets the document and its e-mail', async () => {
    const o = await badNipOrderFailed();
    const d0 = await w.detail(o.orderId);
    expect(d0.allowedEvents).toEqual(expect.arrayContaining(['ISSUE_DOCUMENT', 'UPDATE_BUYER', 'ATTACH_DOCUMENT']));
    const wrong = await event(o.orderId, { type: 'UPDATE_BUYER', note: 'typo', customer: { name: 'Anna Nowak', company: 'Firma sp. z o.o.', taxId: '5260250275' } });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.details.fields).toEqual([{ field: 'body.customer.taxId', message: 'is not a valid Polish NIP (checksum)' }]);
    const noTax = await event(o.orderId, { type: 'UPDATE_BUYER', note: 'typo', customer: { name: 'Anna Nowak', company: 'Firma sp. z o.o.' } });
    expect(noTax.status).toBe(422);
    expect(noTax.body.error.details.fields).toEqual([{ field: 'body.customer.taxId', message: 'is required for a company (NIP)' }]);

    const ok = await event(o.orderId, { type: 'UPDATE_BUYER', note: 'NIP confirmed by phone', customer: { name: 'Anna Nowak', company: 'Firma sp. z o.o.', taxId: `PL ${GOOD_NIP}` } });
    expect(ok.status).toBe(202);
    const d = await w.waitFor(o.orderId, 'document e-mailed', (x) => x.documentState === 'emailed');
    expect(d.context.order.customer).toMatchObject({ email: 'firma@example.com', company: 'Firma sp. z o.o.', taxId: `PL ${GOOD_NIP}` });
    expect(invoicesOf(o.orderId)).toHaveLength(1);
    expect(invoicesOf(o.orderId)[0]?.buyer_tax_no).toBe(GOOD_NIP);
    expect(mailsOf(o.externalId).map((m) => m.to)).toEqual([['firma@example.com']]);
    const types = (d.history as HistoryRow[]).map((h) => `${h.type}:${h.outcome}`);
    expect(types).toEqual(expect.arrayContaining(['DOCUMENT_FAILED:applied', 'UPDATE_BUYER:applied', 'DOCUMENT_ISSUED:applied', 'DOCUMENT_EMAILED:applied']));
    const update = (d.history as HistoryRow[]).find((h) => h.type === 'UPDATE_BUYER');
    expect(update).toMatchObject({ actor: 'alice', note: 'NIP confirmed by phone' });
  });

  it('a document issued by hand for the order id is found first: ISSUE_DOCUMENT reports it (the local NIP check no longer stands in the way)', async () => {
    const o = await badNipOrderFailed();
    const byHand = await issueByHand({ oid: o.orderId, buyer_email: 'firma@example.com' });
    const ok = await event(o.orderId, { type: 'ISSUE_DOCUMENT', note: 'issued at Fakturownia by hand' });
    expect(ok.status).toBe(202);
    const d = await w.waitFor(o.orderId, 'document e-mailed', (x) => x.documentState === 'emailed');
    expect(d.document).toMatchObject({ providerId: String(byHand.id), number: byHand.number });
    expect(invoicesOf(o.orderId)).toHaveLength(1);
    expect(mailsOf(o.externalId)).toHaveLength(1);
  });

  it('ATTACH_DOCUMENT: a wrong date is refused after the look-up, the right one is verified at the invoicing system and e-mailed', async () => {
    const o = await badNipOrderFailed();
    const byHand = await issueByHand({ buyer_email: 'firma@example.com' });
    const wrongDate = await event(o.orderId, { type: 'ATTACH_DOCUMENT', note: 'issued by hand', number: byHand.number, issueDate: '2020-01-01' });
    expect(wrongDate.status).toBe(202);
    await w.waitFor(o.orderId, 'attach refused', (x) => x.documentState === 'failed' && x.documentFailure?.code === 'DOCUMENT_ATTACH_MISMATCH');
    const badBody = await event(o.orderId, { type: 'ATTACH_DOCUMENT', note: 'x', number: byHand.number, issueDate: '28.11.2026' });
    expect(badBody.status).toBe(422);
    expect((badBody.body.error.details.fields as Array<{ field: string }>).map((f) => f.field)).toContain('body.issueDate');

    const ok = await event(o.orderId, { type: 'ATTACH_DOCUMENT', note: 'issued by hand', number: byHand.number, issueDate: byHand.issue_date });
    expect(ok.status).toBe(202);
    const d = await w.waitFor(o.orderId, 'document e-mailed', (x) => x.documentState === 'emailed');
    expect(d.document).toMatchObject({ providerId: String(byHand.id), number: byHand.number, issueDate: byHand.issue_date, provider: 'fakturownia' });
    expect(mailsOf(o.externalId)).toHaveLength(1);
    expect(mailsOf(o.externalId)[0]?.attachments[0]?.content.subarray(0, 5).toString('latin1')).toBe('%PDF-');
  });

  it('ATTACH_DOCUMENT of a number the invoicing system does not know: recorded as given (manual), nothing e-mailed', async () => {
    const o = await badNipOrderFailed();
    const ok = await event(o.orderId, { type: 'ATTACH_DOCUMENT', note: 'paper invoice', number: 'FV/R/7/2026', issueDate: '2026-11-20' });
    expect(ok.status).toBe(202);
    const d = await w.waitFor(o.orderId, 'attached', (x) => x.documentState === 'attached');
    expect(d.document).toMatchObject({ provider: 'manual', number: 'FV/R/7/2026', issueDate: '2026-11-20' });
    expect(d.allowedEvents).not.toContain('ATTACH_DOCUMENT');
    expect(mailsOf(o.externalId)).toHaveLength(0);
  });

  it('RESEND_DOCUMENT_EMAIL: a second e-mail, to the address the admin gives', async () => {
    const o = await w.place();
    await w.pay(o.orderId);
    await w.waitFor(o.orderId, 'e-mailed', (x) => x.documentState === 'emailed');
    const bad = await event(o.orderId, { type: 'RESEND_DOCUMENT_EMAIL', email: 'not-an-address' });
    expect(bad.status).toBe(422);
    const ok = await event(o.orderId, { type: 'RESEND_DOCUMENT_EMAIL', email: 'ksiegowosc@example.com', note: 'for accounting' });
    expect(ok.status).toBe(202);
    await eventually(async () => mailsOf(o.externalId).length === 2, 'second e-mail');
    expect(mailsOf(o.externalId).map((m) => m.to)).toEqual([['jan@example.com'], ['ksiegowosc@example.com']]);
    const d = await w.waitFor(o.orderId, 'resend recorded', (x) => (x.history as HistoryRow[]).filter((h) => h.type === 'DOCUMENT_EMAILED' && h.outcome === 'applied').length === 2);
    expect((d.history as HistoryRow[]).find((h) => h.type === 'RESEND_DOCUMENT_EMAIL')).toMatchObject({ outcome: 'applied', actor: 'alice', note: 'for accounting' });
    // The same resend again (Idempotency-Key) is answered once and mails once more only for a new key.
    const key = { 'idempotency-key': `resend-${o.orderId}` };
    const a = await event(o.orderId, { type: 'RESEND_DOCUMENT_EMAIL', note: 'again' }, key);
    const b = await event(o.orderId, { type: 'RESEND_DOCUMENT_EMAIL', note: 'again' }, key);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.body).toEqual(a.body);
    await eventually(async () => mailsOf(o.externalId).length === 3, 'third e-mail');
    await new Promise((r) => setTimeout(r, 500));
    expect(mailsOf(o.externalId)).toHaveLength(3);
  });

  it('a document e-mail refused (no such mailbox) is sent again to the address the admin gives; an e-mail that failed for a while is retried with RETRY_DOCUMENT', async () => {
    const o = await w.place({ customer: { email: 'jan@nowhere.example', name: 'Jan Kowalski' } });
    await w.pay(o.orderId);
    const failed = await w.waitFor(o.orderId, 'e-mail refused', (x) => x.documentState === 'failed' && x.documentFailure?.code === 'MAIL_REJECTED');
    expect(failed.allowedEvents).toEqual(expect.arrayContaining(['RETRY_DOCUMENT', 'RESEND_DOCUMENT_EMAIL']));
    expect(failed.allowedEvents).not.toContain('ISSUE_DOCUMENT');
    expect((await event(o.orderId, { type: 'RESEND_DOCUMENT_EMAIL', email: 'jan@example.com', note: 'customer gave the right address' })).status).toBe(202);
    await w.waitFor(o.orderId, 'e-mailed to the right address', (x) => x.documentState === 'emailed');
    expect(mailsOf(o.externalId).map((m) => m.to)).toEqual([['jan@example.com']]);

    const p = await w.place();
    w.sink.setDown(true);
    try {
      await w.pay(p.orderId);
      await w.waitFor(p.orderId, 'e-mail gave up', (x) => x.documentState === 'failed' && x.documentFailure?.code === 'RETRIES_EXHAUSTED', 60_000);
    } finally {
      w.sink.setDown(false);
    }
    expect((await event(p.orderId, { type: 'RETRY_DOCUMENT', note: 'mail server back' })).status).toBe(202);
    const d = await w.waitFor(p.orderId, 'e-mailed after the retry', (x) => x.documentState === 'emailed');
    expect(mailsOf(p.externalId)).toHaveLength(1);
    expect((d.history as HistoryRow[]).find((h) => h.type === 'RETRY_DOCUMENT')).toMatchObject({ outcome: 'applied', actor: 'alice' });
  });

  it('each repair is refused (409 with the allowed events) where the machine does not allow it', async () => {
    const pending = await w.place();
    const address = { ...SAMPLE_ADDRESS, line1: 'ul. Inna 3' };
    const refused = async (orderId: string, body: Record<string, unknown>) => {
      const r = await event(orderId, body);
      expect(r.status, JSON.stringify(r.body)).toBe(409);
      expect(r.body.error.code).toBe('EVENT_NOT_ALLOWED');
      return r.body.error.details.allowed as string[];
    };
    expect(await refused(pending.orderId, { type: 'RESEND_DOCUMENT_EMAIL' })).toEqual(['CANCEL', 'UPDATE_SHIPPING_ADDRESS', 'UPDATE_BUYER']);
    await refused(pending.orderId, { type: 'ATTACH_DOCUMENT', note: 'n', number: 'FV/1', issueDate: '2026-11-20' });
    await refused(pending.orderId, { type: 'ISSUE_DOCUMENT' });

    const done = await w.place();
    await w.pay(done.orderId);
    await w.waitFor(done.orderId, 'e-mailed and shipped', (x) => x.documentState === 'emailed' && (x.state === 'inShipment' || x.state === 'closed'));
    const allowed = await refused(done.orderId, { type: 'UPDATE_BUYER', note: 'n', customer: { name: 'X' } });
    expect(allowed).toContain('RESEND_DOCUMENT_EMAIL');
    await refused(done.orderId, { type: 'ATTACH_DOCUMENT', note: 'n', number: 'FV/1', issueDate: '2026-11-20' });
    await refused(done.orderId, { type: 'ISSUE_DOCUMENT' });
    await refused(done.orderId, { type: 'UPDATE_SHIPPING_ADDRESS', note: 'n', shippingAddress: address });

    const cancelled = await w.place();
    expect((await event(cancelled.orderId, { type: 'CANCEL', note: 'test' })).status).toBe(202);
    await w.waitFor(cancelled.orderId, 'cancelled', (x) => x.state === 'cancelled');
    expect(await refused(cancelled.orderId, { type: 'UPDATE_SHIPPING_ADDRESS', note: 'n', shippingAddress: address })).toEqual([]);
    await refused(cancelled.orderId, { type: 'UPDATE_BUYER', note: 'n', customer: { name: 'X' } });
  });
});
