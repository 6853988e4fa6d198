import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConsumer, type RunningConsumer } from '../../infra/nats/consumer-runner.ts';
import { pendingRetriesOf } from '../../infra/db/pending-retries.ts';
import { publishCommand } from '../../infra/nats/publish.ts';
import { OrderpilotError, type NotifyCommand } from '../../services/contracts/index.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';

/** A retry under way is visible (attempt n of N, next try at, last error) and gone once the message succeeds. */
let t: TestContext;
let consumer: RunningConsumer;
let release = false;
let attempts = 0;

beforeAll(async () => {
  t = await createTestContext();
  consumer = await runConsumer({
    nc: t.nc,
    sql: t.sql,
    logger: t.logger,
    stream: t.names.streams.command('notify'),
    consumer: t.names.consumers.command('notify'),
    concurrency: 1,
    maxDeliver: 8,
    ackWaitMs: 3000,
    retry: { baseMs: 300, capMs: 300, jitter: [1, 1] },
    handler: async () => {
      attempts++;
      if (!release) throw new OrderpilotError('PROVIDER_UNAVAILABLE', 'the provider answered 503');
    },
  });
});
afterAll(async () => {
  await consumer?.stop();
  await t?.cleanup();
});

describe('pending retries', () => {
  it('records each retryable failure of an order’s message and clears it when the message succeeds', async () => {
    const orderId = `ord_retry_${Date.now()}`;
    await publishCommand<NotifyCommand>(t.nc, t.names, 'notify', { type: 'notify', orderId, payload: { kind: 'x', severity: 'warning', code: 'X', message: 'x', orderId, externalId: null } });
    const second = await eventually(async () => {
      const [r] = await pendingRetriesOf(t.sql, orderId);
      return r && r.attempt >= 2 ? r : undefined;
    }, 'second attempt recorded');
    expect(second).toMatchObject({ orderId, type: 'notify', maxAttempts: 8, lastError: 'PROVIDER_UNAVAILABLE: the provider answered 503' });
    expect(Date.parse(second.nextAt)).toBeGreaterThan(Date.now() - 60_000);
    release = true;
    await eventually(async () => (await pendingRetriesOf(t.sql, orderId)).length === 0, 'retry cleared after success');
    expect(attempts).toBeGreaterThanOrEqual(3);
  });
});
