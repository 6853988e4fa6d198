import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ksefDocumentsNeedingAttention } from '../../services/invoicing/index.ts';
import { startRepairsWorld, type RepairsWorld } from './repairs-world.ts';
import { eventually } from '../support/context.ts';
import { KSEF_TEST_ENV } from '../support/ksef.ts';

/**
 * Corrections go through KSeF the same way as invoices (issue 13, item 6): with KSEF_MODE on, the
 * correction is sent with `gov_save_and_send`, the KSeF poller follows it, the order records its KSeF
 * number and only then is the correction e-mailed; a refusal notifies an admin and e-mails nothing.
 * Real gateway, NATS, Postgres, services and sandboxes (the Fakturownia sandbox simulates KSeF).
 */
let w: RepairsWorld;

beforeAll(async () => {
  w = await startRepairsWorld({
    invoicing: { ksef: 'on', faults: { ksefProcessingMs: 300 } },
    env: KSEF_TEST_ENV,
  });
});
afterAll(async () => {
  await w?.stop();
});

const COMPANY = { email: 'firma@example.com', name: 'Anna Nowak', company: 'Firma sp. z o.o.', taxId: '526-025-02-74' };
const event = (orderId: string, body: Record<string, unknown>) => w.admin('POST', `/admin/api/orders/${orderId}/events`, body);
const mailsOf = (externalId: string) => w.sink.mails.filter((m) => m.subject.includes(externalId));

async function paidCompanyOrder() {
  const o = await w.place({ customer: COMPANY });
  w.warehouse.setPlan(o.orderId, { paused: true });
  await w.pay(o.orderId);
  await w.waitFor(o.orderId, 'invoice accepted by KSeF and e-mailed, shipment accepted', (x) => x.documentState === 'emailed' && x.context.ksef?.status === 'accepted' && x.tracking.shipmentId !== null, 60_000);
  return o;
}

describe('correction documents through KSeF', () => {
  it('a cancel: the correction is sent to KSeF, its KSeF number saved on the order, then e-mailed', async () => {
    const o = await paidCompanyOrder();
    expect((await event(o.orderId, { type: 'CANCEL', note: 'KSeF correction' })).status).toBe(202);
    const d = await w.waitFor(o.orderId, 'correction accepted and e-mailed', (x) => x.state === 'cancelled' && x.corrections[0]?.status === 'emailed', 60_000);
    const [corr] = w.invoicing.invoices().filter((i) => i.oid === `${o.orderId}:correction:1`);
    expect(corr).toMatchObject({ kind: 'correction', gov_status: 'ok' });
    expect(d.corrections[0].ksefNumber).toBe(corr?.gov_id);
    const types = (d.history as Array<{ type: string; outcome: string }>).filter((h) => h.outcome === 'applied').map((h) => h.type);
    expect(types.indexOf('CORRECTION_KSEF_ACCEPTED')).toBeGreaterThan(types.indexOf('CORRECTION_ISSUED'));
    expect(types.indexOf('CORRECTION_EMAILED')).toBeGreaterThan(types.indexOf('CORRECTION_KSEF_ACCEPTED'));
    expect(mailsOf(o.externalId).filter((m) => m.subject.startsWith('Faktura korygująca'))).toHaveLength(1);

    // The console offers the correction's KSeF XML and UPO on the order page, as kept.
    await eventually(async () => (await w.t.sql`select 1 from ksef_files f join documents d on d.provider = f.provider and d.provider_id = f.provider_id where d.parent_order_id = ${o.orderId}`).length === 2, 'correction XML and UPO kept', 60_000);
    const login = await fetch(`${w.gw.url}/admin/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=alice-token-0123456789', redirect: 'manual' });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const html = await (await fetch(`${w.gw.url}/admin/orders/${o.orderId}`, { headers: { cookie } })).text();
    const links = [...html.matchAll(/data-correction-file="(gov|gov_upo)" href="([^"]+)"/g)].map((m) => ({ kind: m[1]!, href: m[2]! }));
    expect(links.map((l) => l.kind).sort()).toEqual(['gov', 'gov_upo']);
    for (const l of links) {
      const res = await fetch(`${w.gw.url}${l.href}`, { headers: { cookie } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename=".+-(KSeF|UPO)\.xml"$/);
      const [kept] = await w.t.sql<Array<{ content: Buffer }>>`select f.content from ksef_files f join documents d on d.provider = f.provider and d.provider_id = f.provider_id where d.parent_order_id = ${o.orderId} and f.kind = ${l.kind}`;
      expect(Buffer.from(await res.arrayBuffer()).equals(kept?.content ?? Buffer.alloc(0))).toBe(true);
    }
  });

  it('KSeF refuses the correction → ksefRejected on the order, no correction e-mail', async () => {
    const o = await paidCompanyOrder();
    w.invoicing.configure({ ksefRejectNext: 1 });
    expect((await event(o.orderId, { type: 'REFUND', amount: 1500, reason: 'Zwrot kosztów dostawy' })).status).toBe(202);
    const d = await w.waitFor(o.orderId, 'correction rejected by KSeF', (x) => x.corrections[0]?.status === 'ksefRejected', 60_000);
    expect(d.corrections[0].error).toMatch(/^KSEF_REJECTED/);
    await new Promise((r) => setTimeout(r, 500));
    expect(mailsOf(o.externalId).filter((m) => m.subject.startsWith('Faktura korygująca'))).toHaveLength(0);
    expect(d.refunds[0]?.status).toBe('refunded');
    expect(d.allowedEvents).toContain('RESEND_TO_KSEF');
    // Needs attention lists the refused correction under its order (the admin lands on the order page).
    const attention = await ksefDocumentsNeedingAttention(w.t.sql, 60_000);
    expect(attention.find((k) => k.number === d.corrections[0].document.number)).toMatchObject({ orderId: o.orderId, state: 'rejected' });

    // Fixed at the invoicing system, the admin resends that correction: accepted, then e-mailed.
    const correctionId = d.corrections[0].correctionId as string;
    expect((await event(o.orderId, { type: 'RESEND_TO_KSEF', correctionId, note: 'fixed at Fakturownia' })).status).toBe(202);
    const done = await w.waitFor(o.orderId, 'correction accepted after the resend', (x) => x.corrections[0]?.status === 'emailed', 60_000);
    expect(done.corrections[0].ksefNumber).toEqual(expect.any(String));
    expect(mailsOf(o.externalId).filter((m) => m.subject.startsWith('Faktura korygująca'))).toHaveLength(1);
    // The invoice itself was not touched.
    expect(done.context.ksef.status).toBe('accepted');
  });
});
