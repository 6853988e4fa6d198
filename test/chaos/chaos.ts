/**
 * `npm run chaos` — the long chaos run (see chaos-run.ts): CHAOS_ORDERS (default 500) orders at
 * CHAOS_RATE orders/s (default 15) through two processes per service, with a fault every
 * CHAOS_MONKEY_MS (default 2500) on average. Uses DATABASE_URL (or the local / embedded Postgres) for a
 * throw-away database and starts its own nats-server (from the PATH). Exit code 0 when every check holds.
 *
 * `npm run chaos -- --cluster` — scale-out: the same run twice in one go, first on one NATS server,
 * then on a CHAOS_NATS_NODES-node (default 3) JetStream cluster with every stream replicated on each
 * node, where the monkey also SIGKILLs and restarts one NATS node at a time (the order stream's leader
 * every other time); by default 1,000 orders at up to 40/s through three processes per service, so
 * the rate reached is the system's, not the shop's. Prints both reports and orders/s side by side.
 */
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../infra/logger.ts';
import { SERVICES } from '../../infra/cli/services.ts';
import { ensureLocalServices } from '../../infra/runtime/local-services.ts';
import { formatReport, runChaos } from './chaos-run.ts';
import { measurePostgresWrites } from './postgres-ceiling.ts';

const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number, got "${raw}"`);
  return n;
};

const logger = createLogger({ level: process.env['LOG_LEVEL'] ?? 'warn', name: 'chaos' });
const local = await ensureLocalServices({
  databaseUrl: process.env['DATABASE_URL'] || undefined,
  natsUrl: process.env['NATS_URL'] || undefined,
  dataDir: path.join(os.tmpdir(), 'orderpilot-chaos'),
  logger,
});
// Every service of `orderpilot run` (payments too: an admin's cancel refunds), in processes of their own;
// not shops: chaos places its orders through POST /orders, no shop connector is configured.
const perService = SERVICES.map((s) => s.name).filter((name) => name !== 'shops');
const onCluster = process.argv.slice(2).includes('--cluster');
const copies = num('CHAOS_COPIES', onCluster ? 3 : 2);
const out = (l: string) => process.stdout.write(`${l}\n`);
const run = (cluster?: number) =>
  runChaos({
    baseDatabaseUrl: local.databaseUrl,
    orders: num('CHAOS_ORDERS', onCluster ? 1000 : 500),
    rate: num('CHAOS_RATE', onCluster ? 40 : 15),
    processes: perService.flatMap((s) => Array.from({ length: copies }, () => [s])),
    monkeyEveryMs: num('CHAOS_MONKEY_MS', 2500),
    restartNats: true,
    settleTimeoutMs: num('CHAOS_SETTLE_MS', onCluster ? 600_000 : 180_000),
    ...(cluster === undefined ? {} : { cluster }),
    logger,
    log: out,
  });
try {
  if (!onCluster) {
    const report = await run();
    out(formatReport(report));
    process.exitCode = report.ok ? 0 : 1;
  } else {
    const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
    const single = await run();
    out(formatReport(single));
    const loadSingle = load();
    const clustered = await run(num('CHAOS_NATS_NODES', 3));
    out(formatReport(clustered));
    out(
      `chaos --cluster: ${copies} processes per service, ${clustered.orders} orders: ${single.ordersPerSecond.toFixed(1)} orders/s on ${single.nats}, ` +
        `${clustered.ordersPerSecond.toFixed(1)} orders/s on ${clustered.nats} (×${(clustered.ordersPerSecond / single.ordersPerSecond).toFixed(2)}); ` +
        `NATS nodes killed and restarted: ${clustered.actions['nats-node-restart'] ?? 0} (the stream leader ${clustered.actions['nats-leader-killed'] ?? 0} times), ` +
        `service processes SIGKILLed: ${single.actions['sigkill'] ?? 0} / ${clustered.actions['sigkill'] ?? 0}; load average ${loadSingle} after the first run, ${load()} after the second (${os.cpus().length} cores)`,
    );
    // The one thing not scaled out: the Postgres primary. Its bare commit rate over the run's commits per order.
    const pg = await measurePostgresWrites(local.databaseUrl, { seconds: 10, concurrency: 16 });
    out(
      `chaos --cluster: Postgres primary, bare: ${pg.commitsPerSecond.toFixed(0)} single-row commits/s (16 connections); the cluster run used ` +
        `${clustered.postgres.commitsPerOrder.toFixed(1)} commits per order (${clustered.postgres.commitsPerSecond.toFixed(0)}/s), so one primary tops out near ` +
        `${(pg.commitsPerSecond / clustered.postgres.commitsPerOrder).toFixed(0)} orders/s on this machine`,
    );
    process.exitCode = single.ok && clustered.ok ? 0 : 1;
  }
} finally {
  await local.stop();
}
