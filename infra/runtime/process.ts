import { loadConfig, type Config } from '../config.ts';
import { createSql, type Sql } from '../db/postgres.ts';
import { migrate } from '../db/migrate.ts';
import { createLogger, type Logger } from '../logger.ts';
import { redactUrl } from '../redact.ts';
import { connectNats, type NatsConnection } from '../nats/connection.ts';
import { ensureTopology } from '../nats/topology.ts';
import { natsNames, type Names } from '../../services/contracts/index.ts';
import { createBulkGate } from './bulk-gate.ts';
import { applyHeapGrowingPercent } from './heap-policy.ts';
import { defaultDatabaseUrl, DEFAULT_NATS_URL, ensureLocalServices, natsAnswers, postgresAnswers, type LocalServices } from './local-services.ts';
import type { RunningService, ServiceDeps, ServiceStarter } from './service.ts';

export interface Runtime extends ServiceDeps {
  local: LocalServices | null;
  services: RunningService[];
  /** Stops services (reverse order), drains NATS, closes the pool, stops local servers. Idempotent. */
  shutdown(reason?: string): Promise<void>;
}

export interface StartOptions {
  config?: Config;
  logger?: Logger;
  /** Start embedded Postgres / nats-server when the configured ones do not answer (demo mode). */
  startLocal?: boolean;
  services: ReadonlyArray<{ name: string; start: ServiceStarter }>;
  /** Install SIGINT/SIGTERM handlers that shut down gracefully (default true). */
  handleSignals?: boolean;
  /** Called for every SQL statement the process sends (the bench counts them; see `SqlOptions`). */
  onStatement?: (query: string, parameters: readonly unknown[]) => void;
}

/** Connects, migrates, declares the NATS topology and starts the given services in this process. */
export async function startRuntime(opts: StartOptions): Promise<Runtime> {
  const config = opts.config ?? loadConfig();
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  applyHeapGrowingPercent(config.heapGrowingPercent);
  let local: LocalServices | null = null;
  let databaseUrl: string;
  let natsUrl: string;
  if (opts.startLocal) {
    local = await ensureLocalServices({ databaseUrl: config.databaseUrl, natsUrl: config.natsUrl, dataDir: config.dataDir, logger });
    databaseUrl = local.databaseUrl;
    natsUrl = local.natsUrl;
  } else {
    databaseUrl = config.databaseUrl ?? (await defaultDatabaseUrl());
    natsUrl = config.natsUrl ?? DEFAULT_NATS_URL;
    if (!(await postgresAnswers(databaseUrl))) throw new Error(`Postgres does not answer at DATABASE_URL (${redactUrl(databaseUrl)}). Set DATABASE_URL, or use "orderpilot demo" to start an embedded one.`);
    if (!(await natsAnswers(natsUrl))) throw new Error(`NATS does not answer at NATS_URL (${redactUrl(natsUrl)}). Set NATS_URL, or use "orderpilot demo" to start nats-server from the PATH.`);
  }
  const effective: Config = Object.freeze({ ...config, databaseUrl, natsUrl });
  const sql: Sql = createSql(databaseUrl, { max: config.databasePoolMax, name: 'orderpilot', ...(opts.onStatement === undefined ? {} : { onStatement: opts.onStatement }) });
  await migrate(sql, logger);
  const nc: NatsConnection = await connectNats(natsUrl, `orderpilot-${process.pid}`, logger);
  const names: Names = natsNames(config.natsPrefix, config.orderPartitions);
  await ensureTopology(nc, names, { ackWaitMs: config.ackWaitMs, duplicateWindowMs: config.duplicateWindowMs, maxDeliver: config.maxDeliver, replicas: config.natsReplicas }, logger);
  const bulkGate = createBulkGate({ lagMs: config.bulkYieldLagMs });
  const deps: ServiceDeps = { config: effective, logger, sql, nc, names, bulkGate };
  const services: RunningService[] = [];
  let shuttingDown: Promise<void> | null = null;
  const runtime: Runtime = {
    ...deps,
    local,
    services,
    shutdown(reason = 'shutdown') {
      shuttingDown ??= (async () => {
        logger.info({ reason }, 'shutting down: stop consuming, finish in-flight work');
        for (const s of [...services].reverse()) {
          await s.stop().catch((err: unknown) => logger.error({ service: s.name, err: err instanceof Error ? err.message : String(err) }, 'service stop failed'));
        }
        bulkGate.stop();
        await nc.drain().catch(() => {});
        await sql.end({ timeout: 5 }).catch(() => {});
        await local?.stop();
        logger.info('stopped');
      })();
      return shuttingDown;
    },
  };
  try {
    for (const s of opts.services) {
      services.push(await s.start(deps));
    }
  } catch (err) {
    await runtime.shutdown('start failed');
    throw err;
  }
  logger.info({ services: services.map((s) => s.name), natsPrefix: config.natsPrefix }, 'orderpilot running');
  if (opts.handleSignals !== false) {
    const onSignal = (sig: string) => {
      void runtime.shutdown(sig).then(() => process.exit(0));
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  }
  return runtime;
}
