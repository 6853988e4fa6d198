import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { loadConfig, type Config } from '../../infra/config.ts';
import { createSql, type Sql } from '../../infra/db/postgres.ts';
import { migrate } from '../../infra/db/migrate.ts';
import { createLogger, type Logger } from '../../infra/logger.ts';
import { connectNats, type NatsConnection } from '../../infra/nats/connection.ts';
import { deleteTopology, ensureTopology } from '../../infra/nats/topology.ts';
import { ensureLocalServices } from '../../infra/runtime/local-services.ts';
import { natsNames, type Names } from '../../services/contracts/index.ts';

export interface BenchEnv {
  config: Config;
  logger: Logger;
  sql: Sql;
  nc: NatsConnection;
  names: Names;
  databaseUrl: string;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/**
 * A throw-away database and NATS prefix on the configured (or local, or embedded) servers, so a
 * benchmark never touches real data and can run beside tests.
 */
export async function createBenchEnv(overrides: Record<string, string> = {}): Promise<BenchEnv> {
  const logger = createLogger({ level: process.env['LOG_LEVEL'] ?? 'warn', name: 'bench' });
  const local = await ensureLocalServices({
    databaseUrl: process.env['DATABASE_URL'] || undefined,
    natsUrl: process.env['NATS_URL'] || undefined,
    dataDir: path.join(os.tmpdir(), 'orderpilot-bench'),
    logger,
  });
  const suffix = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const dbName = `op_bench_${suffix}`;
  const admin = postgres(local.databaseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  await admin.end();
  const u = new URL(local.databaseUrl);
  u.pathname = `/${dbName}`;
  const env: Record<string, string> = {
    DATABASE_URL: u.toString(),
    NATS_URL: local.natsUrl,
    NATS_PREFIX: `bench_${suffix}`,
    LOG_LEVEL: 'warn',
    // Tuning knobs pass through, so a bench can be run with other partition counts etc.
    ...Object.fromEntries(
      ['ORDER_PARTITIONS', 'ACK_WAIT_MS', 'OUTBOX_POLL_MS', 'DATABASE_POOL_MAX'].flatMap((k) => (process.env[k] ? [[k, process.env[k] as string]] : [])),
    ),
    ...overrides,
  };
  const config = loadConfig(env);
  const sql = createSql(env['DATABASE_URL'] ?? '', { max: 20, name: 'bench' });
  await migrate(sql);
  const nc = await connectNats(local.natsUrl, 'bench');
  const names = natsNames(config.natsPrefix, config.orderPartitions);
  await ensureTopology(nc, names, { ackWaitMs: config.ackWaitMs, duplicateWindowMs: config.duplicateWindowMs, maxDeliver: config.maxDeliver });
  return {
    config,
    logger,
    sql,
    nc,
    names,
    databaseUrl: env['DATABASE_URL'] ?? '',
    env,
    async cleanup() {
      await deleteTopology(nc, names).catch(() => {});
      await nc.close();
      await sql.end({ timeout: 5 });
      const a = postgres(local.databaseUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {});
      await a.end();
      await local.stop();
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
