import { inject, expect, test } from 'vitest';
import { createLogger } from '../../infra/logger.ts';
import { formatReport, runChaos } from '../chaos/chaos-run.ts';

/**
 * Scale-out on a real NATS cluster (issue 17), the short run of `npm test`: today's chaos on a 3-node
 * nats-server JetStream cluster (each node its own store, every stream with 3 replicas), 200 orders
 * through three orderpilot processes (every service in each), each listing the servers from another
 * node. The monkey SIGKILLs processes and — first of all — the order stream's leader node, restarts it
 * and waits until it caught up; faults at the providers, duplicate and reordered webhooks as today.
 * The same checks: nothing lost, no duplicate document, shipment or refund, nothing stuck. The long
 * run (1,000 orders, three processes per service, orders/s against one node) is
 * `npm run chaos -- --cluster`.
 */
test('cluster chaos: a NATS node (the stream leader) killed and restarted loses nothing, does nothing twice', { timeout: 900_000 }, async () => {
  const report = await runChaos({
    baseDatabaseUrl: inject('databaseUrl'),
    orders: 200,
    rate: 8,
    processes: [[], [], []],
    cluster: 3,
    // The machine's Postgres is shared with the short chaos run and other suites (max_connections 100).
    databasePoolMax: 6,
    // One node (the stream leader) killed and restarted. On nats-server 2.9.10 a restart can leave
    // work-queue messages no consumer delivers, which the work-queue sweeper puts back (the report
    // says how many); a second restart soon after can lose them (README, "Scaling out"): the long
    // run (`npm run chaos -- --cluster`) does that.
    maxNatsNodeRestarts: 1,
    // Every Postgres session ended at once as well, as in the single-server runs. It was off here after
    // two `npm test` runs stalled with it (README, "How the last two were found"); with the postgres.js
    // fixes that followed, the run passes with it alone, beside two CPU burners and inside `npm test`.
    postgresFaults: true,
    monkeyEveryMs: 2500,
    minActions: 6,
    restartNats: true,
    settleTimeoutMs: 240_000,
    logger: createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'error', name: 'cluster-chaos' }),
    log: () => {},
  });
  const text = formatReport(report);
  process.stdout.write(`${text}\n`);
  expect(report.actions['nats-node-restart'] ?? 0, text).toBeGreaterThan(0);
  expect(report.actions['nats-leader-killed'] ?? 0, text).toBeGreaterThan(0);
  expect(report.actions['sigkill'] ?? 0, text).toBeGreaterThan(0);
  expect(report.checks.filter((c) => !c.ok), text).toEqual([]);
});
