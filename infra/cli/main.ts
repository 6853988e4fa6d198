import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.ts';
import { createSql } from '../db/postgres.ts';
import { migrate } from '../db/migrate.ts';
import { createLogger } from '../logger.ts';
import { DEFAULT_DATABASE_URL } from '../runtime/local-services.ts';
import { startRuntime } from '../runtime/process.ts';
import { selectServices, SERVICES } from './services.ts';

const HELP = `orderpilot — order handling after checkout

Usage:
  orderpilot run [service…]   start the named services (default: all) against DATABASE_URL / NATS_URL
  orderpilot demo             everything in one process on embedded defaults (npm start)
  orderpilot migrate          apply database migrations and exit
  orderpilot help

Services: ${SERVICES.map((s) => s.name).join(', ')}
Configuration comes from the environment; see README.md.`;

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });
  const [command = 'help', ...rest] = positionals;
  if (values.help || command === 'help') {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  switch (command) {
    case 'migrate': {
      const sql = createSql(config.databaseUrl ?? DEFAULT_DATABASE_URL, { max: 1 });
      try {
        const applied = await migrate(sql, logger);
        logger.info({ applied }, applied.length ? 'migrations applied' : 'database is up to date');
      } finally {
        await sql.end({ timeout: 5 });
      }
      return;
    }
    case 'run': {
      await startRuntime({ config, logger, services: selectServices(rest) });
      return;
    }
    case 'demo': {
      const { runDemo } = await import('./demo.ts');
      await runDemo({ config, logger });
      return;
    }
    default:
      throw new Error(`unknown command "${command}"\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`orderpilot: configuration error: ${err.message}\n`);
  } else {
    process.stderr.write(`orderpilot: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  process.exit(1);
});
