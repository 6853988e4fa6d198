/**
 * `npm run bench -- --peer`: orderpilot's end-to-end bench (test/bench/bench.ts) and the plain
 * pg-boss pipeline (the peer, `../shared/peer`) run one after the other for BENCH_ROUNDS (3) rounds,
 * so both see the same machine in the same window. The peer is copied once to a temporary directory
 * (its source is read-only) and installed there with `npm ci`; later runs reuse that copy.
 *
 * Knobs: the bench's own (BENCH_ORDERS, BENCH_CONCURRENCY, BENCH_FILL, BENCH_LATENCY_ORDERS,
 * BENCH_SPLIT…) go to both; BENCH_RATE's first rate is the peer's paced rate; BENCH_WALK (`full`,
 * default: six status webhooks per order; `short`: HANDED_TO_CARRIER and DELIVERED only) goes to both,
 * as PEER_WALK for the peer (whose own default is the short walk), so both sides' warehouses send the
 * same webhooks; PEER_SOURCE names the peer's folder.
 * Prints each figure's range per side and writes bench-results/peer-rounds-<time>.json.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchWalk } from './bench-env.ts';
import { cpuSpeedIndexMs } from './cpu-account.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function peerSource(): string {
  const candidates = [process.env['PEER_SOURCE'], path.resolve(ROOT, '../shared/peer'), path.resolve(ROOT, '../../shared/peer')];
  const found = candidates.find((c): c is string => c !== undefined && c !== '' && existsSync(path.join(c, 'bench.mjs')));
  if (found === undefined) throw new Error('peer not found: set PEER_SOURCE to the folder holding the peer (bench.mjs)');
  return found;
}

function run(cmd: string, args: string[], cwd: string, env: Record<string, string | undefined>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

/** The peer's working copy: copied and installed once per version of its lock file. */
async function peerCopy(): Promise<string> {
  const source = peerSource();
  const lock = readFileSync(path.join(source, 'package-lock.json'));
  const dir = path.join(os.tmpdir(), `orderpilot-peer-${createHash('sha256').update(lock).digest('hex').slice(0, 12)}`);
  if (!existsSync(path.join(dir, 'node_modules', '.package-lock.json'))) {
    process.stdout.write(`peer: copying ${source} to ${dir} and installing it (once)…\n`);
    cpSync(source, dir, { recursive: true, filter: (f) => !f.includes(`${path.sep}node_modules`) && !f.includes(`${path.sep}results`) });
    await run('npm', ['ci', '--no-audit', '--no-fund'], dir, {});
  } else {
    // The sources may have changed since the copy; the installed modules stay.
    cpSync(source, dir, { recursive: true, filter: (f) => !f.includes(`${path.sep}node_modules`) && !f.includes(`${path.sep}results`) });
  }
  return dir;
}

/** The newest JSON result in `dir` whose name starts with `prefix`, written after `since`. */
function newestResult(dir: string, prefix: string, since: number): Record<string, unknown> {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.json')) : [];
  const stamped = files.map((f) => ({ f, t: Number(f.slice(prefix.length, -'.json'.length)) })).filter((x) => x.t >= since);
  const last = stamped.sort((a, b) => b.t - a.t)[0];
  if (last === undefined) throw new Error(`no ${prefix}*.json in ${dir} after the run`);
  return JSON.parse(readFileSync(path.join(dir, last.f), 'utf8')) as Record<string, unknown>;
}

/** A number at a dotted path of a result (NaN when absent). */
function at(r: Record<string, unknown>, dotted: string): number {
  let v: unknown = r;
  for (const k of dotted.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === 'number' ? v : NaN;
}

/** Figure → where each side keeps it. */
const FIGURES: Array<{ name: string; ours: string; peer: string }> = [
  { name: 'orders/s to closed', ours: 'ordersPerSec', peer: 'ordersPerSecToClosed' },
  { name: 'orders/s to closed and e-mailed', ours: 'closedAndEmailed.ordersPerSec', peer: 'ordersPerSec' },
  { name: 'app CPU ms per order (/proc)', ours: 'cpuMsPerOrder.app', peer: 'process.cpuMsPerOrder' },
  { name: 'whole machine CPU ms per order (busy)', ours: 'cpuMsPerOrder.machineBusy', peer: 'cpuMsPerOrderByComponent.machineBusy' },
  { name: 'p99 payment webhook → processing, ms (first BENCH_RATE)', ours: 'latency.paymentToProcessingMs.p99', peer: 'latency.paymentToProcessingMs.p99' },
  { name: 'peak RSS MiB', ours: 'process.peakRssMiB', peer: 'process.peakRssMiB' },
  { name: 'Postgres commits per order', ours: 'postgresCommitsPerOrder', peer: 'postgres.commitsPerOrder' },
  { name: 'load average (1 min) at start', ours: 'machine.loadAvg1mAtStart', peer: 'machine.loadAvg1mAtStart' },
];

const range = (xs: number[]) => {
  const ok = xs.filter((x) => !Number.isNaN(x));
  if (ok.length === 0) return '—';
  const lo = Math.min(...ok);
  const hi = Math.max(...ok);
  return lo === hi ? String(lo) : `${lo}–${hi}`;
};

const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const peerRate = (process.env['BENCH_RATE'] ?? '50').split(',')[0]?.trim() || '50';
// Same warehouse walk on both sides (the peer's default is the short one, ours the full one).
const walk = benchWalk();
const dir = await peerCopy();
const ours: Array<Record<string, unknown>> = [];
const peer: Array<Record<string, unknown>> = [];
// Each side's run is preceded by the CPU speed index (a fixed workload's CPU time): on a shared host a
// core can run slower for minutes while the load average stays low.
const speed: { ours: number[]; peer: number[] } = { ours: [], peer: [] };
for (let i = 1; i <= rounds; i++) {
  speed.ours.push(cpuSpeedIndexMs());
  process.stdout.write(`\n=== round ${i}/${rounds}: orderpilot (CPU speed index ${speed.ours.at(-1)} ms) ===\n`);
  let since = Date.now();
  await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/bench/bench.ts')], ROOT, {});
  ours.push(newestResult(path.join(ROOT, 'bench-results'), 'e2e-', since));
  speed.peer.push(cpuSpeedIndexMs());
  process.stdout.write(`\n=== round ${i}/${rounds}: plain pg-boss pipeline (CPU speed index ${speed.peer.at(-1)} ms) ===\n`);
  // The peer's bench writes its result after dropping its database, and that drop can kill its own
  // run (an idle pool client terminated with the database: an unhandled 'error'): one more try then.
  for (let attempt = 1; ; attempt++) {
    since = Date.now();
    try {
      await run(process.execPath, ['bench.mjs'], dir, { BENCH_RATE: peerRate, PEER_WALK: walk === 'full' ? 'full' : '' });
      break;
    } catch (err) {
      if (attempt >= 2) throw err;
      process.stdout.write(`\npeer: ${err instanceof Error ? err.message : String(err)}; running this round's peer once more\n`);
    }
  }
  peer.push(newestResult(path.join(dir, 'results'), 'peer-', since));
}
const ratios = ours.map((r, i) => {
  const p = peer[i];
  const q = p ? at(r, 'closedAndEmailed.ordersPerSec') / at(p, 'ordersPerSec') : NaN;
  return Number.isFinite(q) ? q.toFixed(2) : '—';
});
const lines = [
  '',
  `| figure (${rounds} rounds, interleaved; warehouse walk: ${walk}) | orderpilot | plain pg-boss pipeline |`,
  '| --- | --- | --- |',
  ...FIGURES.map((f) => `| ${f.name} | ${range(ours.map((r) => at(r, f.ours)))} | ${range(peer.map((r) => at(r, f.peer)))} |`),
  `| CPU speed index before the run, ms (lower is faster) | ${range(speed.ours)} | ${range(speed.peer)} |`,
  `| orders/s to closed and e-mailed, orderpilot ÷ peer, round by round | ${ratios.join(' / ')} | |`,
  '',
];
process.stdout.write(lines.join('\n'));
await mkdir(path.join(ROOT, 'bench-results'), { recursive: true });
const file = path.join(ROOT, 'bench-results', `peer-rounds-${Date.now()}.json`);
await writeFile(file, `${JSON.stringify({ rounds, warehouseWalk: walk, peerRate: Number(peerRate), cpuSpeedIndexMs: speed, closedAndEmailedRatios: ratios, ours, peer, at: new Date().toISOString() }, null, 2)}\n`);
process.stdout.write(`written to ${path.relative(ROOT, file)}\n`);
