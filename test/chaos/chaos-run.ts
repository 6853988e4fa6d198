/**
 * The chaos run: N orders through the full system — several real orderpilot processes per service,
 * a NATS server of its own, the sandbox providers, the demo shop — while a monkey SIGKILLs and
 * restarts processes, restarts NATS, injects provider faults; the shop and the sandbox warehouse add
 * duplicate and reordered webhooks and lost responses. Then it waits for the system to settle and
 * checks that nothing was lost or done twice. Used by `npm run chaos` (long) and
 * test/chaos/chaos.test.ts (short, part of `npm test`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createScratchDatabase, uniqueName } from '../support/world.ts';
import { RetentionPolicy, jetstreamManager } from '@nats-io/jetstream';
import { loadConfig } from '../../infra/config.ts';
import { createSql, type Sql } from '../../infra/db/postgres.ts';
import { migrate } from '../../infra/db/migrate.ts';
import type { Logger } from '../../infra/logger.ts';
import { connectNats, type NatsConnection } from '../../infra/nats/connection.ts';
import { ensureTopology, topology } from '../../infra/nats/topology.ts';
import { freePort, startNatsServer } from '../../infra/runtime/local-services.ts';
import { startDemoShop, type PlacedOrder, type Trouble } from '../../infra/demo/demo-shop.ts';
import { startSandboxes, type Sandboxes } from '../../infra/demo/sandboxes.ts';
import { natsNames } from '../../services/contracts/index.ts';
import { startChild, type Child } from '../support/processes.ts';
import { startGatewayBalancer } from './gateway-balancer.ts';
import { startNatsCluster, type NatsCluster } from '../cluster/nats-cluster.ts';

export interface ChaosOptions {
  /** A Postgres URL whose server may get a new database (dropped at the end unless `keep`). */
  baseDatabaseUrl: string;
  orders: number;
  /** Orders per second the shop places and pays. */
  rate: number;
  /** Process groups: each entry is one process running these services (`[]` = all). */
  processes: string[][];
  /** Mean time between two monkey actions. */
  monkeyEveryMs: number;
  /** The monkey goes on after the shop is done until it did this many things (short runs). */
  minActions?: number;
  /** Restart the NATS server now and then (it is our own, never the machine's); on a cluster, one node at a time. */
  restartNats: boolean;
  /**
   * Run on a nats-server JetStream cluster of this many nodes (streams with as many replicas,
   * NATS_REPLICAS) instead of one server: the monkey SIGKILLs one node at a time — every other time
   * the order stream's leader — restarts it and waits until it caught up. Each process lists the
   * servers from a different node.
   */
  cluster?: number;
  /** Postgres connections per process (default: 60 shared by all processes, 3 to 10 each). */
  databasePoolMax?: number;
  /** At most this many NATS node restarts on a cluster (default: as the monkey draws them). */
  maxNatsNodeRestarts?: number;
  /** End every service session on the database now and then, at least once (default true). */
  postgresFaults?: boolean;
  /** How long the system may take to settle after the last order was paid. */
  settleTimeoutMs: number;
  logger: Logger;
  keep?: boolean;
  log?: (line: string) => void;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ChaosReport {
  orders: number;
  seconds: number;
  /** Orders placed ÷ seconds from the first order to the last one settled (everything final, nothing pending). */
  ordersPerSecond: number;
  /** `1 NATS server` or `3-node NATS cluster (replicas 3)`. */
  nats: string;
  /** Postgres commits in the run's database per order placed, and per second, from the first order to all settled. */
  postgres: { commitsPerOrder: number; commitsPerSecond: number };
  actions: Record<string, number>;
  states: Record<string, number>;
  /** Work-queue messages a consumer passed over that the sweeper put back (services/notifications/work-queue.sweep.ts). */
  sweptBack: number;
  /** Webhooks accepted for an order that never reached it, replayed by the gateway's webhook recheck. */
  webhooksReplayed: number;
  /** How the wait for the system to settle ended: settled after n s, or the last probe at the deadline. */
  settle: string;
  checks: Check[];
  ok: boolean;
}

const TROUBLE = { badNip: 0.05, outOfStock: 0.04, badAddress: 0.03, lostResponse: 0.08, paymentFailed: 0.05, unpaid: 0.03 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long a service process may take to stop after SIGTERM at the end of a run. */
const STOP_GRACE_MS = 30_000;

/** Starts processes at most as many at once as the machine has cores (at least two). */
async function startAll<T>(items: readonly T[], start: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await start(item);
  };
  await Promise.all(Array.from({ length: Math.max(2, os.cpus().length) }, worker));
}

interface Proc {
  services: string[];
  env: Record<string, string>;
  child: Child | null;
  gatewayUrl: string | null;
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.log ?? ((l: string) => o.logger.info(l));
  const t0 = Date.now();
  const db = await createScratchDatabase(o.baseDatabaseUrl, 'op_chaos');
  const { url: databaseUrl, name: dbName } = db;

  const natsDir = await mkdtemp(path.join(os.tmpdir(), 'orderpilot-chaos-nats-'));
  const natsPort = await freePort();
  const cluster: NatsCluster | null = o.cluster !== undefined && o.cluster > 1 ? await startNatsCluster(o.cluster) : null;
  let nats = cluster === null ? await startNatsServer(natsDir, o.logger, natsPort) : null;
  const natsUrl = cluster?.url ?? nats?.url ?? '';
  const natsLabel = cluster === null ? '1 NATS server' : `${cluster.nodes.length}-node NATS cluster (replicas ${cluster.nodes.length})`;
  const prefix = uniqueName('chaos');
  const actions: Record<string, number> = {};
  const count = (a: string) => (actions[a] = (actions[a] ?? 0) + 1);

  let sandboxes: Sandboxes | null = null;
  const procs: Proc[] = [];
  /** Every child ever started (a killed one is replaced): their output tells what went wrong. */
  const everyChild: Child[] = [];
  /** Processes that exited without the monkey killing them (the monkey and the end of the run clear a slot before they stop its process). */
  const unexpectedExits: string[] = [];
  let sql: Sql | null = null;
  let nc: NatsConnection | null = null;
  let monkeyOn = false;
  let monkey: Promise<void> = Promise.resolve();
  let admin: ReturnType<typeof startAdminCancels> | null = null;
  const balancer = await startGatewayBalancer(() => procs.filter((p) => p.child && p.gatewayUrl).map((p) => p.gatewayUrl as string));
  try {
    sandboxes = await startSandboxes({
      logger: o.logger,
      stepMs: 40,
      webhookUrl: `${balancer.url}/webhooks/warehouse`,
      maxMails: Number.POSITIVE_INFINITY,
      // Like a real 3PL, keep trying for a few minutes while gateways restart (backoff caps at 5 s).
      webhookAttempts: 60,
      // Background noise all run long; the monkey adds bursts.
      invoicingFaults: { errorRate: 0.05, dropResponseRate: 0.05, timeoutRate: 0.02, rateLimitRate: 0.02 },
      warehouseFaults: { lostResponse: 0.05, timeout: 0.03, serverError: 0.04, duplicateWebhooks: 0.1, reorderWebhooks: 0.1, DELIVERY_FAILED: 0.02, LOST: 0.01 },
    });
    const stripeSecret = `whsec_chaos_${randomBytes(12).toString('hex')}`;
    const shopKey = `chaos-shop-${randomBytes(16).toString('hex')}`;
    const baseEnv: Record<string, string> = {
      ...sandboxes.env,
      DATABASE_URL: databaseUrl,
      NATS_URL: natsUrl,
      NATS_PREFIX: prefix,
      ...(cluster === null ? {} : { NATS_REPLICAS: String(cluster.nodes.length) }),
      STRIPE_WEBHOOK_SECRET: stripeSecret,
      ADMIN_TOKENS: `chaos:${randomBytes(16).toString('hex')}`,
      SHOP_KEYS: `chaos-shop:${shopKey}`,
      ADMIN_EMAIL: 'admin@shop.example',
      ORDER_PARTITIONS: '8',
      // Many processes share one Postgres (max_connections is often 100).
      DATABASE_POOL_MAX: String(o.databasePoolMax ?? Math.max(3, Math.min(10, Math.floor(60 / o.processes.length)))),
      ACK_WAIT_MS: '5000',
      OUTBOX_POLL_MS: '200',
      MAX_DELIVER: '20',
      // Longer than recovering a message NATS lost takes here (two sweeps of 10 s, a recheck 10 s
      // after), as the production default (72 h) is: a payment recovered after its timeout would
      // find the order cancelled.
      PAYMENT_TIMEOUT_MS: '60000',
      INVOICING_RETRY_BASE_MS: '150',
      MAIL_RETRY_BASE_MS: '150',
      LOGISTICS_RETRY_BASE_MS: '150',
      // Retries back off to at most 5 s here (6 h in production for the invoicing system and SMTP):
      // 20 attempts from 150 ms would otherwise wait 10 minutes at the 13th, past the settle time.
      INVOICING_RETRY_CAP_MS: '5000',
      MAIL_RETRY_CAP_MS: '5000',
      LOGISTICS_RETRY_CAP_MS: '5000',
      INVOICING_MAX_ATTEMPTS: '20',
      MAIL_MAX_ATTEMPTS: '20',
      LOGISTICS_MAX_ATTEMPTS: '20',
      FAKTUROWNIA_TIMEOUT_MS: '1500',
      WAREHOUSE_TIMEOUT_MS: '1500',
      // Longer than a send ever takes on a loaded machine, or a second sender takes over a slow one.
      MAIL_CLAIM_LEASE_MS: '30000',
      // What NATS loses (a cluster node SIGKILLed) is asked for again well within the settle time.
      INTAKE_RECHECK_MS: '10000',
      ORDER_REDRIVE_MS: '5000',
      ORDER_REDRIVE_AFTER_MS: '30000',
      NOTIFY_DIGEST_WINDOW_MS: '500',
      NOTIFY_DIGEST_MAX_WAIT_MS: '2000',
      LOG_LEVEL: process.env['CHAOS_LOG_LEVEL'] ?? 'error',
    };
    const config = loadConfig(baseEnv);
    sql = createSql(databaseUrl, { max: 5, name: 'chaos' });
    await migrate(sql);
    nc = await connectNats(natsUrl, 'chaos-driver');
    const names = natsNames(prefix, config.orderPartitions);
    const topo = { ackWaitMs: config.ackWaitMs, duplicateWindowMs: config.duplicateWindowMs, maxDeliver: config.maxDeliver, replicas: config.natsReplicas };
    await ensureTopology(nc, names, topo);

    for (const [i, services] of o.processes.entries()) {
      const runsGateway = services.length === 0 || services.includes('gateway');
      const port = runsGateway ? await freePort() : 0;
      // On a cluster each process lists the servers from another node first: connections spread.
      const nodeFirst: Record<string, string> = cluster === null ? {} : { NATS_URL: cluster.urlFrom(i) };
      procs.push({ services, env: { ...baseEnv, ...nodeFirst, PORT: String(port) }, child: null, gatewayUrl: runsGateway ? `http://127.0.0.1:${port}` : null });
    }
    const start = async (p: Proc) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const child = await startChild('test/chaos/service-child.ts', p.services, p.env, 60_000);
          p.child = child;
          everyChild.push(child);
          // Only the monkey ends a process: one that exits while it is still this slot's child died
          // on its own (a crash), and nothing restarts it.
          void child.exited.then((e) => {
            if (p.child !== child) return;
            const lastWords = child.output().split('\n').filter((l) => l.trim() !== '').slice(-3).join(' | ').slice(0, 600);
            unexpectedExits.push(`${p.services.join('+') || 'all'} exited (${e.code ?? e.signal}): ${lastWords}`);
          });
          return;
        } catch (err) {
          // NATS may be restarting right now, the machine may be slow: a supervisor tries again.
          if (attempt >= 30) throw err;
          o.logger.warn({ services: p.services, attempt, err: (err instanceof Error ? err.message : String(err)).slice(0, 300) }, 'chaos: process did not start; retrying');
          // Its port may have been taken meanwhile (EADDRINUSE) by another program: the next try takes a free one.
          if (p.gatewayUrl !== null) {
            const port = await freePort();
            p.env = { ...p.env, PORT: String(port) };
            p.gatewayUrl = `http://127.0.0.1:${port}`;
          }
          await sleep(Math.min(5000, 300 * attempt));
        }
      }
    };
    // A few at a time: eighteen processes compiling at once on two cores each miss the start deadline.
    await startAll(procs, start);
    if (cluster !== null) {
      const info = await jetstreamManager(nc).then((jsm) => jsm.streams.info(names.streams.orderEvents));
      if (info.config.num_replicas !== cluster.nodes.length) throw new Error(`stream ${names.streams.orderEvents} has ${info.config.num_replicas} replicas, not ${cluster.nodes.length}`);
    }
    log(`chaos: ${procs.length} processes up (${o.processes.map((s) => (s.length ? s.join('+') : 'all')).join(', ')}), ${natsLabel} ${natsUrl}, database ${dbName}`);

    // The monkey: one random fault at a time, until the shop is done.
    monkeyOn = true;
    const sb = sandboxes;
    // On a cluster two node restarts come first: the stream leader's, then another's.
    // Then every service's Postgres sessions ended once (0.82), unless Postgres faults are off.
    const pgFaults = o.postgresFaults ?? true;
    const pgFirst = pgFaults ? [0.82] : [];
    const forced = !o.restartNats ? [0, ...pgFirst, 0] : cluster === null ? [0, 0.6, 0, ...pgFirst] : [0, 0.6, 0, 0.6, ...pgFirst];
    const restarts = new Set<Promise<void>>();
    const restartFailures: string[] = [];
    let shopDone = false;
    const total = () => Object.values(actions).reduce((a, b) => a + b, 0);
    monkey = (async () => {
      while (monkeyOn && !(shopDone && total() >= (o.minActions ?? 0))) {
        await sleep(o.monkeyEveryMs * (0.5 + Math.random()));
        // The first actions are fixed (a kill, a NATS restart, another kill, …), so even a short run has them.
        const r = forced.shift() ?? Math.random();
        if (r < 0.55) {
          const victim = procs[Math.floor(Math.random() * procs.length)];
          if (!victim?.child) continue;
          count('sigkill');
          const killed = victim.child;
          victim.child = null;
          await killed.kill('SIGKILL');
          // Restarted in the background (a process manager would): the monkey goes on meanwhile.
          const restart: Promise<void> = sleep(200 + Math.random() * 800)
            .then(() => start(victim))
            .catch((err: unknown) => void restartFailures.push(err instanceof Error ? err.message : String(err)))
            .finally(() => restarts.delete(restart));
          restarts.add(restart);
        } else if (r < 0.65 && o.restartNats && cluster !== null && (actions['nats-node-restart'] ?? 0) < (o.maxNatsNodeRestarts ?? Number.POSITIVE_INFINITY)) {
          // One node at a time: every other time the order stream's leader (its election is the hard case).
          const stream = names.streams.orderEvents;
          const leader = (actions['nats-node-restart'] ?? 0) % 2 === 0 ? await cluster.leaderOf(stream).catch(() => null) : null;
          const victim = leader ?? Math.floor(Math.random() * cluster.nodes.length);
          count('nats-node-restart');
          if (leader !== null) count('nats-leader-killed');
          await cluster.kill(victim);
          await sleep(300 + Math.random() * 700);
          await cluster.restart(victim);
          await cluster.settled(stream);
        } else if (r < 0.65 && o.restartNats && nats !== null) {
          count('nats-restart');
          await nats.stop();
          await sleep(300 + Math.random() * 700);
          nats = await startNatsServer(natsDir, o.logger, natsPort);
        } else if (r < 0.8) {
          count('invoicing-fault-burst');
          sb.invoicing.configure({ errorRate: 0.5, timeoutRate: 0.1, dropResponseRate: 0.2 });
          await sleep(1500);
          sb.invoicing.configure({ errorRate: 0.05, timeoutRate: 0.02, dropResponseRate: 0.05 });
        } else if (r < 0.85 && pgFaults) {
          // What a Postgres restart or failover does to its clients, without restarting the shared
          // server: every session of the services on this database ends at once, mid-statement or idle
          // (the leaders' lock sessions among them). The harness's own sessions ('chaos') stay.
          count('postgres-sessions-killed');
          await (sql as Sql)`select pg_terminate_backend(pid) from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid() and application_name <> 'chaos'`;
        } else if (r < 0.9) {
          count('smtp-down');
          sb.smtp.setDown(true);
          await sleep(1500);
          sb.smtp.setDown(false);
        } else {
          count('invoicing-fail-next');
          sb.invoicing.configure({ failNext: 10 });
        }
      }
    })();

    const warehouse = sb.warehouse;
    const paidEvents = new Map<string, string>();
    const pgCommits = async () => {
      const [r] = await (sql as Sql)<{ n: string }[]>`select xact_commit::text as n from pg_stat_database where datname = current_database()`;
      return Number(r?.n ?? 0);
    };
    const commitsAtStart = await pgCommits();
    admin = startAdminCancels({ sql: sql as Sql, gatewayUrl: balancer.url, token: (baseEnv['ADMIN_TOKENS'] ?? '').split(':')[1] ?? '', logger: o.logger });
    let rejectedPlaced = 0;
    const shopStartedAt = Date.now();
    const shop = startDemoShop({
      gatewayUrl: balancer.url,
      shopKey,
      stripeSecret,
      ratePerSecond: o.rate,
      maxOrders: o.orders,
      trouble: TROUBLE,
      payAfterMs: 50,
      stripe: sb.stripe,
      logger: o.logger,
      onPlaced: (p) => {
        if (p.trouble === 'outOfStock') warehouse.setPlan(p.orderId, { reject: 'OUT_OF_STOCK' });
        if (p.trouble === 'badAddress') warehouse.setPlan(p.orderId, { reject: 'ADDRESS_INVALID' });
        if ((p.trouble === 'outOfStock' || p.trouble === 'badAddress') && rejectedPlaced++ % 2 === 0) admin?.wanted.add(p.orderId);
      },
      onPaid: (p, eventId) => paidEvents.set(p.orderId, eventId),
    });
    await shop.done;
    shopDone = true;
    await monkey;
    monkeyOn = false;
    while (restarts.size > 0) await Promise.allSettled([...restarts]);
    if (restartFailures.length > 0) throw new Error(`a killed process could not be restarted: ${restartFailures[0]}`);
    sb.invoicing.configure({ errorRate: 0, timeoutRate: 0, dropResponseRate: 0, rateLimitRate: 0, failNext: 0 });
    sb.smtp.setDown(false);
    await startAll(procs.filter((p) => !p.child), start);
    log(`chaos: shop done (${shop.stats.placed} placed, ${shop.stats.paid} paid, ${shop.stats.errors} errors) after ${((Date.now() - t0) / 1000).toFixed(1)} s; monkey: ${JSON.stringify(actions)}; settling…`);

    // Settle: every order final, every document settled, nothing unsent or un-acked.
    const db = sql;
    // NATS may have just been restarted by the monkey: wait for it rather than fail the run.
    const connected = nc;
    const jsm = await retry(() => jetstreamManager(connected), 'JetStream manager', 30_000);
    const consumers = topology(names, topo).consumers;
    const pendingMessages = async (): Promise<number> => {
      let n = 0;
      for (const c of consumers) {
        const info = await jsm.consumers.info(c.stream, c.durable_name ?? '');
        n += info.num_pending + info.num_ack_pending;
      }
      return n;
    };
    // A work queue keeps a message until it is acked: one left there once every consumer says it has
    // nothing pending was skipped by its consumer (never delivered, never acked).
    const workQueueStreams = topology(names, topo).streams.filter((s) => s.retention === RetentionPolicy.Workqueue).map((s) => s.name);
    /**
     * Messages still stored in a work queue, read one by one (`next_by_subj` ">" from the first
     * sequence), with the stream state's own count beside them: after a node's restart nats-server 2.9
     * can count messages that no read finds. Those are named in the report, not counted as left.
     */
    const countedButNotStored: string[] = [];
    const leftInWorkQueues = async (): Promise<Record<string, number>> => {
      const left: Record<string, number> = {};
      countedButNotStored.length = 0;
      for (const name of workQueueStreams) {
        const info = await jsm.streams.info(name);
        if (info.state.messages === 0) continue;
        let found = 0;
        for (let seq = info.state.first_seq; found < 100; found++) {
          const m = await jsm.streams.getMessage(name, { seq, next_by_subj: '>' } as unknown as { seq: number });
          if (!m) break;
          seq = m.seq + 1;
        }
        if (found > 0) left[name] = found;
        else countedButNotStored.push(`${name}: ${info.state.messages} counted, none stored from ${info.state.first_seq} on`);
      }
      return left;
    };
    const unsettled = async () => {
      const [r] = await db<{ open: number; docs: number; unsent: number; refunds: number }[]>`
        select (select count(*)::int from orders where state not in ('closed', 'cancelled', 'held')) as open,
               (select count(*)::int from orders where state <> 'cancelled' and document_state in ('requested', 'issued')) as docs,
               (select count(*)::int from outbox where sent_at is null) as unsent,
               (select count(*)::int from refunds where status = 'requested') as refunds`;
      return r ?? { open: -1, docs: -1, unsent: -1, refunds: -1 };
    };
    const deadline = Date.now() + o.settleTimeoutMs;
    let last = { open: -1, docs: -1, unsent: -1, refunds: -1, pending: -1, heldToCancel: -1 };
    const cancels = admin;
    await cancels.stop();
    for (;;) {
      // The admin goes on cancelling what the customers gave up on until none of it is held.
      const heldToCancel = await cancels.pass();
      const u = await unsettled();
      const pending = await pendingMessages().catch(() => -1);
      const idle = await sb.warehouse.idle(100).then(() => true, () => false);
      last = { ...u, pending, heldToCancel };
      // Messages a consumer passed over wait for the work-queue sweeper (two sweeps): settled means none left.
      const left = pending === 0 ? Object.keys(await leftInWorkQueues().catch(() => ({ unknown: -1 }))).length : -1;
      if (u.open === 0 && u.docs === 0 && u.unsent === 0 && u.refunds === 0 && heldToCancel === 0 && pending === 0 && left === 0 && idle) break;
      if (Date.now() > deadline) break;
      await sleep(500);
    }
    const settledAt = Date.now();
    const settle = Date.now() > deadline ? `not settled within ${o.settleTimeoutMs / 1000} s, last probe ${JSON.stringify(last)}` : `settled ${((settledAt - (deadline - o.settleTimeoutMs)) / 1000).toFixed(1)} s after the shop was done`;
    // The statistics collector reports with a little delay; a last read after the quiet moment below.
    let commitsAtSettle = await pgCommits();
    // A last look after a quiet moment: nothing may arrive late.
    await sleep(1500);
    commitsAtSettle = Math.max(commitsAtSettle, await pgCommits());
    // What the work-queue sweepers said (their errors reach the processes' output): why a message was left.
    const sweeperSaid = () =>
      everyChild
        .flatMap((c) => c.output().split('\n'))
        .filter((line) => line.includes('"component":"work-queue-sweeper"'))
        .slice(-5)
        .map((line) => line.slice(0, 600));
    const checks = await verify({ sql: db, sandboxes: sb, orders: shop.orders, paidEvents, pending: await pendingMessages().catch(() => -1), kills: actions['sigkill'] ?? 0, mailConcurrency: config.mailConcurrency, cancelsAsked: cancels.asked, cancelsWanted: cancels.wanted, childOutput: () => everyChild.flatMap((c) => c.output().split('\n')) });
    checks.push({
      name: 'no process died on its own',
      ok: unexpectedExits.length === 0,
      detail: unexpectedExits.length === 0 ? `${everyChild.length} processes started, each ended only by the monkey` : unexpectedExits.join('; '),
    });
    const left = await leftInWorkQueues().catch((err: unknown) => ({ [`(could not read: ${err instanceof Error ? err.message : String(err)})`]: -1 }));
    checks.push({
      name: 'no message left in a work queue',
      ok: Object.keys(left).length === 0,
      detail:
        Object.keys(left).length === 0
          ? `${workQueueStreams.length} work-queue streams empty${countedButNotStored.length > 0 ? ` (the stream state still counts messages no read finds: ${countedButNotStored.join('; ')})` : ''}`
          : `left: ${JSON.stringify(left)}; the sweepers' last words: ${sweeperSaid().join('\n') || 'none'}`,
    });
    const states = Object.fromEntries((await db<{ state: string; n: number }[]>`select state, count(*)::int as n from orders group by 1 order by 1`).map((r) => [r.state, r.n]));
    const [sweptRow] = await db<{ n: number }[]>`select coalesce(sum(occurrences), 0)::int as n from notifications where code = 'WORK_QUEUE_SWEPT'`;
    const [replayedRow] = await db<{ n: number }[]>`select count(*)::int as n from webhook_inbox where replayed_by = 'webhook recheck'`;
    if (!checks.every((c) => c.ok)) log(`chaos: last settle probe ${JSON.stringify(last)}`);
    const busySeconds = Math.max(0.001, (settledAt - shopStartedAt) / 1000);
    const ordersPerSecond = shop.orders.length / busySeconds;
    const commits = commitsAtSettle - commitsAtStart;
    const postgres = { commitsPerOrder: commits / Math.max(1, shop.orders.length), commitsPerSecond: commits / busySeconds };
    return { orders: shop.orders.length, seconds: (Date.now() - t0) / 1000, ordersPerSecond, nats: natsLabel, postgres, actions, states, sweptBack: sweptRow?.n ?? 0, webhooksReplayed: replayedRow?.n ?? 0, settle, checks, ok: checks.every((c) => c.ok) };
  } finally {
    monkeyOn = false;
    await monkey.catch(() => {});
    // CHAOS_LOG_DIR: every process's output kept for reading after the run (with CHAOS_LOG_LEVEL=info, the whole story).
    const logDir = process.env['CHAOS_LOG_DIR'];
    await admin?.stop();
    // A graceful stop, as a process manager asks for one; a process still running after the grace
    // period is SIGKILLed and named (a hang in shutdown is a defect, never a hung run).
    const hungOnStop: string[] = [];
    await Promise.all(procs.map(async (p) => {
      const child = p.child;
      p.child = null;
      if (child === null) return;
      const stopped = await Promise.race([child.kill('SIGTERM').then(() => true, () => true), sleep(STOP_GRACE_MS).then(() => false)]);
      if (stopped) return;
      hungOnStop.push(`${p.services.join('+') || 'all'} (pid ${child.proc.pid}): ${child.output().split('\n').filter((l) => l.trim() !== '').slice(-5).join(' | ').slice(0, 1500)}`);
      await child.kill('SIGKILL');
    }));
    if (logDir) await Promise.all(everyChild.map((c, i) => writeFile(path.join(logDir, `${prefix}-child-${i}.log`), c.output()).catch(() => {})));
    await balancer.close();
    await sandboxes?.close();
    await nc?.close().catch(() => {});
    await sql?.end({ timeout: 5 }).catch(() => {});
    await nats?.stop();
    await cluster?.stop();
    await rm(natsDir, { recursive: true, force: true }).catch(() => {});
    if (!o.keep) await db.drop();
    // Thrown from here it replaces the run's report (or its error): the hang is the finding.
    if (hungOnStop.length > 0) throw new Error(`process(es) still running ${STOP_GRACE_MS / 1000} s after SIGTERM, SIGKILLed: ${hungOnStop.join('; ')}`);
  }
}

/** Calls `f` until it resolves or `timeoutMs` passes (then throws the last error, naming `what`). */
async function retry<T>(f: () => Promise<T>, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await f();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * The shop's admin during chaos: customers give up on every other order the warehouse could not ship
 * (out of stock, bad address), and the admin cancels each one once it is held — through the admin
 * API, behind the balancer, with an Idempotency-Key, so a lost answer is asked again safely. A paid
 * order's cancel means a refund at Stripe and a correction of its document: exactly-once effects
 * under the same faults as everything else.
 */
function startAdminCancels(o: { sql: Sql; gatewayUrl: string; token: string; logger: Logger }) {
  const wanted = new Set<string>();
  const asked = new Set<string>();
  let stopped = false;
  async function pass(): Promise<number> {
    if (wanted.size === 0) return 0;
    const held = await o.sql<{ id: string }[]>`select id from orders where state = 'held' and id = any(${[...wanted]})`.catch(() => [] as { id: string }[]);
    for (const { id } of held) {
      const res = await fetch(`${o.gatewayUrl}/admin/api/orders/${encodeURIComponent(id)}/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/json', 'idempotency-key': `chaos-cancel-${id}` },
        body: JSON.stringify({ type: 'CANCEL', note: 'chaos: the customer gave up waiting' }),
        signal: AbortSignal.timeout(10_000),
      }).catch(() => null);
      if (res?.status === 202) asked.add(id);
      else if (res && res.status !== 409 && res.status < 500) o.logger.warn({ orderId: id, status: res.status, body: (await res.text()).slice(0, 300) }, 'chaos: admin cancel refused');
      else await res?.text();
    }
    return held.length;
  }
  const loop = (async () => {
    while (!stopped) {
      await sleep(1000);
      await pass();
    }
  })();
  return {
    /** Orders whose customer gives up (every other one the warehouse rejects). */
    wanted,
    /** Cancels the API took (202). */
    asked,
    /** One round now; resolves with how many wanted orders were still held. */
    pass,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

async function verify(v: { sql: Sql; sandboxes: Sandboxes; orders: readonly PlacedOrder[]; paidEvents: Map<string, string>; pending: number; kills: number; mailConcurrency: number; cancelsAsked: ReadonlySet<string>; cancelsWanted: ReadonlySet<string>; childOutput: () => string[] }): Promise<Check[]> {
  const { sql, sandboxes } = v;
  const checks: Check[] = [];
  const check = (name: string, bad: string[], total: number) =>
    checks.push({ name, ok: bad.length === 0, detail: bad.length === 0 ? `${total} checked` : `${bad.length} of ${total} wrong, e.g. ${bad.slice(0, 5).join('; ')}` });

  const rows = await sql<{ id: string; state: string; document_state: string; hold_code: string | null; paid: boolean }[]>`
    select o.id, o.state, o.document_state, o.hold_code,
           -- paid = the payment took it on (a payment after the payment timeout cancelled it does not)
           exists (select 1 from order_history h where h.order_id = o.id and h.type = 'PAYMENT_CONFIRMED' and h.outcome = 'applied'
                     and h.to_state is distinct from 'cancelled') as paid
      from orders o`;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const trouble = new Map<string, Trouble>(v.orders.map((o) => [o.orderId, o.trouble]));

  check('every order the shop placed exists', v.orders.filter((o) => !byId.has(o.orderId)).map((o) => o.orderId), v.orders.length);
  check(
    'every order is closed, cancelled or held (with a reason)',
    rows.filter((r) => !(r.state === 'closed' || r.state === 'cancelled' || (r.state === 'held' && r.hold_code))).map((r) => `${r.id} ${r.state}`),
    rows.length,
  );

  const invoicesByOid = new Map<string, number[]>();
  // Corrections (invoice_id names the corrected one) are checked with the refunds below.
  for (const inv of sandboxes.invoicing.invoices()) if (inv.oid && inv.invoice_id === null) invoicesByOid.set(inv.oid, [...(invoicesByOid.get(inv.oid) ?? []), inv.id]);
  const docs = new Map(
    (await sql<{ order_id: string; status: string; provider_id: string | null; number: string | null }[]>`select order_id, status, provider_id, number from documents`).map((d) => [d.order_id, d]),
  );
  const paid = rows.filter((r) => r.paid);
  const docBad: string[] = [];
  for (const r of paid) {
    const ids = invoicesByOid.get(r.id) ?? [];
    const d = docs.get(r.id);
    if (trouble.get(r.id) === 'badNip') {
      if (ids.length !== 0 || r.document_state !== 'failed') docBad.push(`${r.id} (bad NIP): ${ids.length} at sandbox, document ${r.document_state}`);
      continue;
    }
    if (ids.length !== 1) docBad.push(`${r.id}: ${ids.length} documents at the sandbox`);
    else if (!d || d.status !== 'issued' || d.provider_id !== String(ids[0])) docBad.push(`${r.id}: order has ${d ? `${d.status} ${d.provider_id}` : 'no document'}, sandbox ${ids[0]}`);
    // A cancel ends the order's document region: an e-mail sent after it is not recorded on the order
    // (the mail check below still counts it), so a cancelled order's document may stay `issued`.
    else if (r.document_state !== 'emailed' && !(r.state === 'cancelled' && r.document_state === 'issued')) docBad.push(`${r.id}: document ${r.document_state}, not emailed`);
  }
  for (const oid of invoicesByOid.keys()) if (!byId.get(oid)?.paid) docBad.push(`${oid}: sandbox document for an unpaid order`);
  check('exactly one document per paid order, at the sandbox and on the order', docBad, paid.length);
  // What a wrong order saw, so a run that failed once says where its document went.
  const docBadIds = [...new Set(docBad.map((b) => b.split(/[ :]/)[0] ?? ''))].filter((id) => byId.has(id)).slice(0, 3);
  const lastCheck = checks[checks.length - 1];
  if (lastCheck && !lastCheck.ok) {
    for (const id of docBadIds) lastCheck.detail += `\n${await traceOrder(sql, id, v.childOutput).catch((err: unknown) => `    trace of ${id} failed: ${err instanceof Error ? err.message : String(err)}`)}`;
  }

  // The document's Message-ID is fixed (one per document), so a second mail for a document is a resend.
  // SMTP has no idempotency: a sender SIGKILLed after the server took the mail but before it recorded
  // "sent" resends after its claim expires. That window is the only allowed source of a resend, so
  // resends may not exceed the mails a killed process can have had in flight.
  const mails = new Map<string, number>();
  const docMessageIds = new Map<string, Set<string>>();
  for (const m of sandboxes.smtp.mails) {
    const id = m.headers['message-id'] ?? '';
    if (!id.includes('document-')) continue;
    mails.set(id, (mails.get(id) ?? 0) + 1);
    const key = `${m.to.join(',')}|${m.subject}`;
    docMessageIds.set(key, (docMessageIds.get(key) ?? new Set()).add(id));
  }
  const delivered = await sql<{ message_id: string }[]>`select message_id from mail_deliveries where status = 'sent'`;
  const mailBad = [...docMessageIds.entries()].filter(([, ids]) => ids.size > 1).map(([k, ids]) => `${k}: ${ids.size} different e-mails`);
  for (const d of delivered) if (!mails.has(d.message_id)) mailBad.push(`${d.message_id} marked sent but never received`);
  const resends = [...mails.values()].reduce((a, n) => a + n - 1, 0);
  const allowed = v.kills * v.mailConcurrency;
  if (resends > allowed) mailBad.push(`${resends} resends, more than ${v.kills} kills × ${v.mailConcurrency} mails in flight could cause`);
  check('one customer e-mail per document (same Message-ID), every sent one arrived', mailBad, delivered.length);
  const perThousand = rows.length === 0 ? 0 : (resends * 1000) / rows.length;
  checks.push({
    name: 'resends only from killed senders',
    ok: resends <= allowed,
    detail: `${resends} resent (same Message-ID) after ${v.kills} SIGKILLs: ${perThousand.toFixed(1)} duplicate e-mails per 1,000 orders`,
  });

  const shipBad: string[] = [];
  for (const r of rows) {
    const created = sandboxes.warehouse.created.get(r.id) ?? 0;
    const t = trouble.get(r.id);
    const rejected = t === 'outOfStock' || t === 'badAddress';
    if (created > 1) shipBad.push(`${r.id}: ${created} shipments`);
    else if (r.paid && !rejected && created !== 1) shipBad.push(`${r.id}: ${created} shipments (${r.state})`);
    else if (rejected && created !== 0) shipBad.push(`${r.id}: rejected, yet ${created} shipments`);
  }
  check('one shipment per order at the warehouse', shipBad, rows.length);

  // An admin's cancel of a paid order: one refund of its whole total at Stripe, whatever the kills and
  // dropped answers; no refund for any other order (a late payment is an admin's to undo by hand).
  const totals = new Map(v.orders.map((o) => [o.orderId, o.total]));
  const refundsByOrder = new Map<string, number[]>();
  for (const r of sandboxes.stripe.refunds()) {
    const orderId = r.metadata['order_id'] ?? `(no order id, ${r.payment_intent})`;
    refundsByOrder.set(orderId, [...(refundsByOrder.get(orderId) ?? []), r.amount]);
  }
  const refundBad: string[] = [];
  // Cancelled by the admin = its CANCEL applied (the API may have taken one whose answer was lost).
  const adminCancelled = new Set((await sql<{ order_id: string }[]>`select distinct order_id from order_history where type = 'CANCEL' and outcome = 'applied'`).map((r) => r.order_id));
  const cancelBad = [...adminCancelled].filter((id) => !v.cancelsWanted.has(id));
  const refundable = rows.filter((r) => r.paid && r.state === 'cancelled' && adminCancelled.has(r.id));
  for (const r of refundable) {
    const made = refundsByOrder.get(r.id) ?? [];
    if (made.length !== 1 || made[0] !== totals.get(r.id)) refundBad.push(`${r.id}: refunds ${JSON.stringify(made)} at Stripe for a total of ${totals.get(r.id)}`);
  }
  const refundableIds = new Set(refundable.map((r) => r.id));
  for (const [orderId, made] of refundsByOrder) if (!refundableIds.has(orderId)) refundBad.push(`${orderId}: refunds ${JSON.stringify(made)} at Stripe, yet not an admin-cancelled paid order`);
  check('one refund per cancelled paid order at Stripe, none for any other', refundBad, refundable.length);

  // A correction per corrected document at most, and the sandbox and our documents agree.
  const oidOfInvoice = new Map(sandboxes.invoicing.invoices().map((i) => [i.id, i.oid]));
  const correctionsByOrder = new Map<string, number>();
  for (const inv of sandboxes.invoicing.invoices()) {
    if (inv.invoice_id === null) continue;
    const orderId = oidOfInvoice.get(inv.invoice_id) ?? `(correction of unknown invoice ${inv.invoice_id})`;
    correctionsByOrder.set(orderId ?? '?', (correctionsByOrder.get(orderId ?? '?') ?? 0) + 1);
  }
  const ourCorrections = new Map(
    (await sql<{ order_id: string; n: number }[]>`select parent_order_id as order_id, count(*)::int as n from documents where kind = 'correction' and status = 'issued' group by 1`).map((r) => [r.order_id, r.n]),
  );
  const correctionBad: string[] = [];
  for (const id of new Set([...correctionsByOrder.keys(), ...ourCorrections.keys()])) {
    const atSandbox = correctionsByOrder.get(id) ?? 0;
    if (atSandbox > 1 || atSandbox !== (ourCorrections.get(id) ?? 0) || !refundableIds.has(id)) correctionBad.push(`${id}: ${atSandbox} corrections at the sandbox, ${ourCorrections.get(id) ?? 0} issued on our side${refundableIds.has(id) ? '' : ', not an admin-cancelled paid order'}`);
  }
  check('at most one correction per cancelled order, the same at the sandbox and on our side', correctionBad, correctionsByOrder.size);
  const stillHeld = rows.filter((r) => v.cancelsWanted.has(r.id) && r.state === 'held').map((r) => `${r.id} held ${r.hold_code ?? ''}`);
  const adminBad = [...stillHeld, ...cancelBad.map((id) => `${id} cancelled by an admin, yet its customer never gave up`)];
  checks.push({
    name: 'every order the customer gave up on was cancelled by the admin, and no other',
    ok: adminBad.length === 0,
    detail: adminBad.length === 0 ? `${v.cancelsWanted.size} given up on, ${adminCancelled.size} cancels applied (${v.cancelsAsked.size} answered 202), ${refundable.length} refunded, ${correctionsByOrder.size} corrections` : adminBad.slice(0, 5).join('; '),
  });

  const inbox = new Set((await sql<{ dedupe_key: string }[]>`select dedupe_key from webhook_inbox`).map((r) => r.dedupe_key));
  const hookBad: string[] = [];
  for (const w of sandboxes.warehouse.webhooks) {
    if (!w.delivered) hookBad.push(`warehouse ${w.eventId} never delivered (HTTP ${w.httpStatus ?? 'none'}, ${w.attempts} attempts)`);
    else if (!inbox.has(`warehouse:${w.eventId}`)) hookBad.push(`warehouse ${w.eventId} accepted but not in the inbox`);
  }
  for (const [orderId, eventId] of v.paidEvents) if (!inbox.has(`stripe:${eventId}`)) hookBad.push(`stripe ${eventId} (${orderId}) not in the inbox`);
  check('every webhook the sandboxes sent is in the inbox', hookBad, sandboxes.warehouse.webhooks.length + v.paidEvents.size);

  // A dead letter replayed by the system itself (an event that came before its order, replayed
  // once the order existed) is a recovery; one left unreplayed is a loss.
  const [o] = await sql<{ unsent: number; dead: number; replayed: number }[]>`
    select (select count(*)::int from outbox where sent_at is null) as unsent,
           (select count(*)::int from dead_letters where replayed_at is null) as dead,
           (select count(*)::int from dead_letters where replayed_at is not null) as replayed`;
  checks.push({ name: 'no outbox row unsent', ok: o?.unsent === 0, detail: `${o?.unsent ?? '?'} unsent` });
  checks.push({ name: 'no message stuck un-acked or pending', ok: v.pending === 0, detail: `${v.pending} pending or un-acked across all consumers` });
  const dead = await sql<{ consumer: string; error_code: string; error_message: string; deliveries: number }[]>`
    select consumer, error_code, left(error_message, 160) as error_message, deliveries from dead_letters where replayed_at is null order by id limit 5`;
  checks.push({ name: 'no dead letter left unreplayed', ok: o?.dead === 0, detail: `${o?.dead ?? '?'} dead-lettered and not replayed (${o?.replayed ?? '?'} replayed by the system once their order existed)${dead.map((d) => `; ${d.consumer} ${d.error_code} after ${d.deliveries}: ${d.error_message}`).join('')}` });
  return checks;
}

/**
 * One order's trail for a failed check: its state and document, every event offered to it (applied or
 * ignored), every command it sent (and whether the relay sent it), the invoicing service's record, dead
 * letters, pending retries, notifications, and what the processes logged about it.
 */
async function traceOrder(sql: Sql, orderId: string, childOutput: () => string[]): Promise<string> {
  const lines: string[] = [`    trace of ${orderId}:`];
  const [o] = await sql<{ state: string; document_state: string; hold_code: string | null; updated_at: Date; ctx: unknown }[]>`
    select state, document_state, hold_code, updated_at, (snapshot->'context') - 'order' as ctx from orders where id = ${orderId}`;
  lines.push(`      order: ${o ? `${o.state} document ${o.document_state} hold ${o.hold_code ?? '-'} updated ${o.updated_at.toISOString()} context ${JSON.stringify(o.ctx).slice(0, 800)}` : 'none'}`);
  for (const h of await sql<{ at: Date; type: string; outcome: string; from_state: string | null; to_state: string | null; from_doc: string | null; to_doc: string | null; message_id: string; actor: string | null }[]>`
    select at, type, outcome, from_state, to_state, from_value->'processing'->>'document' as from_doc, to_value->'processing'->>'document' as to_doc, message_id, actor
      from order_history where order_id = ${orderId} order by id`) {
    lines.push(`      event ${h.at.toISOString()} ${h.type} ${h.outcome} ${h.from_state ?? '-'}→${h.to_state ?? '-'} document ${h.from_doc ?? '-'}→${h.to_doc ?? '-'} (${h.message_id}, ${h.actor ?? '-'})`);
  }
  for (const r of await sql<{ created_at: Date; sent_at: Date | null; id: string; subject: string; type: string }[]>`
    select created_at, sent_at, id, subject, envelope->>'type' as type from outbox where order_id = ${orderId} order by seq`) {
    lines.push(`      outbox ${r.created_at.toISOString()} ${r.type} ${r.subject} ${r.id} sent ${r.sent_at?.toISOString() ?? 'never'}`);
  }
  for (const d of await sql<{ status: string; error_code: string | null; error_message: string | null; provider_id: string | null }[]>`select status, error_code, error_message, provider_id from documents where order_id = ${orderId}`) {
    lines.push(`      documents: ${d.status} ${d.provider_id ?? ''} ${d.error_code ?? ''} ${(d.error_message ?? '').slice(0, 200)}`);
  }
  for (const d of await sql<{ consumer: string; message_id: string | null; error_code: string; deliveries: number; replayed_at: Date | null }[]>`select consumer, message_id, error_code, deliveries, replayed_at from dead_letters where order_id = ${orderId} order by id`) {
    lines.push(`      dead letter ${d.consumer} ${d.message_id ?? ''} ${d.error_code} after ${d.deliveries}${d.replayed_at ? ' (replayed)' : ''}`);
  }
  for (const r of await sql<{ consumer: string; message_id: string; type: string | null; attempt: number; last_error: string }[]>`select consumer, message_id, type, attempt, last_error from pending_retries where order_id = ${orderId}`) {
    lines.push(`      pending retry ${r.consumer} ${r.type ?? ''} ${r.message_id} attempt ${r.attempt}: ${r.last_error.slice(0, 200)}`);
  }
  for (const n of await sql<{ code: string; severity: string; message: string }[]>`select code, severity, message from notifications where order_id = ${orderId} order by id`) {
    lines.push(`      notification ${n.severity} ${n.code}: ${n.message.slice(0, 200)}`);
  }
  const said = childOutput().filter((l) => l.includes(orderId)).slice(-40);
  for (const l of said) lines.push(`      log ${l.slice(0, 500)}`);
  return lines.join('\n');
}

export function formatReport(r: ChaosReport): string {
  const lines = [
    `chaos: ${r.orders} orders on ${r.nats} in ${r.seconds.toFixed(1)} s (${r.ordersPerSecond.toFixed(1)} orders/s from the first order to all settled; Postgres ${r.postgres.commitsPerSecond.toFixed(0)} commits/s, ${r.postgres.commitsPerOrder.toFixed(1)} per order); faults ${JSON.stringify(r.actions)}; states ${JSON.stringify(r.states)}; put back by the work-queue sweeper: ${r.sweptBack}; webhooks replayed by the recheck: ${r.webhooksReplayed}; ${r.settle}`,
    ...r.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`),
    r.ok ? 'chaos: nothing lost, nothing done twice' : 'chaos: FAILED',
  ];
  return lines.join('\n');
}
