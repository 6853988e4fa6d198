/**
 * The orderpilot process of `npm run bench`: the same as `orderpilot run <service…>` (configuration
 * from the environment; "ready" on stdout once started, for test/support/processes.ts startChild).
 * With BENCH_STATEMENTS_FILE set it also counts the SQL statements it sends and writes the running
 * total, and the count per statement (its first words), to that file as JSON every 250 ms (the bench
 * reads it before and after a phase). Counting costs a stack capture per statement, so the bench
 * asks for it only with BENCH_STATEMENTS=1.
 */
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../../infra/config.ts';
import { createLogger } from '../../infra/logger.ts';
import { startRuntime } from '../../infra/runtime/process.ts';
import { selectServices } from '../../infra/cli/services.ts';

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: `bench-${process.argv.slice(2).join('+') || 'all'}` });
const countFile = process.env['BENCH_STATEMENTS_FILE'];
let total = 0;
const byStatement = new Map<string, number>();
const count = (query: string) => {
  total++;
  const key = query.replace(/\s+/g, ' ').trim().slice(0, 90);
  byStatement.set(key, (byStatement.get(key) ?? 0) + 1);
};
if (countFile) setInterval(() => writeFileSync(countFile, JSON.stringify({ total, byStatement: Object.fromEntries(byStatement) })), 250).unref();
await startRuntime({
  config,
  logger,
  services: selectServices(process.argv.slice(2)),
  ...(countFile ? { onStatement: count } : {}),
});
process.stdout.write('ready\n');
