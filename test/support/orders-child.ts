/**
 * A real orders process for crash tests, started by test/support/processes.ts.
 *   mode "host"                 consumers + outbox relay (like `orderpilot run orders`)
 *   mode "host-no-relay"        consumers only
 *   mode "relay"                outbox relay only
 *   mode "crash-after-commit"   host that SIGKILLs itself right after a commit, before the ack
 *                               (for the event type in CRASH_ON_TYPE)
 * Prints "ready" on stdout once it consumes.
 */
import { loadConfig } from '../../infra/config.ts';
import { createSql } from '../../infra/db/postgres.ts';
import { createLogger } from '../../infra/logger.ts';
import { connectNats } from '../../infra/nats/connection.ts';
import { natsNames } from '../../services/contracts/index.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { startOutboxRelay } from '../../services/orders/outbox-relay.ts';

const mode = process.argv[2] ?? 'host';
const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: `child-${mode}` });
const sql = createSql(config.databaseUrl ?? '', { max: 10 });
const nc = await connectNats(config.natsUrl ?? '', `child-${mode}`);
const names = natsNames(config.natsPrefix, config.orderPartitions);
const deps = { config, logger, sql, nc, names };

let stop: () => Promise<void>;
if (mode === 'relay') {
  const relay = await startOutboxRelay({ sql, nc, logger, pollMs: config.outboxPollMs, batchSize: Number(process.env['RELAY_BATCH'] ?? 500) });
  await relay.leader;
  stop = () => relay.stop();
} else {
  const crashType = process.env['CRASH_ON_TYPE'];
  const svc = await startOrdersService(deps, {
    relay: mode === 'host',
    onTransition: (r) => {
      if (mode === 'crash-after-commit' && r.event.type === crashType) process.kill(process.pid, 'SIGKILL');
    },
  });
  stop = () => svc.stop();
}
process.stdout.write('ready\n');
const shutdown = async () => {
  await stop();
  await nc.drain();
  await sql.end({ timeout: 5 });
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
