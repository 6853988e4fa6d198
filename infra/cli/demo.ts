import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { startRuntime } from '../runtime/process.ts';
import { SERVICES } from './services.ts';

/**
 * `npm start`: every service in one process on embedded defaults (existing local Postgres / NATS
 * when they answer, else embedded Postgres and nats-server from the PATH).
 */
export async function runDemo(opts: { config: Config; logger: Logger }): Promise<void> {
  const runtime = await startRuntime({ config: opts.config, logger: opts.logger, startLocal: true, services: SERVICES });
  opts.logger.info(
    { databaseUrl: runtime.config.databaseUrl?.replace(/:[^:@/]+@/, ':***@'), natsUrl: runtime.config.natsUrl, services: runtime.services.map((s) => s.name) },
    'orderpilot demo running; Ctrl-C stops it',
  );
}
