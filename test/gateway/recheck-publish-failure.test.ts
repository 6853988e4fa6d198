import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminEventRecheck } from '../../gateway/admin-event-recheck.ts';
import { startIntakeRecheck } from '../../gateway/intake-recheck.ts';
import { startWebhookRecheck } from '../../gateway/webhook-recheck.ts';
import { makeEnvelope } from '../../services/contracts/index.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { sampleOrder } from '../support/orders.ts';

/**
 * The gateway's rechecks walk their tables by time and move past what they read: when sending
 * again fails half-way through a check (NATS away: a cluster node restarting), what the check found
 * and did not send yet must still be sent by a later check. Seen in the cluster chaos test
 * (2026-12-01, 14:12–14:17 UTC): "intake recheck failed: jetstream is not enabled", and two orders
 * the shop placed never came to exist.
 */
let t: TestContext;

beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.cleanup();
});

/** A sender that fails its first call (NATS away) and records the rest. */
function failingOnce<A extends unknown[]>() {
  let calls = 0;
  const sent: A[] = [];
  return {
    sent,
    send: async (...args: A) => {
      calls++;
      if (calls === 1) throw new Error('jetstream is not enabled');
      sent.push(args);
    },
  };
}

const checkUntil = async (check: () => Promise<string[]>, n: number) => {
  const all = new Set<string>();
  await eventually(async () => {
    for (const id of await check().catch(() => [])) all.add(id);
    return all.size >= n;
  }, `${n} sent`, 30_000, 100);
  return all;
};

/** The first check fails on its first send (and throws); the next checks send both `ids`. */
async function failsThenSendsBoth(recheck: { check(): Promise<string[]>; stop(): Promise<void> }, ids: string[]): Promise<void> {
  try {
    await expect(recheck.check()).rejects.toThrow('jetstream is not enabled');
    const sent = await checkUntil(() => recheck.check(), 2);
    expect([...sent].sort()).toEqual([...ids].sort());
  } finally {
    await recheck.stop();
  }
}

describe('a recheck whose sending fails half-way', () => {
  it('intake: both missing orders are republished by the next check', async () => {
    const orders = [sampleOrder(), sampleOrder()];
    for (const o of orders) {
      await t.sql`insert into order_intake (shop, external_id, order_id, body_hash, total, currency, order_data, created_at)
        values ('acme', ${o.externalId}, ${o.orderId}, 'h', ${o.total}, 'PLN', ${t.sql.json(o as never)}, now() - interval '5 seconds')`;
    }
    const sender = failingOnce<[{ orderId: string }, number]>();
    await failsThenSendsBoth(startIntakeRecheck({ sql: t.sql, logger: t.logger, everyMs: 0, graceMs: 1000, republish: sender.send }), orders.map((o) => o.orderId));
  });

  it('webhooks: both unanswered webhooks are replayed by the next check', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const orderId = `ord_wh_fail_${i}_${Date.now()}`;
      const [row] = await t.sql<{ id: string }[]>`
        insert into webhook_inbox (provider, dedupe_key, signature, verdict, order_id, headers, body, message_ids, received_at, published_at)
        values ('stripe', ${`stripe:evt_fail_${orderId}`}, 'valid', 'accepted', ${orderId}, '{}'::jsonb, ${Buffer.from('{}')}, ${[`payment:${orderId}`]}, now() - interval '5 seconds', now() - interval '5 seconds')
        returning id::text`;
      ids.push(row!.id);
    }
    const sender = failingOnce<[string]>();
    await failsThenSendsBoth(startWebhookRecheck({ sql: t.sql, logger: t.logger, everyMs: 0, graceMs: 1000, replay: sender.send }), ids);
  });

  it('admin events: both unanswered events are published again by the next check', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const orderId = `ord_ae_fail_${i}_${Date.now()}`;
      const env = makeEnvelope({ id: `admin:alice:k-${orderId}`, type: 'CANCEL', orderId, payload: { note: 'x' }, actor: 'alice' });
      await t.sql`insert into admin_idempotency (admin, key, order_id, event_type, scope_hash, message_id, status, response, answered_at, subject, envelope)
        values ('alice', ${`k-${orderId}`}, ${orderId}, 'CANCEL', 'h', ${env.id}, 202, '{}', now() - interval '5 seconds', ${t.names.subjects.orderEvent(orderId)}, ${t.sql.json(env as never)})`;
      ids.push(env.id);
    }
    const sender = failingOnce<[string, { id: string }, number]>();
    await failsThenSendsBoth(startAdminEventRecheck({ sql: t.sql, logger: t.logger, everyMs: 0, graceMs: 1000, republish: sender.send }), ids);
    expect(sender.sent.map(([, e]) => e.id).sort()).toEqual([...ids].sort());
  });

  it('admin events: one the order host dead-lettered is not sent again', async () => {
    const orderId = `ord_ae_dead_${Date.now()}`;
    const env = makeEnvelope({ id: `admin:alice:k-${orderId}`, type: 'CANCEL', orderId, payload: { note: 'x' }, actor: 'alice' });
    await t.sql`insert into admin_idempotency (admin, key, order_id, event_type, scope_hash, message_id, status, response, answered_at, subject, envelope)
      values ('alice', ${`k-${orderId}`}, ${orderId}, 'CANCEL', 'h', ${env.id}, 202, '{}', now() - interval '5 seconds', ${t.names.subjects.orderEvent(orderId)}, ${t.sql.json(env as never)})`;
    const sent: string[] = [];
    const recheck = startAdminEventRecheck({ sql: t.sql, logger: t.logger, everyMs: 0, graceMs: 1000, republish: async (_s, e) => void sent.push(e.id) });
    try {
      await t.sql`insert into dead_letters (consumer, subject, message_id, order_id, data, error_code, error_message, deliveries)
        values ('orders_p0', ${t.names.subjects.orderEvent(orderId)}, ${env.id}, ${orderId}, '{}', 'VALIDATION_FAILED', 'refused', 1)`;
      // (The rows of the test before, unanswered still, share this database: only this event is looked at.)
      expect(await recheck.check()).not.toContain(env.id);
      // Without the dead letter it would have been sent: the same row, the letter gone.
      await t.sql`delete from dead_letters where message_id = ${env.id}`;
      const other = startAdminEventRecheck({ sql: t.sql, logger: t.logger, everyMs: 0, graceMs: 1000, republish: async (_s, e) => void sent.push(e.id) });
      try {
        expect(await other.check()).toContain(env.id);
      } finally {
        await other.stop();
      }
      expect(sent.filter((id) => id === env.id)).toEqual([env.id]);
    } finally {
      await recheck.stop();
    }
  });
});
