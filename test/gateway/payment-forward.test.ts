import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { jetstreamManager } from '@nats-io/jetstream';
import { buildGateway } from '../../gateway/app.ts';
import { ensureTopology } from '../../infra/nats/topology.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { GATEWAY_ENV, SHOP, intakeBody, paidSession, stripeEvent, streamMessages } from './gateway-helpers.ts';

/**
 * A verified payment for a known order is published while its webhook row is inserted (the insert's
 * commit is not on the payment's way to the order); the answer waits for both, and what either
 * failing leaves is finished by the provider's retry. Real Postgres and NATS throughout.
 */
let t: TestContext;
let app: FastifyInstance;

beforeAll(async () => {
  t = await createTestContext(GATEWAY_ENV);
  app = await buildGateway(t, { defaultMetrics: false });
});
afterAll(async () => {
  await app?.close();
  await t?.cleanup();
});

async function newOrder(body = intakeBody()): Promise<{ orderId: string; externalId: string }> {
  const res = await app.inject({ method: 'POST', url: '/orders', headers: SHOP, payload: body });
  expect(res.statusCode).toBe(202);
  return res.json();
}

const payments = async (orderId: string) =>
  (await streamMessages(t.nc, t.names.streams.orderEvents)).filter((m) => m.env.orderId === orderId && m.env.type === 'PAYMENT_CONFIRMED');

/** Waits until the webhook row of `dedupeKey` is marked published; its message ids. */
async function markedPublished(dedupeKey: string): Promise<string[]> {
  const row = await eventually(async () => {
    const [r] = await t.sql<{ message_ids: string[]; published_at: Date | null }[]>`
      select message_ids, published_at from webhook_inbox where dedupe_key = ${dedupeKey}`;
    return r?.published_at ? r : undefined;
  }, `webhook ${dedupeKey} marked published`);
  return row.message_ids;
}

const pay = (e: { payload: string; headers: Record<string, string> }) => app.inject({ method: 'POST', url: '/webhooks/payments/stripe', payload: e.payload, headers: e.headers });

describe('a payment forwarded while its webhook is stored', () => {
  it('reaches the stream while the row insert is blocked; the answer waits for the insert', async () => {
    const o = await newOrder();
    const e = stripeEvent('checkout.session.completed', paidSession(o.orderId), { id: 'evt_while_blocked' });
    // A transaction holding a lock that every insert into webhook_inbox waits for.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = t.sql.begin(async (tx) => {
      await tx`lock table webhook_inbox in share row exclusive mode`;
      locked();
      await released;
    });
    await isLocked;
    let answered = false;
    const answer = pay(e).then((r) => {
      answered = true;
      return r;
    });
    try {
      const [published] = await eventually(async () => {
        const found = await payments(o.orderId);
        return found.length > 0 ? found : undefined;
      }, 'PAYMENT_CONFIRMED published while the insert waits');
      expect(published?.msgId).toBe('stripe:evt_while_blocked');
      expect(answered).toBe(false);
      expect(await t.sql`select 1 from webhook_inbox where dedupe_key = 'stripe:evt_while_blocked'`).toHaveLength(0);
    } finally {
      release();
      await holder;
    }
    const res = await answer;
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ received: true, verdict: 'accepted', duplicate: false });
    expect(await markedPublished('stripe:evt_while_blocked')).toEqual(['stripe:evt_while_blocked']);
    expect(await payments(o.orderId)).toHaveLength(1);
  });

  it('a repeat of a payment stored as unmatched reaches the order once it exists, and its row says so', async () => {
    const body = intakeBody();
    const e = stripeEvent('checkout.session.completed', paidSession(body.externalId), { id: 'evt_order_later' });
    const first = await pay(e);
    expect(first.json()).toMatchObject({ verdict: 'unmatched', duplicate: false });
    const o = await newOrder(body);
    expect(await payments(o.orderId)).toHaveLength(0);

    const repeat = await pay(e);
    expect(repeat.statusCode).toBe(200);
    expect(repeat.json()).toMatchObject({ webhookId: first.json().webhookId, verdict: 'accepted', duplicate: true });
    expect((await payments(o.orderId)).map((m) => m.msgId)).toEqual(['stripe:evt_order_later']);
    const [row] = await t.sql<{ verdict: string; order_id: string; message_ids: string[] }[]>`
      select verdict, order_id, message_ids from webhook_inbox where dedupe_key = 'stripe:evt_order_later'`;
    expect(row).toMatchObject({ verdict: 'accepted', order_id: o.orderId, message_ids: ['stripe:evt_order_later:notify', 'stripe:evt_order_later'] });

    // Once more: the same id again, dropped by JetStream; the row is not touched again.
    const again = await pay(e);
    expect(again.json()).toMatchObject({ verdict: 'accepted', duplicate: true });
    expect(await payments(o.orderId)).toHaveLength(1);
    const [after] = await t.sql<{ message_ids: string[] }[]>`select message_ids from webhook_inbox where dedupe_key = 'stripe:evt_order_later'`;
    expect(after?.message_ids).toEqual(['stripe:evt_order_later:notify', 'stripe:evt_order_later']);
  });

  it('the row insert failing: an error answer, the payment already on its way; the retry stores the row and adds no second message', async () => {
    const o = await newOrder();
    const e = stripeEvent('checkout.session.completed', paidSession(o.orderId), { id: 'evt_db_refuses' });
    await t.sql.unsafe(`create function refuse_inbox_row() returns trigger language plpgsql as $$ begin raise exception 'inbox refused for the test'; end $$;
      create trigger refuse_inbox_row before insert on webhook_inbox for each row execute function refuse_inbox_row()`);
    let refused;
    try {
      refused = await pay(e);
    } finally {
      await t.sql.unsafe('drop trigger refuse_inbox_row on webhook_inbox; drop function refuse_inbox_row()');
    }
    expect(refused.statusCode).toBeGreaterThanOrEqual(500);
    expect(refused.json().error).toBeDefined();
    expect(await t.sql`select 1 from webhook_inbox where dedupe_key = 'stripe:evt_db_refuses'`).toHaveLength(0);
    expect((await payments(o.orderId)).map((m) => m.msgId)).toEqual(['stripe:evt_db_refuses']);

    const retried = await pay(e);
    expect(retried.statusCode).toBe(200);
    expect(retried.json()).toMatchObject({ verdict: 'accepted', duplicate: false });
    expect((await payments(o.orderId)).map((m) => m.msgId)).toEqual(['stripe:evt_db_refuses']);
    expect(await markedPublished('stripe:evt_db_refuses')).toEqual(['stripe:evt_db_refuses']);
  });

  it('NATS refusing the publish: 503, the row stored unpublished; the retry publishes it once', async () => {
    const o = await newOrder();
    const jsm = await jetstreamManager(t.nc);
    await jsm.streams.delete(t.names.streams.orderEvents);
    const e = stripeEvent('checkout.session.completed', paidSession(o.orderId), { id: 'evt_nats_down' });
    const refused = await pay(e);
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({ error: { code: 'NATS_UNAVAILABLE' } });
    const [stored] = await t.sql<{ verdict: string; published_at: Date | null }[]>`select verdict, published_at from webhook_inbox where dedupe_key = 'stripe:evt_nats_down'`;
    expect(stored).toMatchObject({ verdict: 'accepted', published_at: null });

    await ensureTopology(t.nc, t.names, { ackWaitMs: t.config.ackWaitMs, duplicateWindowMs: t.config.duplicateWindowMs, maxDeliver: t.config.maxDeliver });
    const retried = await pay(e);
    expect(retried.statusCode).toBe(200);
    expect(retried.json()).toMatchObject({ verdict: 'accepted', duplicate: true });
    expect((await payments(o.orderId)).map((m) => m.msgId)).toEqual(['stripe:evt_nats_down']);
    expect(await markedPublished('stripe:evt_nats_down')).toEqual(['stripe:evt_nats_down']);
  });
});
