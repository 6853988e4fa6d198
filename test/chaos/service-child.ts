/**
 * A real orderpilot process for the chaos suite and the end-to-end benchmark: the same as
 * `orderpilot run <service…>` (configuration from the environment), plus "ready" on stdout once
 * every named service is started, so test/support/processes.ts startChild can wait for it.
 * SIGTERM/SIGINT stop it gracefully; the chaos driver SIGKILLs it.
 */
import { loadConfig } from '../../infra/config.ts';
import { createLogger } from '../../infra/logger.ts';
import { startRuntime } from '../../infra/runtime/process.ts';
import { selectServices } from '../../infra/cli/services.ts';

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: `chaos-${process.argv.slice(2).join('+') || 'all'}` });
await startRuntime({ config, logger, services: selectServices(process.argv.slice(2)) });
process.stdout.write('ready\n');
