import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConsumer, type ConsumerRunnerOptions, type RunningConsumer } from '../../infra/nats/consumer-runner.ts';
import { publishCommand } from '../../infra/nats/publish.ts';
import { createBulkGate, type BulkGate } from '../../infra/runtime/bulk-gate.ts';
import type { NotifyCommand } from '../../services/contracts/index.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';

/** Keeps the event loop busy for `ms`, as a burst of front work would. */
function blockLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

describe('bulk gate', () => {
  it('pauses bulk work (one message at a time) while the event loop runs late, and resumes it whole once the loop has kept up', async () => {
    // A long front window: the busy loops below must not outlast it.
    const gate = createBulkGate({ lagMs: 25, resumeAfterMs: 50, frontWindowMs: 60_000 });
    try {
      expect(gate.limit(32)).toBe(32);
      gate.frontSeen();
      blockLoop(100);
      await gate.nextTick();
      expect(gate.lagMs).toBeGreaterThanOrEqual(25);
      expect(gate.paused).toBe(true);
      expect(gate.limit(32)).toBe(1);
      expect(gate.limit(1)).toBe(1);
      // Still paused while the loop stays late.
      blockLoop(100);
      await gate.nextTick();
      expect(gate.limit(32)).toBe(1);
      await eventually(async () => gate.limit(32) === 32, 'bulk work resumed once the loop is idle');
      expect(gate.paused).toBe(false);
      // Counted: at least the pause above (a busy machine may add late ticks of its own), as long as
      // the second busy loop at least (the first one ran before the pause began).
      expect(gate.stats().pauses).toBeGreaterThanOrEqual(1);
      expect(gate.stats().pausedMs).toBeGreaterThanOrEqual(100);
    } finally {
      gate.stop();
    }
  });

  it('does not pause bulk work when no front work comes in (a loop busy with bulk work alone), and resumes when it stops coming', async () => {
    const gate = createBulkGate({ lagMs: 25, frontWindowMs: 300, resumeAfterMs: 60_000 });
    try {
      // No front work: the gate does not even tick (nextTick answers at once), and nothing pauses.
      blockLoop(100);
      await gate.nextTick();
      expect(gate.paused).toBe(false);
      expect(gate.limit(32)).toBe(32);
      // Front work: paused; the loop on time again but resumeAfterMs far away — it resumes once the front is quiet.
      gate.frontSeen();
      blockLoop(100);
      await gate.nextTick();
      expect(gate.paused).toBe(true);
      await eventually(async () => !gate.paused, 'resumed once no front work came for the front window');
      expect(gate.limit(32)).toBe(32);
    } finally {
      gate.stop();
    }
  });

  it('with lagMs 0 it is off: always full concurrency', async () => {
    const gate = createBulkGate({ lagMs: 0 });
    gate.frontSeen();
    blockLoop(100);
    await gate.nextTick();
    expect(gate.limit(32)).toBe(32);
    expect(gate.paused).toBe(false);
    gate.stop();
  });
});

/** A gate the test pauses and resumes. */
function manualGate(): BulkGate & { held: boolean } {
  return {
    held: true,
    limit(max) {
      return this.held ? 1 : max;
    },
    nextTick: () => new Promise((resolve) => setTimeout(resolve, 10)),
    frontSeen() {},
    stats: () => ({ pauses: 0, pausedMs: 0 }),
    get paused() {
      return this.held;
    },
    lagMs: 0,
    stop() {},
  };
}

describe('consumer runner with a bulk gate (real NATS)', () => {
  let t: TestContext;
  let consumer: RunningConsumer | undefined;
  beforeAll(async () => {
    t = await createTestContext();
  });
  afterAll(async () => {
    await consumer?.stop();
    await t?.cleanup();
  });

  const ackPending = async () => (await (await jetstreamManager(t.nc)).consumers.info(t.names.streams.command('notify'), t.names.consumers.command('notify'))).num_ack_pending;
  /** A runner on the notify queue (standing in for any bulk queue here). */
  const runNotify = (o: Pick<ConsumerRunnerOptions, 'concurrency' | 'handler' | 'gate'>) =>
    runConsumer({
      nc: t.nc,
      sql: t.sql,
      logger: t.logger,
      stream: t.names.streams.command('notify'),
      consumer: t.names.consumers.command('notify'),
      maxDeliver: 8,
      ackWaitMs: t.config.ackWaitMs,
      retry: { baseMs: 100, capMs: 100, jitter: [1, 1] },
      ...o,
    });
  const notify = (orderId: string) =>
    publishCommand<NotifyCommand>(t.nc, t.names, 'notify', { type: 'notify', orderId, payload: { kind: 'x', severity: 'warning', code: 'X', message: 'x', orderId, externalId: null } });

  it('runs one message at a time while the gate is paused, up to its concurrency once it resumes, and loses none', async () => {
    const gate = manualGate();
    let running = 0;
    let maxRunning = 0;
    const handled = new Map<string, number>();
    let open = false;
    consumer = await runNotify({
      concurrency: 8,
      gate,
      handler: async (env) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        try {
          // Each message holds its slot until the test opens the gate's work.
          await eventually(async () => open, 'the test to let handlers finish', 120_000, 5);
          handled.set(env.orderId ?? '', (handled.get(env.orderId ?? '') ?? 0) + 1);
        } finally {
          running--;
        }
      },
    });
    const ids = Array.from({ length: 6 }, (_, i) => `ord_gate_${Date.now()}_${i}`);
    for (const id of ids) await notify(id);
    // Paused: all six are delivered (unacked), one runs, the other five wait in the runner.
    await eventually(async () => (await ackPending()) === 6, 'all six delivered');
    await eventually(async () => running === 1, 'one handler running');
    expect(maxRunning).toBe(1);
    gate.held = false;
    await eventually(async () => running === 6, 'all six running at once after the gate resumed');
    expect(maxRunning).toBe(6);
    open = true;
    await eventually(async () => ids.every((id) => handled.get(id) === 1), 'every message handled once');
    await consumer.stop();
    consumer = undefined;
  });

  it('keeps messages waiting for a slot alive past the ack wait: none is redelivered while it waits', async () => {
    const deliveries: Array<{ orderId: string; deliveryCount: number }> = [];
    const ackWaitMs = t.config.ackWaitMs;
    let firstStarted = 0;
    consumer = await runNotify({
      concurrency: 1,
      handler: async (env, ctx) => {
        deliveries.push({ orderId: env.orderId ?? '', deliveryCount: ctx.deliveryCount });
        if (deliveries.length === 1) {
          // The first message holds the only slot for more than twice the ack wait (it is kept alive
          // by its own `working()`); the others were delivered meanwhile and wait in the runner.
          firstStarted = Date.now();
          await eventually(async () => Date.now() - firstStarted > 2.5 * ackWaitMs, 'two and a half ack waits', 60_000, 100);
        }
      },
    });
    const ids = Array.from({ length: 4 }, (_, i) => `ord_wait_${Date.now()}_${i}`);
    for (const id of ids) await notify(id);
    await eventually(async () => ids.every((id) => deliveries.some((d) => d.orderId === id)), 'every message handled', 120_000);
    // A redelivery would show up as a second delivery (count 2) of a waiting message.
    await eventually(async () => (await ackPending()) === 0, 'all acked');
    expect(deliveries.filter((d) => ids.includes(d.orderId))).toEqual(ids.map((orderId) => ({ orderId, deliveryCount: 1 })));
    await consumer.stop();
    consumer = undefined;
  });
});
