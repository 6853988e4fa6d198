import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.ts';
import { createSql } from '../db/postgres.ts';
import { migrate } from '../db/migrate.ts';
import { createLogger } from '../logger.ts';
import { redactText, redactUrl, secretsFromEnv } from '../redact.ts';
import { jetstream } from '@nats-io/jetstream';
import { listDeadLetters, replayDeadLetter } from '../db/dead-letters.ts';
import { connectNats } from '../nats/connection.ts';
import { defaultDatabaseUrl, DEFAULT_NATS_URL, postgresAnswers } from '../runtime/local-services.ts';
import { startRuntime } from '../runtime/process.ts';
import { selectServices, SERVICES } from './services.ts';

const HELP = `orderpilot — order handling after checkout

Usage:
  orderpilot run [service…]   start the named services (default: all) against DATABASE_URL / NATS_URL
                              (--inspect: report order transitions to the Stately inspector)
  orderpilot demo             everything in one process on embedded defaults (npm start)
  orderpilot migrate          apply database migrations and exit
  orderpilot dead-letters     list dead letters not replayed yet (--all: every one)
  orderpilot replay <id> [--as name]
                              put a dead letter back on its subject (after fixing its cause)
  orderpilot help

Services: ${SERVICES.map((s) => s.name).join(', ')}
Configuration comes from the environment; see README.md.`;

/** The database URL of a one-shot command, once its server answers (a clear message otherwise). */
async function answeringDatabaseUrl(configured: string | undefined): Promise<string> {
  const url = configured ?? (await defaultDatabaseUrl());
  if (!(await postgresAnswers(url))) throw new Error(`Postgres does not answer at DATABASE_URL (${redactUrl(url)}). Set DATABASE_URL to a running server.`);
  return url;
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' }, all: { type: 'boolean' }, as: { type: 'string' }, inspect: { type: 'boolean' } } });
  const [command = 'help', ...rest] = positionals;
  if (values.help || command === 'help') {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  // `--inspect` is ORDERPILOT_INSPECT=1 for this run (the demo's child process inherits it).
  if (values.inspect) process.env['ORDERPILOT_INSPECT'] = '1';
  const config = loadConfig();
  // The demo keeps the terminal readable (its banner, then warnings); LOG_LEVEL=info shows every step.
  const level = command === 'demo' && !process.env['LOG_LEVEL'] ? 'warn' : config.logLevel;
  // The demo talks to a person in a terminal: readable lines instead of JSON.
  const logger = createLogger({ level, human: command === 'demo' });
  switch (command) {
    case 'migrate': {
      const sql = createSql(await answeringDatabaseUrl(config.databaseUrl), { max: 1 });
      try {
        const applied = await migrate(sql, logger);
        logger.info({ applied }, applied.length ? 'migrations applied' : 'database is up to date');
      } finally {
        await sql.end({ timeout: 5 });
      }
      return;
    }
    case 'dead-letters':
    case 'replay': {
      const sql = createSql(await answeringDatabaseUrl(config.databaseUrl), { max: 2 });
      try {
        if (command === 'dead-letters') {
          for (const d of await listDeadLetters(sql, { open: !values.all, limit: 200 })) {
            process.stdout.write(`${d.id}\t${d.created_at.toISOString()}\t${d.consumer}\t${d.error_code}\t${d.order_id ?? '-'}\t${d.error_message}${d.replayed_at ? `\t(replayed by ${d.replayed_by})` : ''}\n`);
          }
          return;
        }
        const id = rest[0];
        if (!id || !/^\d+$/.test(id)) throw new Error('usage: orderpilot replay <dead-letter id> [--as name]');
        const nc = await connectNats(config.natsUrl ?? DEFAULT_NATS_URL, 'orderpilot-cli');
        try {
          const js = jetstream(nc);
          const row = await replayDeadLetter(sql, async (subject, data, msgID) => void (await js.publish(subject, data, { msgID })), id, values.as ?? process.env['USER'] ?? 'cli');
          if (!row) throw new Error(`no dead letter ${id}`);
          process.stdout.write(`replayed dead letter ${id} to ${row.subject}\n`);
        } finally {
          await nc.drain();
        }
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
  // The last words of a failed start often quote a URL or a driver's message: never a secret in them.
  const message = redactText(err instanceof Error ? err.message : String(err), secretsFromEnv(process.env));
  process.stderr.write(err instanceof ConfigError ? `orderpilot: configuration error: ${message}\n` : `orderpilot: ${message}\n`);
  process.exit(1);
});
