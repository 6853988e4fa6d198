/**
 * `npm run bench` — end to end: orders placed (POST /orders) → paid (signed Stripe webhooks) →
 * document issued, saved, e-mailed → warehouse accepted → handed to carrier → delivered → closed,
 * through one real orderpilot process (every service, `orderpilot run`), with the sandbox providers
 * at zero latency in this process. Measures, side by side:
 *   1. throughput: BENCH_ORDERS (default 2000) orders as fast as the system takes them
 *      (BENCH_CONCURRENCY shoppers, default 64): orders/s to closed and to closed-and-e-mailed,
 *      transitions/s; CPU ms per order by process (orderpilot, this driver with the sandboxes, the
 *      database's Postgres backends, nats-server), Postgres commits (and with BENCH_STATEMENTS=1 the
 *      statements the app sent) and JetStream publishes, deliveries and acks per order;
 *   2. latency at each steady BENCH_RATE (default "50,100") orders/s for BENCH_LATENCY_ORDERS (default
 *      1000) orders: p50/p95/p99 from the payment webhook to `processing` and to `closed`;
 *   3. the bare Postgres ceiling: the same order write transactions (services/orders/order-store.ts)
 *      issued directly, as many as phase 1 committed, at the same concurrency: the result is a ratio;
 *   after BENCH_WARMUP (default 20) orders closed and not measured;
 *   plus the orderpilot process's peak RSS (with BENCH_FILL, default 100000, extra orders in the
 *   database) and CPU seconds per order. Results: bench-results/e2e-<time>.json and a table.
 *
 * Other modes: `npm run bench -- --host | --gateway | --invoicing` run the component benches;
 * `npm run bench -- --peer` runs this bench and the plain pg-boss pipeline interleaved
 * (test/bench/peer-rounds.ts).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StateValue } from 'xstate';
import { startSandboxes } from '../../infra/demo/sandboxes.ts';
import { createHttpPost } from '../../infra/sandbox/http-post.ts';
import { freePort } from '../../infra/runtime/local-services.ts';
import { pacedShoppersOnThread, placeAndPay } from './paced-shoppers.ts';
import { startChild, type Child, type ChildOptions } from '../support/processes.ts';
import { benchWalk, createBenchEnv, percentile, runBareCeiling, SHORT_WALK, type BenchEnv } from './bench-env.ts';
import { accountDiff, accountSnapshot, cpuSpeedIndexMs, type AccountSnapshot, type AccountTarget } from './cpu-account.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a non-negative number, got "${raw}"`);
  return n;
};
/** A comma-separated list of positive numbers (BENCH_RATE=50,100). */
const nums = (name: string, fallback: readonly number[]): number[] => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return [...fallback];
  return raw.split(',').map((part) => {
    const n = Number(part.trim());
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected positive numbers separated by commas, got "${raw}"`);
    return n;
  });
};

/** `--host`, `--gateway`, `--invoicing`: the component benches, when they exist; `--peer`: rounds against the peer. */
async function runComponent(flag: string): Promise<number> {
  const file = path.join(ROOT, 'test/bench', flag === 'peer' ? 'peer-rounds.ts' : `${flag}.bench.ts`);
  if (!existsSync(file)) {
    process.stderr.write(`bench: test/bench/${flag}.bench.ts does not exist (yet)\n`);
    return 2;
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, stdio: 'inherit' });
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

/** Peak RSS (MiB) and CPU seconds of another process, from /proc (Linux). */
function procStats(pid: number): { peakRssMiB: number; cpuSeconds: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15)
    return { peakRssMiB: Math.round(hwm / 1024), cpuSeconds: ticks / 100 };
  } catch {
    return { peakRssMiB: NaN, cpuSeconds: NaN };
  }
}

/**
 * Polls until every order of `ids` is closed (and, with `emailed`, its document e-mailed). The
 * polls run on the measured system's Postgres and in this driver while the orders are processed,
 * and each is a commit in the database's counts: so each asks only about the orders not yet seen
 * done, and they come every 250 ms, every second while more than 200 are left (the figures come
 * from the rows' own timestamps, not from when a poll saw them). The ids are joined, one index probe
 * each: as `id = any($1)` in the prepared (generic) plan, Postgres compared every row it read with
 * every id left, one by one (140 ms of the database's CPU per poll with 2,500 orders, 27 ms joined;
 * counted in its CPU per order).
 */
async function pollUntilAll(b: BenchEnv, ids: readonly string[], timeoutMs: number, what: string, emailed: boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let left = [...ids];
  for (;;) {
    const rows = emailed
      ? await b.sql<{ id: string }[]>`select o.id from unnest(${left}::text[]) as u(id) join orders o on o.id = u.id where o.state = 'closed' and o.document_state = 'emailed'`
      : await b.sql<{ id: string }[]>`select o.id from unnest(${left}::text[]) as u(id) join orders o on o.id = u.id where o.state = 'closed'`;
    if (rows.length > 0) {
      const seen = new Set(rows.map((r) => r.id));
      left = left.filter((id) => !seen.has(id));
    }
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`only ${ids.length - left.length} of ${ids.length} orders ${what} after ${timeoutMs} ms`);
    // Many left: the end is seconds away, and each poll costs the database a probe per order left.
    await new Promise((res) => setTimeout(res, left.length > 200 ? 1000 : 250));
  }
}

/**
 * Waits until every order is closed AND its document e-mailed; returns when the last one closed
 * (its history row) and when the last of them was e-mailed (the row's last change).
 */
async function waitClosedAndEmailed(b: BenchEnv, ids: readonly string[], timeoutMs: number): Promise<{ closedAt: number; emailedAt: number }> {
  await pollUntilAll(b, ids, timeoutMs, 'closed and e-mailed', true);
  const [r] = await b.sql<{ last: Date | null }[]>`
    select max(updated_at) as last from orders where id = any(${ids as string[]}) and state = 'closed' and document_state = 'emailed'`;
  const [c] = await b.sql<{ at: Date | null }[]>`
    select max(at) as at from order_history where order_id = any(${ids as string[]}) and outcome = 'applied' and to_state = 'closed'`;
  const emailedAt = r?.last?.getTime() ?? Date.now();
  return { closedAt: c?.at?.getTime() ?? emailedAt, emailedAt };
}

async function waitClosed(b: BenchEnv, ids: readonly string[], timeoutMs: number): Promise<number> {
  await pollUntilAll(b, ids, timeoutMs, 'closed', false);
  const [r] = await b.sql<{ last: Date | null }[]>`select max(updated_at) as last from orders where id = any(${ids as string[]}) and state = 'closed'`;
  return r?.last?.getTime() ?? Date.now();
}

/** The bare ceiling: the host's read + write statements for `transitions` events, at `concurrency`. */
async function bareCeiling(b: BenchEnv, transitions: number, concurrency: number): Promise<number> {
  const [sample] = await b.sql<{ snapshot: { value: StateValue; context: unknown } }[]>`select snapshot from orders where state = 'closed' limit 1`;
  if (!sample) throw new Error('no order to copy');
  return runBareCeiling(b.sql, { total: transitions, concurrency, sample: sample.snapshot });
}

/**
 * How often and how long the bulk gate of the gateway's process paused so far (its /metrics), or
 * null when it does not say (BULK_YIELD_LAG_MS=0 still exports zeros; an old build nothing).
 */
async function bulkGatePauses(gatewayUrl: string): Promise<{ pauses: number; pausedSeconds: number } | null> {
  try {
    const text = await (await fetch(`${gatewayUrl}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const pauses = value('orderpilot_bulk_gate_pauses');
    const pausedSeconds = value('orderpilot_bulk_gate_paused_seconds');
    return Number.isFinite(pauses) && Number.isFinite(pausedSeconds) ? { pauses, pausedSeconds } : null;
  } catch {
    return null;
  }
}

/**
 * An account snapshot once Postgres has counted the commits so far: it flushes a backend's counts when
 * the backend goes idle, at most once a second.
 */
async function settledSnapshot(target: AccountTarget): Promise<AccountSnapshot> {
  await new Promise((r) => setTimeout(r, 1500));
  return accountSnapshot(target);
}

/** CPU ms per order as the table prints it: orderpilot / driver+sandboxes / Postgres / nats-server / rest. */
function cpuCells(c: ReturnType<typeof accountDiff>['cpuMsPerOrder']): string {
  return [c.app, c.driver, c.postgresBackends, c.natsServer, c.restOfMachine].join(' / ');
}

/** One paced run: `orders` orders placed and paid at `rate` per second; percentiles from the payment webhook. */
async function pacedLatency(o: { gatewayUrl: string; shopKey: string; secret: string; bench: BenchEnv; target: AccountTarget }, rate: number, orders: number) {
  process.stdout.write(`bench: ${orders} orders at ${rate}/s for latency…\n`);
  const gateBefore = await bulkGatePauses(o.gatewayUrl);
  // What each order costs at this rate (CPU by process, commits, statements), as phase 1 says for a
  // burst: below capacity the group commits carry fewer rows, so the per-order counts differ. Taken
  // from the shoppers' first order on, their thread's start-up left out.
  let acc0: AccountSnapshot | undefined;
  // The shoppers pace on a thread of their own: this one also runs the sandboxes (paced-shoppers.ts).
  const { timed, lateMs } = await pacedShoppersOnThread(
    { gatewayUrl: o.gatewayUrl, shopKey: o.shopKey, secret: o.secret, rate, orders },
    { beforeStart: async () => void (acc0 = await accountSnapshot(o.target)) },
  );
  if (acc0 === undefined) throw new Error('paced shoppers finished without starting');
  await waitClosed(o.bench, timed.map((t) => t.orderId), 600_000);
  const account = accountDiff(acc0, await settledSnapshot(o.target), orders);
  const gateAfter = await bulkGatePauses(o.gatewayUrl);
  const bulkGate =
    gateBefore && gateAfter ? { pauses: gateAfter.pauses - gateBefore.pauses, pausedSeconds: +(gateAfter.pausedSeconds - gateBefore.pausedSeconds).toFixed(2) } : null;
  const rows = await o.bench.sql<{ order_id: string; type: string; to_state: string; at: Date; occurred_at: Date }[]>`
    select order_id, type, to_state, at, occurred_at from order_history
     where order_id = any(${timed.map((t) => t.orderId)}) and outcome in ('applied', 'created')
       and (type in ('PAYMENT_CONFIRMED', 'ORDER_PLACED') or to_state = 'closed')`;
  // A payment published before its order's ORDER_PLACED statement began waited for that statement
  // (an order's events go in turn): how many, and what their published → applied looked like.
  const placedAt = new Map(rows.filter((r) => r.type === 'ORDER_PLACED').map((r) => [r.order_id, r.at.getTime()]));
  const behindPlaced: number[] = [];
  const notBehindPlaced: number[] = [];
  const paidAt = new Map(timed.map((t) => [t.orderId, t.paidAt]));
  // When the webhook-inbox row's insert began (`received_at`, its statement's start: the rows of a
  // batch share it), after the webhook was sent and relative to the payment's envelope: the gateway
  // builds the envelope and publishes it while the row is inserted, so the insert's commit is not on
  // the payment's path (before that, the envelope followed the commit: a positive figure here).
  const inboxRows = await o.bench.sql<{ order_id: string; received_at: Date }[]>`
    select order_id, received_at from webhook_inbox
     where provider = 'stripe' and verdict = 'accepted' and order_id = any(${timed.map((t) => t.orderId)})`;
  const receivedAt = new Map(inboxRows.map((r) => [r.order_id, r.received_at.getTime()]));
  const toInsert: number[] = [];
  const insertAfterPublished: number[] = [];
  const toProcessing: number[] = [];
  // The same span in two parts: webhook sent → payment event published by the gateway and published →
  // applied by the order host (JetStream, the partition's queue, the group-commit statement). A Stripe
  // event carries no time of its own, so its envelope's occurredAt is when the gateway built it, after
  // the request, the signature check and the webhook-inbox insert, just before publishing.
  const toPublished: number[] = [];
  const publishedToApplied: number[] = [];
  const toClosed: number[] = [];
  // Payment → processing by the second of the run the payment was sent in: a tail at the start (work
  // left from an earlier phase) reads differently from one spread over the run.
  const firstPaid = Math.min(...timed.map((t) => t.paidAt));
  const bySecond: number[][] = [];
  for (const r of rows) {
    const t = paidAt.get(r.order_id);
    if (t === undefined) continue;
    if (r.type === 'PAYMENT_CONFIRMED') {
      toProcessing.push(r.at.getTime() - t);
      toPublished.push(r.occurred_at.getTime() - t);
      const received = receivedAt.get(r.order_id);
      if (received !== undefined) {
        toInsert.push(received - t);
        insertAfterPublished.push(received - r.occurred_at.getTime());
      }
      const applied = r.at.getTime() - r.occurred_at.getTime();
      publishedToApplied.push(applied);
      const placed = placedAt.get(r.order_id);
      if (placed !== undefined) (placed >= r.occurred_at.getTime() ? behindPlaced : notBehindPlaced).push(applied);
      (bySecond[Math.floor((t - firstPaid) / 1000)] ??= []).push(r.at.getTime() - t);
    } else if (r.to_state === 'closed') toClosed.push(r.at.getTime() - t);
  }
  for (const a of [toProcessing, toPublished, toInsert, insertAfterPublished, publishedToApplied, toClosed, behindPlaced, notBehindPlaced]) a.sort((x, y) => x - y);
  const pct = (a: number[]) => ({ p50: percentile(a, 50), p95: percentile(a, 95), p99: percentile(a, 99) });
  const maxBySecond = Array.from(bySecond, (xs) => (xs === undefined ? null : Math.max(...xs)));
  return {
    rate,
    orders,
    paymentToProcessingMs: pct(toProcessing),
    paymentToPublishedMs: pct(toPublished),
    paymentPublishedToProcessingMs: pct(publishedToApplied),
    paymentToInboxInsertMs: pct(toInsert),
    paymentInboxInsertAfterPublishedMs: pct(insertAfterPublished),
    paymentsBehindOrderPlaced: { count: behindPlaced.length, of: behindPlaced.length + notBehindPlaced.length, publishedToAppliedMs: pct(behindPlaced), othersPublishedToAppliedMs: pct(notBehindPlaced) },
    paymentToProcessingMaxMsBySecond: maxBySecond,
    paymentToClosedMs: pct(toClosed),
    // How late the shoppers started each order after it was due: the pacing the system saw.
    pacingLateMs: { ...pct([...lateMs].sort((x, y) => x - y)), max: Math.max(0, ...lateMs) },
    bulkGate,
    cpuMsPerOrder: account.cpuMsPerOrder,
    postgresCommitsPerOrder: account.postgresCommitsPerOrder,
    postgresStatementsPerOrder: account.postgresStatementsPerOrder,
    postgresStatementsPerOrderByKind: account.statementsPerOrderByKind,
  };
}

async function e2e(): Promise<void> {
  const ORDERS = num('BENCH_ORDERS', 2000);
  const CONCURRENCY = num('BENCH_CONCURRENCY', 64);
  const RATES = nums('BENCH_RATE', [50, 100]);
  const LATENCY_ORDERS = num('BENCH_LATENCY_ORDERS', 1000);
  const FILL = num('BENCH_FILL', 100_000);
  // Orders closed before measuring: JIT, pools, connections. V8 is still optimizing the code for a
  // few thousand orders after 20 (a perf profile: 28 % of the process's CPU in TurboFan in the first
  // 5 s of 500 measured orders, 10 % after 20 s), so a larger BENCH_WARMUP measures the steady state.
  const WARMUP = Math.max(1, num('BENCH_WARMUP', 20));
  const WALK = benchWalk();
  const b = await createBenchEnv();
  // The shoppers' client: kept-alive connections, as cheap as the driver can make a request.
  const http = createHttpPost();
  const sandboxes = await startSandboxes({ logger: b.logger, stepMs: 0, maxMails: 10, smtpParse: 'headers', ...(WALK === 'short' ? { warehouseReports: SHORT_WALK } : {}) });
  const port = await freePort();
  const gatewayUrl = `http://127.0.0.1:${port}`;
  sandboxes.warehouse.setWebhookUrl(`${gatewayUrl}/webhooks/warehouse`);
  const secret = `whsec_bench_${randomUUID().replace(/-/g, '')}`;
  const shopKey = `bench-shop-${randomUUID()}`;
  const env = {
    ...b.env,
    ...sandboxes.env,
    PORT: String(port),
    STRIPE_WEBHOOK_SECRET: secret,
    ADMIN_TOKENS: `bench:${randomUUID()}`,
    SHOP_KEYS: `bench-shop:${shopKey}`,
    LOG_LEVEL: 'error',
    NOTIFY_DIGEST_WINDOW_MS: '1000',
  };
  // BENCH_SPLIT=1: the services in two processes (gateway + orders | the rest), as a production
  // deployment would run them, so the system can use more than one core.
  const split = num('BENCH_SPLIT', 0) > 0;
  // BENCH_STATEMENTS=1: each orderpilot process counts the statements it sends (costs CPU; off by default).
  const countStatements = num('BENCH_STATEMENTS', 0) > 0;
  const statementFiles = countStatements ? (split ? [0, 1] : [0]).map((i) => path.join(os.tmpdir(), `orderpilot-bench-statements-${process.pid}-${i}`)) : [];
  // BENCH_CPU_PROF_DIR=<dir>: the orderpilot processes write a V8 CPU profile there when they stop
  // (sum it with the peer's profile-summary.mjs); BENCH_HEAP_PROF_DIR=<dir>: an allocation profile.
  const profDir = process.env['BENCH_CPU_PROF_DIR'];
  const heapProfDir = process.env['BENCH_HEAP_PROF_DIR'];
  const profile: Record<string, string> = {
    ...(profDir ? { BENCH_CPU_PROF_DIR: path.resolve(profDir) } : {}),
    ...(heapProfDir ? { BENCH_HEAP_PROF_DIR: path.resolve(heapProfDir) } : {}),
  };
  // BENCH_CHILD_NODE_OPTIONS: Node/V8 flags for the orderpilot processes only (not this driver), e.g.
  // `--max-semi-space-size=32`; on their command line, so also the V8 flags NODE_OPTIONS refuses
  // (`--trace-gc`, `--heap-growing-percent=…`). BENCH_CHILD_LOG=<file>: what they print, appended there.
  const childOptions: ChildOptions = {
    nodeArgs: (process.env['BENCH_CHILD_NODE_OPTIONS'] ?? '').split(/\s+/).filter(Boolean),
    ...(process.env['BENCH_CHILD_LOG'] ? { logFile: path.resolve(process.env['BENCH_CHILD_LOG']) } : {}),
  };
  const childEnv = (i: number): Record<string, string> => ({
    ...env,
    ...profile,
    ...(countStatements ? { BENCH_STATEMENTS_FILE: statementFiles[i] ?? '' } : {}),
  });
  // Before the orderpilot process starts: its start-up (module loading, compiling) would slow this too.
  const speed0 = cpuSpeedIndexMs();
  /** Stops what the bench started (its orderpilot processes, sandboxes, database), whether it got far or not. */
  const release = async (children: ReadonlyArray<Child | null>) => {
    await Promise.all(children.map((c) => c?.kill('SIGTERM')));
    for (const f of statementFiles) rmSync(f, { force: true });
    http.close();
    await sandboxes.close();
    await b.cleanup();
  };
  const started: Child[] = [];
  try {
    started.push(await startChild('test/bench/bench-child.ts', split ? ['gateway', 'orders'] : [], childEnv(0), 60_000, undefined, childOptions));
    if (split) started.push(await startChild('test/bench/bench-child.ts', ['invoicing', 'mailer', 'logistics', 'notifications'], childEnv(1), 60_000, undefined, childOptions));
  } catch (err) {
    // An orderpilot process that would not start (a bad BENCH_CHILD_NODE_OPTIONS, say): without this the
    // driver printed the error and then never exited, its sandboxes and connections still open.
    await release(started);
    throw err;
  }
  const [child] = started as [Child];
  const second = started[1] ?? null;
  // BENCH_BULK_NICE=<n> (with BENCH_SPLIT=1): the bulk services' process at a lower CPU priority, as
  // `nice -n <n> orderpilot run invoicing mailer logistics notifications` would start it. Linux keeps
  // a priority per thread, so every thread the process has by now (V8's workers, libuv's) is set.
  const bulkNice = num('BENCH_BULK_NICE', 0);
  if (second?.proc.pid && bulkNice > 0) {
    for (const tid of readdirSync(`/proc/${second.proc.pid}/task`)) os.setPriority(Number(tid), Math.min(19, bulkNice));
  }
  const pid = child.proc.pid ?? 0;
  const pids = [pid, ...(second?.proc.pid ? [second.proc.pid] : [])];
  const load0 = os.loadavg()[0] ?? 0;
  try {
    // Warm-up (JIT, pools, connections), not measured: BENCH_WARMUP orders, at most 64 at a time,
    // each batch closed and e-mailed before the next (no warm-up work left over for the measured phase).
    for (let left = WARMUP; left > 0; left -= 64) {
      const batch = await Promise.all(Array.from({ length: Math.min(64, left) }, () => placeAndPay(http, { gatewayUrl, shopKey, secret })));
      await waitClosedAndEmailed(b, batch.map((o) => o.orderId), 120_000);
    }
    const cpuOf = () => pids.reduce((sum, p) => sum + procStats(p).cpuSeconds, 0);
    const target: AccountTarget = { sql: b.sql, databaseUrl: b.databaseUrl, natsUrl: b.natsUrl, nc: b.nc, names: b.names, appPids: pids, statementFiles };
    const acc0 = await settledSnapshot(target);
    const cpu0 = cpuOf();
    const [h0] = await b.sql<{ n: number }[]>`select count(*)::int as n from order_history where outcome in ('created', 'applied')`;

    // 1. Throughput.
    process.stdout.write(`bench: ${ORDERS} orders, ${CONCURRENCY} shoppers…\n`);
    const t0 = Date.now();
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < ORDERS) {
          next++;
          ids.push((await placeAndPay(http, { gatewayUrl, shopKey, secret })).orderId);
        }
      }),
    );
    const done = await waitClosedAndEmailed(b, ids, 600_000);
    const seconds = (done.closedAt - t0) / 1000;
    const emailedSeconds = (done.emailedAt - t0) / 1000;
    const account = accountDiff(acc0, await settledSnapshot(target), ORDERS);
    const [h1] = await b.sql<{ n: number }[]>`select count(*)::int as n from order_history where outcome in ('created', 'applied')`;
    const transitions = (h1?.n ?? 0) - (h0?.n ?? 0);
    const cpuPerOrder = (cpuOf() - cpu0) / ORDERS;

    // Fill the database (copies of a closed order) so the latency run sees a big orders table.
    if (FILL > 0) {
      process.stdout.write(`bench: adding ${FILL} closed orders to the database…\n`);
      await b.sql`
        insert into orders (id, external_id, state, document_state, state_value, snapshot, machine_version, version, customer_email, created_at, updated_at)
        select 'fill_' || g || '_' || o.id, 'fill_' || g || '_' || o.external_id, o.state, o.document_state, o.state_value, o.snapshot, o.machine_version, o.version, o.customer_email, o.created_at, o.updated_at
          from generate_series(1, ${FILL}) g, (select * from orders where state = 'closed' and id like 'ord_%' limit 1) o`;
      // What the latency run should see is a big table, not the tail of writing it: without this, the
      // fill's checkpoint and the first visits of its rows (hint bits, the visibility map) land in the
      // paced run as disk writes. CHECKPOINT needs a superuser or pg_checkpoint; skipped otherwise.
      await b.sql`vacuum (analyze) orders`;
      await b.sql`checkpoint`.catch((err: unknown) => process.stderr.write(`bench: no CHECKPOINT after the fill (${err instanceof Error ? err.message : String(err)})\n`));
    }

    // 2. Latency at each steady rate.
    const latencyByRate = [];
    for (const rate of RATES) latencyByRate.push(await pacedLatency({ gatewayUrl, shopKey, secret, bench: b, target }, rate, LATENCY_ORDERS));
    const stats = pids.map((p) => procStats(p)).reduce((a, c) => ({ peakRssMiB: Math.max(a.peakRssMiB, c.peakRssMiB), cpuSeconds: a.cpuSeconds + c.cpuSeconds }));
    // 3. The bare ceiling for the same number of write transactions — with orderpilot stopped (its
    // relay would try to publish the bare outbox rows).
    await Promise.all([child.kill('SIGTERM'), second?.kill('SIGTERM')]);
    const bareSeconds = await bareCeiling(b, transitions, b.config.orderPartitions);
    const result = {
      mode: 'e2e',
      orders: ORDERS,
      concurrency: CONCURRENCY,
      seconds: +seconds.toFixed(2),
      ordersPerSec: +(ORDERS / seconds).toFixed(1),
      closedAndEmailed: { seconds: +emailedSeconds.toFixed(2), ordersPerSec: +(ORDERS / emailedSeconds).toFixed(1) },
      transitionsPerSec: Math.round(transitions / seconds),
      transitionsPerOrder: +(transitions / ORDERS).toFixed(2),
      bare: { transactions: transitions, seconds: +bareSeconds.toFixed(2), ordersPerSec: +(ORDERS / bareSeconds).toFixed(1), transactionsPerSec: Math.round(transitions / bareSeconds) },
      ratio: +(bareSeconds / seconds).toFixed(3),
      latency: latencyByRate[0],
      latencyByRate,
      process: { peakRssMiB: stats.peakRssMiB, cpuSecondsPerOrder: +cpuPerOrder.toFixed(4), ordersInDatabase: ORDERS + LATENCY_ORDERS + FILL + 20 },
      split,
      bulkNice: second ? bulkNice : 0,
      cpuMsPerOrder: account.cpuMsPerOrder,
      // The driver and its sandboxes do the same work for every order (the shop's requests, the PDFs,
      // the warehouse's webhooks, the mail received), so their CPU per order moves with the host's speed
      // alone: the app's CPU divided by it cancels out most of that speed, which swings up to 2× here
      // within minutes. A measure for comparing code (A/B), not a target.
      appToDriverCpu: account.cpuMsPerOrder.driver > 0 ? +(account.cpuMsPerOrder.app / account.cpuMsPerOrder.driver).toFixed(3) : null,
      postgresCommitsPerOrder: account.postgresCommitsPerOrder,
      postgresWalKiBPerOrder: account.postgresWalKiBPerOrder,
      postgresStatementsPerOrder: account.postgresStatementsPerOrder,
      postgresStatementsPerOrderByKind: account.statementsPerOrderByKind,
      jetstreamPublishesPerOrder: account.jetstreamPublishesPerOrder,
      jetstreamDeliveriesPerOrder: account.jetstreamDeliveriesPerOrder,
      jetstreamAcksPerOrder: account.jetstreamAcksPerOrder,
      warmupOrders: WARMUP,
      warehouseWalk: WALK,
      machine: {
        cpus: os.cpus().length,
        loadAvg1mAtStart: +load0.toFixed(2),
        loadAvg1mAtEnd: +(os.loadavg()[0] ?? 0).toFixed(2),
        cpuSpeedIndexMsAtStart: speed0,
        cpuSpeedIndexMsAtEnd: cpuSpeedIndexMs(),
      },
      at: new Date().toISOString(),
    };
    await mkdir(path.join(ROOT, 'bench-results'), { recursive: true });
    const file = path.join(ROOT, 'bench-results', `e2e-${Date.now()}.json`);
    await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(
      [
        '',
        `| measure | value | target |`,
        `| --- | --- | --- |`,
        `| orders/s to closed (${ORDERS} orders, ${CONCURRENCY} shoppers; warehouse walk: ${WALK}) | ${result.ordersPerSec} | |`,
        `| orders/s to closed and e-mailed | ${result.closedAndEmailed.ordersPerSec} | ≥ 100 |`,
        `| CPU ms per order: orderpilot / driver+sandboxes / Postgres / nats-server / rest | ${cpuCells(result.cpuMsPerOrder)} | app ≤ 6 |`,
        `| app CPU ÷ driver+sandboxes CPU (their work per order is fixed, so the host's speed cancels out: for comparing code) | ${result.appToDriverCpu ?? '—'} | |`,
        `| Postgres commits / statements per order | ${result.postgresCommitsPerOrder} / ${result.postgresStatementsPerOrder ?? 'not counted (BENCH_STATEMENTS=1)'} | ≤ 12 commits |`,
        `| Postgres WAL per order (server-wide) | ${result.postgresWalKiBPerOrder} KiB | |`,
        `| JetStream publishes / deliveries / acks per order | ${result.jetstreamPublishesPerOrder} / ${result.jetstreamDeliveriesPerOrder} / ${result.jetstreamAcksPerOrder} | ≤ 10 publishes |`,
        `| transitions/s | ${result.transitionsPerSec} (${result.transitionsPerOrder} per order) | |`,
        `| bare Postgres, same write transactions | ${result.bare.ordersPerSec} orders/s (${result.bare.transactionsPerSec} tx/s); ratio e2e/bare ${result.ratio} | |`,
        ...latencyByRate.flatMap((l) => [
          `| payment → processing at ${l.rate}/s, p50/p95/p99 ms | ${l.paymentToProcessingMs.p50} / ${l.paymentToProcessingMs.p95} / ${l.paymentToProcessingMs.p99} | p99 < ${l.rate <= 50 ? 50 : 100} |`,
          `| … of which webhook → published (gateway) / published → applied (JetStream, order host), p50/p99 ms | ${l.paymentToPublishedMs.p50} / ${l.paymentToPublishedMs.p99}; ${l.paymentPublishedToProcessingMs.p50} / ${l.paymentPublishedToProcessingMs.p99} | |`,
          `| … payments published before their ORDER_PLACED's statement began (they wait for it): count; their published → applied p50/p99 ms; the others' | ${l.paymentsBehindOrderPlaced.count} of ${l.paymentsBehindOrderPlaced.of}; ${l.paymentsBehindOrderPlaced.publishedToAppliedMs.p50} / ${l.paymentsBehindOrderPlaced.publishedToAppliedMs.p99}; ${l.paymentsBehindOrderPlaced.othersPublishedToAppliedMs.p50} / ${l.paymentsBehindOrderPlaced.othersPublishedToAppliedMs.p99} | |`,
          `| … the webhook-inbox insert began: after the webhook was sent / after the payment was built to publish (they run side by side), p50/p99 ms | ${l.paymentToInboxInsertMs.p50} / ${l.paymentToInboxInsertMs.p99}; ${l.paymentInboxInsertAfterPublishedMs.p50} / ${l.paymentInboxInsertAfterPublishedMs.p99} | |`,
          `| payment → processing at ${l.rate}/s, slowest by second of the run, ms | ${l.paymentToProcessingMaxMsBySecond.map((x) => x ?? '—').join(' ')} | |`,
          `| pacing at ${l.rate}/s: orders started after they were due (the shoppers' own thread), p50/p99/max ms | ${l.pacingLateMs.p50} / ${l.pacingLateMs.p99} / ${Math.round(l.pacingLateMs.max)} | |`,
          `| payment → closed at ${l.rate}/s, p50/p95/p99 ms | ${l.paymentToClosedMs.p50} / ${l.paymentToClosedMs.p95} / ${l.paymentToClosedMs.p99} | |`,
          `| bulk gate at ${l.rate}/s (BULK_YIELD_LAG_MS): pauses / seconds paused | ${l.bulkGate ? `${l.bulkGate.pauses} / ${l.bulkGate.pausedSeconds}` : 'not exported'} | |`,
          `| at ${l.rate}/s, per order: CPU ms orderpilot / driver+sandboxes / Postgres / nats-server / rest; Postgres commits / statements (the bench's own polls included) | ${cpuCells(l.cpuMsPerOrder)}; ${l.postgresCommitsPerOrder} / ${l.postgresStatementsPerOrder ?? 'not counted'} | |`,
        ]),
        `| orderpilot peak RSS (${result.process.ordersInDatabase} orders in the database) | ${stats.peakRssMiB} MiB | < 300 |`,
        `| CPU seconds per order (orderpilot process) | ${result.process.cpuSecondsPerOrder} | |`,
        `| machine | ${result.machine.cpus} CPUs, load ${result.machine.loadAvg1mAtStart} → ${result.machine.loadAvg1mAtEnd}, CPU speed index ${result.machine.cpuSpeedIndexMsAtStart} → ${result.machine.cpuSpeedIndexMsAtEnd} ms (a fixed workload's CPU time; lower is faster), hypervisor steal ${(result.cpuMsPerOrder.machineStealShare * 100).toFixed(1)} % of the CPU time in phase 1 | |`,
        '',
        `written to ${path.relative(ROOT, file)}`,
        '',
      ].join('\n'),
    );
  } finally {
    await release([child, second]);
  }
}

const flag = process.argv.slice(2).find((a) => a.startsWith('--'))?.slice(2);
if (flag !== undefined && flag !== 'e2e') {
  if (!['host', 'gateway', 'invoicing', 'peer'].includes(flag)) {
    process.stderr.write(`bench: unknown mode --${flag}; use --e2e (default), --host, --gateway, --invoicing or --peer\n`);
    process.exit(2);
  }
  process.exitCode = await runComponent(flag);
} else {
  await e2e().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  });
}
