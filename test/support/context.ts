import { inject } from 'vitest';
import { createWorld, type World } from './world.ts';

export type TestContext = World;

/**
 * One isolated world per test file: a fresh database (migrated) on the run's Postgres, a fresh NATS
 * prefix (streams declared) on the run's NATS server, a config pointing at both.
 */
export async function createTestContext(overrides: Record<string, string> = {}): Promise<TestContext> {
  return createWorld({
    baseDatabaseUrl: inject('databaseUrl'),
    natsUrl: inject('natsUrl'),
    kind: 't',
    poolMax: 10,
    env: {
      ORDER_PARTITIONS: '4',
      ACK_WAIT_MS: '3000',
      OUTBOX_POLL_MS: '200',
      LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'warn',
      ...overrides,
    },
  });
}

/** Polls `check` until it returns a truthy value or the timeout passes (then throws with `what`). */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 45_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}
