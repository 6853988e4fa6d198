import os from 'node:os';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import type { TestProject } from 'vitest/node';
import { createLogger } from '../../infra/logger.ts';
import { ensureLocalServices } from '../../infra/runtime/local-services.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    natsUrl: string;
  }
}

/**
 * Finds Postgres and NATS for the whole run: DATABASE_URL / NATS_URL (or the local defaults) when
 * they answer, else embedded Postgres and nats-server from the PATH in a temp dir.
 * Every test file then makes its own database and NATS prefix (test/support/context.ts).
 */
export default async function setup(project: TestProject) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'orderpilot-test-'));
  const local = await ensureLocalServices({
    databaseUrl: process.env['DATABASE_URL'] || undefined,
    natsUrl: process.env['NATS_URL'] || undefined,
    dataDir,
    logger: createLogger({ level: 'warn', name: 'test-setup' }),
  });
  project.provide('databaseUrl', local.databaseUrl);
  project.provide('natsUrl', local.natsUrl);
  return async () => {
    await local.stop();
  };
}
