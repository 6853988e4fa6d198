import { inject, expect, test } from 'vitest';
import { createLogger } from '../../infra/logger.ts';
import { formatReport, runChaos } from './chaos-run.ts';

/**
 * The short chaos run of `npm test`: ~100 orders through three full orderpilot processes (every
 * service in each) on a NATS server of its own, while processes are SIGKILLed and restarted, NATS
 * restarts, the providers fail in bursts, webhooks come twice or out of order and responses get lost.
 * The long run with a process per service is `npm run chaos`.
 */
test('chaos: nothing lost, nothing done twice', { timeout: 600_000 }, async () => {
  const report = await runChaos({
    baseDatabaseUrl: inject('databaseUrl'),
    orders: 100,
    rate: 6,
    processes: [[], [], []],
    monkeyEveryMs: 2000,
    minActions: 8,
    restartNats: true,
    settleTimeoutMs: 120_000,
    logger: createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'error', name: 'chaos' }),
    log: () => {},
  });
  const text = formatReport(report);
  process.stdout.write(`${text}\n`);
  expect(report.actions['sigkill'] ?? 0, text).toBeGreaterThan(0);
  expect(report.checks.filter((c) => !c.ok), text).toEqual([]);
});
