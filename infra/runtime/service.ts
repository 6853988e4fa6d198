import type { NatsConnection } from '@nats-io/transport-node';
import type { Config } from '../config.ts';
import type { Sql } from '../db/postgres.ts';
import type { Logger } from '../logger.ts';
import type { BulkGate } from './bulk-gate.ts';
import type { Names } from '../../services/contracts/index.ts';

/** What every service's `main.ts` receives: connections are created once per process and passed in. */
export interface ServiceDeps {
  config: Config;
  logger: Logger;
  sql: Sql;
  nc: NatsConnection;
  names: Names;
  /** The process's gate for bulk consumers (`runConsumer`'s `gate`); absent: they always run at full concurrency. */
  bulkGate?: BulkGate | undefined;
}

/** A started service; `stop()` stops taking work, finishes in-flight work and releases resources it owns. */
export interface RunningService {
  readonly name: string;
  stop(): Promise<void>;
}

export type ServiceStarter = (deps: ServiceDeps) => Promise<RunningService>;
