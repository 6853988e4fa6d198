/**
 * `npm run chaos` — the long chaos run (see chaos-run.ts): CHAOS_ORDERS (default 500) orders at
 * CHAOS_RATE orders/s (default 15) through two processes per service, with a fault every
 * CHAOS_MONKEY_MS (default 2500) on average. Uses DATABASE_URL (or the local / embedded Postgres) for a
 * throw-away database and starts its own nats-server (from the PATH). Exit code 0 when every check holds.
 */
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../infra/logger.ts';
import { ensureLocalServices } from '../../infra/runtime/local-services.ts';
import { formatReport, runChaos } from './chaos-run.ts';

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
const perService = ['orders', 'invoicing', 'mailer', 'logistics', 'notifications', 'gateway'];
const copies = num('CHAOS_COPIES', 2);
try {
  const report = await runChaos({
    baseDatabaseUrl: local.databaseUrl,
    orders: num('CHAOS_ORDERS', 500),
    rate: num('CHAOS_RATE', 15),
    processes: perService.flatMap((s) => Array.from({ length: copies }, () => [s])),
    monkeyEveryMs: num('CHAOS_MONKEY_MS', 2500),
    restartNats: true,
    settleTimeoutMs: num('CHAOS_SETTLE_MS', 180_000),
    logger,
    log: (l) => process.stdout.write(`${l}\n`),
  });
  process.stdout.write(`${formatReport(report)}\n`);
  process.exitCode = report.ok ? 0 : 1;
} finally {
  await local.stop();
}
