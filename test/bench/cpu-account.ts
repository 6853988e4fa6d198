import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { topology } from '../../infra/nats/topology.ts';
import type { Sql } from '../../infra/db/postgres.ts';
import type { Names } from '../../services/contracts/index.ts';

/**
 * Where the machine's CPU, commits and publishes go during a bench phase (Linux /proc): the
 * orderpilot process(es), this driver process (shoppers + sandboxes), the Postgres backends serving
 * the bench's database, the nats-server process, and the rest of the machine; plus the database's
 * commits (`pg_stat_database.xact_commit`) and the JetStream messages stored in the prefix's
 * streams, the deliveries their consumers made and acknowledged (each consumer's delivered and
 * ack-floor sequences), and — when the app counts them (`statementFiles`) — the SQL statements it
 * sent. Take a snapshot before and after, then `accountDiff`. Same fields as the peer's
 * `cpu-account.mjs`, so both benches read alike.
 */

const SPEED_DATA = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 1.5, tags: ['a', 'b'] })) });

/**
 * How fast a core of this machine runs now: the CPU time, in ms, of one fixed single-threaded
 * workload (JSON parse and stringify, SHA-256, over the same data), the median of three. On a shared
 * or throttled host the same code takes longer while the load average stays low, so figures from
 * two windows compare only with this beside them. Lower is faster.
 */
export function cpuSpeedIndexMs(): number {
  const once = (): number => {
    const before = process.cpuUsage();
    for (let i = 0; i < 1500; i++) createHash('sha256').update(JSON.stringify(JSON.parse(SPEED_DATA))).digest();
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 1000;
  };
  const runs = [once(), once(), once()].sort((a, b) => a - b);
  return Math.round(runs[1] ?? 0);
}

function cpuSecondsOf(pid: number | string): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

function machineSeconds(): { busy: number; all: number; steal: number } {
  const v = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  const busy = user + nice + system + irq + softirq + steal;
  // steal: time a virtual CPU wanted to run and the hypervisor ran another guest instead.
  return { busy: busy / 100, all: (busy + idle + iowait) / 100, steal: steal / 100 };
}

/** The nats-server listening on `port` (its command line names the port), if it runs on this machine. */
function natsServerPid(port: string): string | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\u0000');
      if (!(cmd[0] ?? '').includes('nats-server')) continue;
      const i = cmd.findIndex((a) => a === '-p' || a === '--port');
      if ((i >= 0 && cmd[i + 1] === port) || (i < 0 && port === '4222')) return d;
    } catch {
      // The process ended while we looked.
    }
  }
  return undefined;
}

export interface AccountSnapshot {
  app: number;
  driver: number;
  pg: Record<string, number>;
  nats: number;
  machine: { busy: number; all: number; steal: number };
  commits: number;
  /** The server's WAL position in bytes (server-wide: other databases' writes count too). */
  walBytes: number;
  published: number;
  delivered: number;
  acked: number;
  /** Statements the app processes sent (NaN when not counted), and by statement (its first words). */
  statements: number;
  byStatement: Record<string, number>;
}

export interface AccountTarget {
  sql: Sql;
  databaseUrl: string;
  natsUrl: string;
  nc: NatsConnection;
  names: Names;
  appPids: number[];
  /** Files where the app processes keep their running statement counts (test/bench/bench-child.ts). */
  statementFiles?: string[];
}

/** Messages stored in the prefix's streams, and the deliveries their consumers made and had acked. */
async function jetstreamCounts(nc: NatsConnection, names: Names): Promise<{ published: number; delivered: number; acked: number }> {
  const jsm = await jetstreamManager(nc);
  let published = 0;
  let delivered = 0;
  let acked = 0;
  for (const s of topology(names, { ackWaitMs: 1000, duplicateWindowMs: 1000, maxDeliver: 1 }).streams) {
    published += (await jsm.streams.info(s.name)).state.last_seq;
    for await (const c of jsm.consumers.list(s.name)) {
      delivered += c.delivered.consumer_seq;
      acked += c.ack_floor.consumer_seq;
    }
  }
  return { published, delivered, acked };
}

/** The app processes' statement counts (test/bench/bench-child.ts writes them). */
function statementsOf(files: readonly string[] | undefined): { statements: number; byStatement: Record<string, number> } {
  if (files === undefined || files.length === 0) return { statements: NaN, byStatement: {} };
  let statements = 0;
  const byStatement: Record<string, number> = {};
  for (const f of files) {
    try {
      const c = JSON.parse(readFileSync(f, 'utf8')) as { total: number; byStatement: Record<string, number> };
      statements += c.total;
      for (const [k, n] of Object.entries(c.byStatement)) byStatement[k] = (byStatement[k] ?? 0) + n;
    } catch {
      return { statements: NaN, byStatement: {} };
    }
  }
  return { statements, byStatement };
}

export async function accountSnapshot(t: AccountTarget): Promise<AccountSnapshot> {
  const dbName = new URL(t.databaseUrl).pathname.slice(1);
  const pids = await t.sql<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${dbName}`;
  const [stats] = await t.sql<{ commits: string; wal: string }[]>`
    select xact_commit::text as commits, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text as wal from pg_stat_database where datname = ${dbName}`;
  const natsPid = natsServerPid(new URL(t.natsUrl).port || '4222');
  const self = process.cpuUsage();
  return {
    app: t.appPids.reduce((s, p) => s + cpuSecondsOf(p), 0),
    driver: (self.user + self.system) / 1e6,
    pg: Object.fromEntries(pids.map((r) => [String(r.pid), cpuSecondsOf(r.pid)])),
    nats: natsPid ? cpuSecondsOf(natsPid) : NaN,
    machine: machineSeconds(),
    commits: Number(stats?.commits ?? NaN),
    walBytes: Number(stats?.wal ?? NaN),
    ...(await jetstreamCounts(t.nc, t.names)),
    ...statementsOf(t.statementFiles),
  };
}

/** Per order, between two snapshots: CPU ms by component, commits, JetStream messages stored. */
export function accountDiff(a: AccountSnapshot, b: AccountSnapshot, orders: number) {
  // Backends present only at the end started during the phase: all their CPU belongs to it.
  const pg = Object.entries(b.pg).reduce((s, [pid, t]) => s + t - (a.pg[pid] ?? 0), 0);
  const ms = (x: number) => +((x * 1000) / orders).toFixed(2);
  const busy = b.machine.busy - a.machine.busy;
  const all = b.machine.all - a.machine.all;
  const known = b.app - a.app + (b.driver - a.driver) + pg + (b.nats - a.nats);
  return {
    cpuMsPerOrder: {
      app: ms(b.app - a.app),
      driver: ms(b.driver - a.driver),
      postgresBackends: ms(pg),
      natsServer: ms(b.nats - a.nats),
      restOfMachine: ms(busy - known),
      machineBusy: ms(busy),
      machineUtilisation: +(busy / all).toFixed(2),
      /** The share of the machine's CPU time the hypervisor gave to other guests (steal) during the phase. */
      machineStealShare: +((b.machine.steal - a.machine.steal) / all).toFixed(3),
    },
    postgresCommitsPerOrder: +((b.commits - a.commits) / orders).toFixed(1),
    /** Write-ahead log written per order, KiB: what the database wrote, whatever the machine's speed. */
    postgresWalKiBPerOrder: +((b.walBytes - a.walBytes) / 1024 / orders).toFixed(1),
    /** null when the app did not count them (BENCH_STATEMENTS=1 asks it to). */
    postgresStatementsPerOrder: Number.isNaN(b.statements - a.statements) ? null : +((b.statements - a.statements) / orders).toFixed(1),
    jetstreamPublishesPerOrder: +((b.published - a.published) / orders).toFixed(1),
    jetstreamDeliveriesPerOrder: +((b.delivered - a.delivered) / orders).toFixed(1),
    jetstreamAcksPerOrder: +((b.acked - a.acked) / orders).toFixed(1),
    /** Per order, the statements sent most often (when counted). */
    statementsPerOrderByKind: Object.fromEntries(
      Object.entries(b.byStatement)
        .map(([k, n]) => [k, +((n - (a.byStatement[k] ?? 0)) / orders).toFixed(2)] as const)
        .filter(([, n]) => n >= 0.05)
        .sort((x, y) => y[1] - x[1]),
    ),
  };
}
