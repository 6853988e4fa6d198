import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { startNotificationsService } from '../../services/notifications/main.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';

/**
 * Nothing is stuck silently: a message holding text Postgres cannot store is still dead-lettered
 * (sanitised text plus its exact bytes) and surfaced; and when even the dead letter cannot be written,
 * JetStream's max-deliveries advisory still reaches an admin as a critical notification.
 */
let t: TestContext;
let service: RunningService;

beforeAll(async () => {
  t = await createTestContext({ RETRY_BASE_MS: '20', RETRY_CAP_MS: '100' });
  service = await startNotificationsService(t, { pollMs: 200 });
});
afterAll(async () => {
  await service?.stop();
  await t?.cleanup();
});

/** Publishes raw bytes onto the notify command subject (a poison message: not a valid command). */
async function poison(body: string | Buffer): Promise<{ bytes: Buffer; seq: number }> {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const h = natsHeaders();
  h.set('Nats-Msg-Id', `poison-${randomUUID()}`);
  const ack = await jetstream(t.nc).publish(t.names.subjects.command('notify'), bytes, { headers: h });
  return { bytes, seq: ack.seq };
}

describe('stuck messages', () => {
  it('a message with NUL bytes and lone surrogates is dead-lettered with its exact bytes and surfaced', async () => {
    const marker = randomUUID();
    // Raw NUL bytes and the UTF-8 encoding of a lone surrogate (ED A0 80), as a hostile sender would put them.
    const body = Buffer.concat([Buffer.from(`{"id":"m`), Buffer.from([0]), Buffer.from(`${marker}","type":"notify`), Buffer.from([0xed, 0xa0, 0x80, 0]), Buffer.from('"}')]);
    const { bytes } = await poison(body);
    const row = await eventually(async () => {
      const [r] = await t.sql<Array<{ id: string; data: string; raw: Buffer | null; error_code: string }>>`
        select id::text, data, raw, error_code from dead_letters where data like ${`%${marker}%`}`;
      return r;
    }, 'dead letter recorded', 60_000);
    expect(row.raw?.equals(bytes)).toBe(true);
    expect(row.data).not.toContain('\u0000');
    expect(row.data).toContain('\ufffd');
    const n = await eventually(async () => {
      const [r] = await t.sql<Array<{ severity: string; kind: string }>>`select severity, kind from notifications where source = ${`dead-letter:${row.id}`}`;
      return r;
    }, 'dead letter surfaced', 60_000);
    expect(n).toEqual({ severity: 'critical', kind: 'dead-letter' });
  });

  it('when not even a dead letter can be written, the max-deliveries advisory notifies an admin', async () => {
    // The dead-letter table is gone for the moment: every attempt to record the message fails.
    await t.sql`alter table dead_letters rename to dead_letters_away`;
    try {
      const { seq } = await poison('not json at all');
      const stream = t.names.streams.command('notify');
      const n = await eventually(async () => {
        const [r] = await t.sql<Array<{ severity: string; code: string; message: string }>>`
          select severity, code, message from notifications where kind = 'message.stuck' and source = ${`max-deliveries:${stream}:${seq}`}`;
        return r;
      }, 'stuck message notification', 90_000);
      expect(n.severity).toBe('critical');
      expect(n.code).toBe('MAX_DELIVERIES');
      expect(n.message).toContain(`message ${seq} of stream ${stream}`);
    } finally {
      await t.sql`alter table dead_letters_away rename to dead_letters`;
    }
  });
});
