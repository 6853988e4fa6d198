import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import postgres from 'postgres';
import { loadConfig, type Config } from '../../infra/config.ts';
import { createSql, type Sql } from '../../infra/db/postgres.ts';
import { migrate } from '../../infra/db/migrate.ts';
import { createLogger, type Logger } from '../../infra/logger.ts';
import { connectNats, type NatsConnection } from '../../infra/nats/connection.ts';
import { deleteTopology, ensureTopology } from '../../infra/nats/topology.ts';
import { natsNames, type Names } from '../../services/contracts/index.ts';
import type { ServiceDeps } from '../../infra/runtime/service.ts';

export interface TestContext extends ServiceDeps {
  databaseUrl: string;
  natsUrl: string;
  /** Environment for child processes (same database, NATS and prefix). */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** A database name / NATS prefix nobody else uses: runs may overlap and leftovers never matter. */
export function uniqueName(kind: string): string {
  return `${kind}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/**
 * One isolated world per test file: a fresh database (migrated) on the run's Postgres, a fresh NATS
 * prefix (streams declared) on the run's NATS server, a config pointing at both.
 */
export async function createTestContext(overrides: Record<string, string> = {}): Promise<TestContext> {
  const baseUrl = inject('databaseUrl');
  const natsUrl = inject('natsUrl');
  const dbName = uniqueName('op_test');
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  await admin.end();
  const u = new URL(baseUrl);
  u.pathname = `/${dbName}`;
  const databaseUrl = u.toString();
  const prefix = uniqueName('t');
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    NATS_URL: natsUrl,
    NATS_PREFIX: prefix,
    ORDER_PARTITIONS: '4',
    ACK_WAIT_MS: '3000',
    OUTBOX_POLL_MS: '200',
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'warn',
    ...overrides,
  };
  const config: Config = loadConfig(env);
  const logger: Logger = createLogger({ level: env['LOG_LEVEL'] ?? 'warn', name: 'test' });
  const sql: Sql = createSql(databaseUrl, { max: 10, name: 'test' });
  await migrate(sql);
  const nc: NatsConnection = await connectNats(natsUrl, 'test');
  const names: Names = natsNames(prefix, config.orderPartitions);
  await ensureTopology(nc, names, { ackWaitMs: config.ackWaitMs, duplicateWindowMs: config.duplicateWindowMs, maxDeliver: config.maxDeliver });
  return {
    config,
    logger,
    sql,
    nc,
    names,
    databaseUrl,
    natsUrl,
    env,
    async cleanup() {
      await deleteTopology(nc, names).catch(() => {});
      await nc.close().catch(() => {});
      await sql.end({ timeout: 5 }).catch(() => {});
      const a = postgres(baseUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {});
      await a.end();
    },
  };
}

/** Polls `check` until it returns a truthy value or the timeout passes (then throws with `what`). */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 20_000, everyMs = 50): Promise<T> {
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
