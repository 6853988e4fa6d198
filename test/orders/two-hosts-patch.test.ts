import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnvelope, natsNames } from '../../services/contracts/index.ts';
import { createOrderHost, type TransitionReport } from '../../services/orders/order-host.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { sampleOrder } from '../support/orders.ts';

/**
 * Two order hosts on one database, taking turns on one order (a partition moving between instances,
 * a rebalance, two processes during a deploy). Each keeps the order as it last wrote it and sends an
 * update as the context keys that changed: a host whose memory is stale must not write a patch decided
 * from it — its conditional write fails, it reads again, decides again — so the other host's change
 * survives, the state is the one the events give in order, and the stored snapshot is the whole new one.
 */
const CONSUMER = 'two-hosts-test';
const names = natsNames('twohosts', 4);
let t: TestContext;

beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.cleanup();
});

const host = () => createOrderHost({ sql: t.sql, names, logger: t.logger, paymentTimeoutMs: 60_000, consumer: CONSUMER });
const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v)) as unknown;

describe('two hosts taking turns on one order, each with its own memory of it', () => {
  it('a stale memory never writes: the other host’s change survives, the state follows the events, the stored snapshot is whole', async () => {
    const o = sampleOrder();
    const [a, b] = [host(), host()];
    const send = (h: ReturnType<typeof host>, type: string, payload: unknown): Promise<TransitionReport> =>
      h.handle(makeEnvelope({ type, orderId: o.orderId, payload }), 'test');
    const stored = async () =>
      (await t.sql<{ snapshot: { value: unknown; context: Record<string, unknown> }; version: number; state: string }[]>`
        select snapshot, version, state from orders where id = ${o.orderId}`)[0];
    const expectStored = async (r: TransitionReport, version: number) => {
      const row = await stored();
      expect(row?.version).toBe(version);
      expect(row?.snapshot.value).toEqual(r.to);
      expect(row?.snapshot.context).toEqual(json(r.snapshot?.context));
    };

    expect((await send(a, 'ORDER_PLACED', { order: o })).outcome).toBe('created');
    const paid = await send(a, 'PAYMENT_CONFIRMED', { provider: 'stripe', paymentId: `pi-${o.orderId}`, amount: o.total, currency: o.currency });
    expect(paid.outcome).toBe('applied');
    await expectStored(paid, 2);

    // b has never seen the order: it reads version 2 and writes version 3 (a patch: the document).
    const issued = await send(b, 'DOCUMENT_ISSUED', { providerId: '41', number: 'FV/41/12/2026', issueDate: '2026-12-02', provider: 'fakturownia' });
    expect(issued.to).toEqual({ processing: { fulfilment: 'submitting', document: 'issued' } });
    await expectStored(issued, 3);

    // a still remembers version 2 (document requested). Decided from that, the state would say
    // "requested" and its patch would be written over b's row; instead the write's version check
    // fails and a decides again from version 3.
    const accepted = await send(a, 'SHIPMENT_ACCEPTED', { shipmentId: 'shp_41' });
    expect(accepted.outcome).toBe('applied');
    expect(accepted.to).toEqual({ processing: { fulfilment: 'accepted', document: 'issued' } });
    await expectStored(accepted, 4);
    expect((await stored())?.snapshot.context['document']).toMatchObject({ number: 'FV/41/12/2026' });
    expect((await stored())?.snapshot.context['shipmentId']).toBe('shp_41');

    // And the other way round: b remembers version 3, a wrote 4.
    const handed = await send(b, 'HANDED_TO_CARRIER', { shipmentId: 'shp_41', trackingNumber: 'TRK41', carrier: 'inpost' });
    expect(handed.outcome).toBe('applied');
    await expectStored(handed, 5);
    const ctx = (await stored())?.snapshot.context ?? {};
    expect(ctx['shipmentId']).toBe('shp_41');
    expect(ctx['trackingNumber']).toBe('TRK41');
    expect(ctx['document']).toMatchObject({ number: 'FV/41/12/2026' });
    expect(ctx['payment']).toMatchObject({ paymentId: `pi-${o.orderId}` });

    // One history row per event, each applied once, in the order sent.
    const history = await t.sql<{ type: string; outcome: string }[]>`select type, outcome from order_history where order_id = ${o.orderId} order by id`;
    expect(history.map((h) => `${h.type}:${h.outcome}`)).toEqual([
      'ORDER_PLACED:created',
      'PAYMENT_CONFIRMED:applied',
      'DOCUMENT_ISSUED:applied',
      'SHIPMENT_ACCEPTED:applied',
      'HANDED_TO_CARRIER:applied',
    ]);
  });
});
