import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../infra/config.ts';
import { createSql, openPostgres, type Sql } from '../../infra/db/postgres.ts';
import { migrate } from '../../infra/db/migrate.ts';
import { createLogger, type Logger } from '../../infra/logger.ts';
import { connectNats, type NatsConnection } from '../../infra/nats/connection.ts';
import { deleteTopology, ensureTopology } from '../../infra/nats/topology.ts';
import { natsNames, type Names } from '../../services/contracts/index.ts';
import type { ServiceDeps } from '../../infra/runtime/service.ts';

/** A database name / NATS prefix nobody else uses: runs may overlap and leftovers never matter. */
export function uniqueName(kind: string): string {
  return `${kind}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** A fresh, empty database on the server of `baseUrl`; `drop()` removes it (connections forced out). */
export async function createScratchDatabase(baseUrl: string, kind: string): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = uniqueName(kind);
  const admin = openPostgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return {
    name,
    url: u.toString(),
    async drop() {
      const a = openPostgres(baseUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
      await a.end();
    },
  };
}

export interface World extends ServiceDeps {
  databaseUrl: string;
  natsUrl: string;
  /** Environment for child processes (same database, NATS and prefix). */
  env: Record<string, string>;
  /** Deletes the prefix's streams, closes the connections, drops the database. */
  cleanup(): Promise<void>;
}

/**
 * One isolated world on shared servers: a fresh database (migrated), a fresh NATS prefix (streams
 * and consumers declared), a config pointing at both, and the connections services take. Used by
 * every integration test file (test/support/context.ts) and by the benches.
 */
export async function createWorld(o: {
  baseDatabaseUrl: string;
  natsUrl: string;
  kind: string;
  /** Environment on top of DATABASE_URL / NATS_URL / NATS_PREFIX. */
  env: Record<string, string>;
  poolMax: number;
}): Promise<World> {
  const db = await createScratchDatabase(o.baseDatabaseUrl, `op_${o.kind}`);
  const env: Record<string, string> = { DATABASE_URL: db.url, NATS_URL: o.natsUrl, NATS_PREFIX: uniqueName(o.kind), ...o.env };
  const config: Config = loadConfig(env);
  const logger: Logger = createLogger({ level: config.logLevel, name: o.kind });
  const sql: Sql = createSql(db.url, { max: o.poolMax, name: o.kind });
  await migrate(sql);
  const nc: NatsConnection = await connectNats(o.natsUrl, o.kind);
  const names: Names = natsNames(config.natsPrefix, config.orderPartitions);
  await ensureTopology(nc, names, { ackWaitMs: config.ackWaitMs, duplicateWindowMs: config.duplicateWindowMs, maxDeliver: config.maxDeliver, replicas: config.natsReplicas });
  return {
    config,
    logger,
    sql,
    nc,
    names,
    databaseUrl: db.url,
    natsUrl: o.natsUrl,
    env,
    async cleanup() {
      await deleteTopology(nc, names).catch(() => {});
      await nc.close().catch(() => {});
      await sql.end({ timeout: 5 }).catch(() => {});
      await db.drop();
    },
  };
}
