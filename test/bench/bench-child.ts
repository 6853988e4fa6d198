/**
 * The orderpilot process of `npm run bench`: the same as `orderpilot run <service…>` (configuration
 * from the environment; "ready" on stdout once started, for test/support/processes.ts startChild).
 *
 * - BENCH_STATEMENTS_FILE: count the SQL statements sent and write the running total, and the count
 *   per statement (its first words), to that file as JSON every 250 ms (the bench reads it before
 *   and after a phase). Counting costs a stack capture per statement (BENCH_STATEMENTS=1 asks).
 * - BENCH_CPU_PROF_DIR: profile the process from start to SIGTERM and write a `.cpuprofile` there
 *   (Node refuses --cpu-prof in NODE_OPTIONS, so the inspector does it).
 * - BENCH_HEAP_PROF_DIR: sample allocations from start to SIGTERM — garbage included, which is what
 *   the young-generation GC pays for — and write a `.heapprofile` there. With BENCH_HEAP_SURVIVORS=1,
 *   only the allocations that outlived a young-generation GC.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { loadConfig } from '../../infra/config.ts';
import { createLogger } from '../../infra/logger.ts';
import { startRuntime } from '../../infra/runtime/process.ts';
import { selectServices } from '../../infra/cli/services.ts';

const config = loadConfig();
const name = process.argv.slice(2).join('+') || 'all';
const logger = createLogger({ level: config.logLevel, name: `bench-${name}` });

const countFile = process.env['BENCH_STATEMENTS_FILE'];
let total = 0;
const byStatement = new Map<string, number>();
const count = (query: string) => {
  total++;
  const key = query.replace(/\s+/g, ' ').trim().slice(0, 90);
  byStatement.set(key, (byStatement.get(key) ?? 0) + 1);
};
if (countFile) setInterval(() => writeFileSync(countFile, JSON.stringify({ total, byStatement: Object.fromEntries(byStatement) })), 250).unref();

const profDir = process.env['BENCH_CPU_PROF_DIR'];
const profiler = profDir ? new Session() : null;
if (profiler && profDir) {
  mkdirSync(profDir, { recursive: true });
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.start');
}

const heapProfDir = process.env['BENCH_HEAP_PROF_DIR'];
const heapProfiler = heapProfDir ? new Session() : null;
if (heapProfiler && heapProfDir) {
  mkdirSync(heapProfDir, { recursive: true });
  heapProfiler.connect();
  await heapProfiler.post('HeapProfiler.enable');
  await heapProfiler.post('HeapProfiler.startSampling', {
    samplingInterval: 32 * 1024,
    includeObjectsCollectedByMajorGC: true,
    // BENCH_HEAP_SURVIVORS=1: only what outlived a young-generation GC (copied, then promoted to the
    // old generation, whose marking it costs) — not everything allocated.
    includeObjectsCollectedByMinorGC: process.env['BENCH_HEAP_SURVIVORS'] !== '1',
  });
}

const runtime = await startRuntime({
  config,
  logger,
  services: selectServices(process.argv.slice(2)),
  handleSignals: false,
  ...(countFile ? { onStatement: count } : {}),
});
const stop = async (sig: string) => {
  if (profiler && profDir) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(path.join(profDir, `CPU.bench-${name}.${process.pid}.cpuprofile`), JSON.stringify(profile));
  }
  if (heapProfiler && heapProfDir) {
    const { profile } = await heapProfiler.post('HeapProfiler.stopSampling');
    writeFileSync(path.join(heapProfDir, `HEAP.bench-${name}.${process.pid}.heapprofile`), JSON.stringify(profile));
  }
  await runtime.shutdown(sig);
  process.exit(0);
};
process.once('SIGINT', () => void stop('SIGINT'));
process.once('SIGTERM', () => void stop('SIGTERM'));
process.stdout.write('ready\n');
