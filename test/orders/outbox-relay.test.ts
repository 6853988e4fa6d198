import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { makeEnvelope } from '../../services/contracts/index.ts';
import { startOutboxRelay } from '../../services/orders/outbox-relay.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { startChild, type Child } from '../support/processes.ts';

let t: TestContext;
const children: Child[] = [];
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await Promise.all(children.map((c) => c.kill('SIGKILL')));
  await t?.cleanup();
});

async function insertOutbox(n: number, orderId: string): Promise<string[]> {
  const subject = t.names.subjects.command('notify');
  const rows = Array.from({ length: n }, (_, i) => {
    const env = makeEnvelope({ type: 'notify', orderId, payload: { kind: 'test', severity: 'info', code: 'TEST', message: `#${i}`, orderId, externalId: null } });
    return { id: env.id, order_id: orderId, subject, envelope: t.sql.json(env as never) };
  });
  for (let i = 0; i < rows.length; i += 1000) {
    await t.sql`insert into outbox ${t.sql(rows.slice(i, i + 1000), 'id', 'order_id', 'subject', 'envelope')}`;
  }
  return rows.map((r) => r.id);
}

async function streamCount(): Promise<number> {
  const jsm = await jetstreamManager(t.nc);
  return (await jsm.streams.info(t.names.streams.command('notify'))).state.messages;
}

describe('outbox relay', () => {
  it('wakes on the order hosts\' NATS hint: a row is published long before the next poll', async () => {
    // A poll interval no test waits out: only the hint can wake the relay in time.
    const relay = await startOutboxRelay({ sql: t.sql, nc: t.nc, logger: t.logger, pollMs: 600_000, wakeSubject: t.names.subjects.outboxWake });
    try {
      await relay.leader;
      await eventually(async () => (await t.sql`select 1 from outbox where sent_at is null limit 1`).length === 0, 'the start-up round done', 30_000, 50);
      const before = await streamCount();
      await insertOutbox(1, `ord_${randomUUID()}`);
      t.nc.publish(t.names.subjects.outboxWake);
      // Published, not yet marked: the relay marks a round's rows in the statement of its next round.
      await eventually(async () => (await streamCount()) - before === 1, 'the row published after the hint', 60_000, 50);
    } finally {
      await relay.stop();
    }
  });

  it('killed mid-batch: every row is published exactly once in the stream, none lost', async () => {
    const before = await streamCount();
    await insertOutbox(3000, `ord_${randomUUID()}`);
    const first = await startChild('test/support/orders-child.ts', ['relay'], { ...t.env, RELAY_BATCH: '100' });
    children.push(first);
    await eventually(async () => {
      const [r] = await t.sql`select count(*)::int as n from outbox where sent_at is not null`;
      return (r?.['n'] as number) > 0;
    }, 'some rows sent', 20_000, 5);
    await first.kill('SIGKILL');
    const [partial] = await t.sql`select count(*)::int as n from outbox where sent_at is not null`;
    expect(partial?.['n']).toBeLessThan(3000);

    const second = await startChild('test/support/orders-child.ts', ['relay'], t.env);
    children.push(second);
    await eventually(async () => (await t.sql`select 1 from outbox where sent_at is null limit 1`).length === 0, 'all rows sent', 60_000, 100);
    // Rows published by the killed relay but not yet marked sent were republished: the stream's
    // duplicate window dropped them, so each row is in the stream once.
    expect((await streamCount()) - before).toBe(3000);
    await second.kill('SIGTERM');
  });

  it('its leader session killed (a Postgres restart, an admin\'s pg_terminate_backend): it leads again and publishes', async () => {
    const relay = await startOutboxRelay({ sql: t.sql, nc: t.nc, logger: t.logger, pollMs: 100 });
    try {
      await relay.leader;
      await eventually(async () => (await t.sql`select 1 from outbox where sent_at is null limit 1`).length === 0, 'the start-up round done', 30_000, 50);
      const holder = async () => (await t.sql<{ pid: number }[]>`
        select pid from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())`)[0]?.pid ?? null;
      await eventually(async () => (await holder()) !== null, 'the leader holds its lock', 30_000, 50);
      const first = await holder();
      const [killed] = await t.sql<{ ok: boolean }[]>`select pg_terminate_backend(${first}) as ok`;
      expect(killed?.ok).toBe(true);
      // The relay notices on its next statement, steps down and campaigns again on a new session.
      await eventually(async () => { const pid = await holder(); return pid !== null && pid !== first; }, 'leading again on a new session', 60_000, 50);
      const before = await streamCount();
      await insertOutbox(5, `ord_${randomUUID()}`);
      await eventually(async () => (await streamCount()) - before === 5, 'rows inserted after the kill published', 60_000, 50);
    } finally {
      await relay.stop();
    }
  });

  it('publishes each order’s rows in seq order, and only one relay leads at a time', async () => {
    const [a, b] = await Promise.all([
      startOutboxRelay({ sql: t.sql, nc: t.nc, logger: t.logger, pollMs: 100 }),
      startOutboxRelay({ sql: t.sql, nc: t.nc, logger: t.logger, pollMs: 100 }),
    ]);
    const leaders = await Promise.race([
      Promise.all([a.leader, b.leader]).then(() => 2),
      new Promise<number>((r) => setTimeout(() => r(1), 1500)),
    ]);
    expect(leaders).toBe(1);
    const orderId = `ord_${randomUUID()}`;
    const ids = await insertOutbox(200, orderId);
    await eventually(async () => (await t.sql`select 1 from outbox where order_id = ${orderId} and sent_at is null limit 1`).length === 0, 'sent');
    const jsm = await jetstreamManager(t.nc);
    const stream = t.names.streams.command('notify');
    const info = await jsm.streams.info(stream);
    const seen: string[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      const env = m?.json<{ id: string; orderId: string }>();
      if (env?.orderId === orderId) seen.push(env.id);
    }
    expect(seen).toEqual(ids);
    await Promise.all([a.stop(), b.stop()]);
  });
});
