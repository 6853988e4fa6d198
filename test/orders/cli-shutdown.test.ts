import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { publishOrderEvent, sampleOrder } from '../support/orders.ts';
import { startChild, type Child } from '../support/processes.ts';

let t: TestContext;
const children: Child[] = [];
const RUNNING = /"msg":"orderpilot running"/;

beforeAll(async () => {
  t = await createTestContext({ LOG_LEVEL: 'info' });
});
afterAll(async () => {
  await Promise.all(children.map((c) => c.kill('SIGKILL')));
  await t?.cleanup();
});

describe('orderpilot run (the CLI) and graceful shutdown', () => {
  it('SIGTERM mid-stream: exits 0 after finishing in-flight work; a restart applies the rest exactly once', async () => {
    const first = await startChild('infra/cli/main.ts', ['run', 'orders'], t.env, 120_000, RUNNING);
    children.push(first);
    const orders = Array.from({ length: 150 }, () => sampleOrder());
    const publishing = (async () => {
      for (const o of orders) {
        await publishOrderEvent(t.nc, t.names, o.orderId, 'ORDER_PLACED', { order: o });
        await publishOrderEvent(t.nc, t.names, o.orderId, 'PAYMENT_CONFIRMED', { provider: 'payu', paymentId: `p-${o.orderId}`, amount: o.total, currency: 'PLN' });
      }
    })();
    await eventually(async () => ((await t.sql`select count(*)::int as n from order_history`)[0]?.['n'] as number) >= 20, 'some events applied');
    first.proc.kill('SIGTERM');
    const exit = await first.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(first.output()).toMatch(/"msg":"stopped"/);
    await publishing;

    const second = await startChild('infra/cli/main.ts', ['run', 'orders'], t.env, 120_000, RUNNING);
    children.push(second);
    await eventually(
      async () => ((await t.sql`select count(*)::int as n from orders where state = 'processing'`)[0]?.['n'] as number) === 150,
      'every order processing',
      60_000,
      200,
    );
    const [counts] = await t.sql`select count(*)::int as events, count(distinct message_id)::int as distinct_events from order_history`;
    expect(counts).toEqual({ events: 300, distinct_events: 300 });
    await second.kill('SIGTERM');
  });

  it('a bad configuration stops the CLI with a message naming the variable', async () => {
    const bad = await startChild('infra/cli/main.ts', ['run', 'orders'], { ...t.env, ORDER_PARTITIONS: 'many' }, 120_000, /configuration error/).catch((e: unknown) => e);
    const text = bad instanceof Error ? bad.message : (bad as Child).output();
    expect(text).toMatch(/configuration error: ORDER_PARTITIONS: expected an integer/);
    expect(text).not.toMatch(/\n\s+at /);
  });
});
