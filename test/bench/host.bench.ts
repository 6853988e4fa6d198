/**
 * `npm run bench:host` — order events through the real host (Postgres + NATS) vs the bare write
 * transaction issued directly with postgres.js at the same concurrency.
 *   phase 1: BENCH_ORDERS (default 2000) orders × 5 events wait in the stream, the host drains them;
 *   phase 2: BENCH_LATENCY_ORDERS (300) orders × 5 events published at BENCH_LATENCY_RATE (250) events/s,
 *            publish → committed latency;
 *   phase 3: the bare statements at the same concurrency.
 */
import os from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { makeEnvelope } from '../../services/contracts/index.ts';
import { publishEnvelope } from '../../infra/nats/publish.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import type { StateValue } from 'xstate';
import { sampleOrder } from '../support/orders.ts';
import { createBenchEnv, peakRssMiB, percentile, runBareCeiling } from './bench-env.ts';

const ORDERS = Number(process.env['BENCH_ORDERS'] ?? 2000);
const LATENCY_ORDERS = Number(process.env['BENCH_LATENCY_ORDERS'] ?? 300);
/** Events per second during the latency phase. */
const LATENCY_RATE = Number(process.env['BENCH_LATENCY_RATE'] ?? 250);
const SEQUENCE = ['ORDER_PLACED', 'PAYMENT_FAILED', 'PAYMENT_CONFIRMED', 'SHIPMENT_ACCEPTED', 'HANDED_TO_CARRIER'] as const;

type SampleOrder = ReturnType<typeof sampleOrder>;

const payload = (o: SampleOrder, type: (typeof SEQUENCE)[number]): unknown =>
  ({
    ORDER_PLACED: { order: o },
    PAYMENT_FAILED: { provider: 'payu', reason: 'declined' },
    PAYMENT_CONFIRMED: { provider: 'payu', paymentId: `p-${o.orderId}`, amount: o.total, currency: o.currency },
    SHIPMENT_ACCEPTED: { shipmentId: `sh-${o.orderId}` },
    HANDED_TO_CARRIER: { trackingNumber: `T-${o.orderId}`, carrier: 'DPD' },
  })[type];

async function main(): Promise<void> {
  const b = await createBenchEnv();
  const partitions = b.config.orderPartitions;
  const published = new Map<string, number>();
  const latencies: number[] = [];
  let committed = 0;
  let target = 0;
  let lastCommit = 0;
  let resolveDone: () => void = () => {};
  const onTransition = (r: { event: { id: string } }) => {
    const t0 = published.get(r.event.id);
    if (t0 !== undefined) latencies.push(performance.now() - t0);
    committed++;
    lastCommit = performance.now();
    if (committed === target) resolveDone();
  };
  const publishOrder = async (o: SampleOrder, record: boolean) => {
    for (const type of SEQUENCE) {
      const env = makeEnvelope({ type, orderId: o.orderId, payload: payload(o, type) });
      if (record) published.set(env.id, performance.now());
      await publishEnvelope(b.nc, b.names.subjects.orderEvent(o.orderId), env);
    }
  };

  // Phase 1, throughput: the events wait in the stream (each order's in publish order), then the
  // host drains them; the publisher does not share the host's CPU during the measurement.
  const orders = Array.from({ length: ORDERS }, () => sampleOrder());
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < orders.length) await publishOrder(orders[next++] as SampleOrder, false);
    }),
  );
  const total = ORDERS * SEQUENCE.length;
  target = total;
  let done = new Promise<void>((r) => (resolveDone = r));
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const svc = await startOrdersService(b, { onTransition });
  await done;
  const hostSeconds = (lastCommit - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const hostRate = total / hostSeconds;

  // Phase 2, latency: publish → committed at a steady rate the host can follow.
  const latencyOrders = Array.from({ length: LATENCY_ORDERS }, () => sampleOrder());
  target = committed + latencyOrders.length * SEQUENCE.length;
  done = new Promise<void>((r) => (resolveDone = r));
  const gapMs = (1000 * SEQUENCE.length) / LATENCY_RATE;
  const latencyStart = performance.now();
  await Promise.all(
    latencyOrders.map(async (o, i) => {
      await new Promise((r) => setTimeout(r, latencyStart + i * gapMs - performance.now()));
      await publishOrder(o, true);
    }),
  );
  await done;
  await svc.stop();
  latencies.sort((a, c) => a - c);

  // Bare ceilings at the same concurrency (one in flight per partition), without NATS, XState or
  // validation, on copies of a real order row:
  //  1. the host's own statements (services/orders/order-store.ts: read row + inbox check, then one
  //     write of snapshot + history + outbox + inbox) — the strict comparison;
  //  2. the textbook transaction the issue names: BEGIN; read row; update snapshot; insert history;
  //     insert outbox; insert inbox; COMMIT, one statement after another.
  const [sample] = await b.sql<{ snapshot: { value: StateValue; context: unknown } }[]>`select snapshot from orders limit 1`;
  if (!sample) throw new Error('no order to copy');
  const sameStatementsRate = total / (await runBareCeiling(b.sql, { total, concurrency: partitions, sample: sample.snapshot }));
  const textbookRate =
    total /
    (await runBareCeiling(b.sql, {
      total,
      concurrency: partitions,
      sample: sample.snapshot,
      once: (id, env) =>
        b.sql.begin(async (tx) => {
          const [row] = await tx<{ version: number }[]>`select snapshot, version from orders where id = ${id}`;
          await tx`update orders set snapshot = ${tx.json(sample.snapshot as never)}, state_value = ${tx.json(sample.snapshot.value as never)}, version = version + 1, updated_at = now() where id = ${id} and version = ${row?.version ?? 0}`;
          await tx`insert into order_history (order_id, message_id, type, source, outcome, from_state, to_state, from_value, to_value, payload, occurred_at)
            values (${id}, ${env.id}, ${env.type}, 'bare', 'applied', 'pending', 'processing', ${tx.json(sample.snapshot.value as never)}, ${tx.json(sample.snapshot.value as never)}, ${tx.json(env.payload as never)}, ${env.occurredAt})`;
          await tx`insert into outbox (id, order_id, subject, envelope) values (${`${env.id}:tb`}, ${id}, 'bare', ${tx.json(env as never)})`;
          await tx`insert into processed_messages (consumer, message_id) values ('bare-tb', ${env.id})`;
        }),
    }));

  const result = {
    mode: 'host',
    orders: ORDERS,
    transitions: total,
    partitions,
    hostTransitionsPerSec: Math.round(hostRate),
    publishToCommitMs: { rate: LATENCY_RATE, p50: +percentile(latencies, 50).toFixed(1), p99: +percentile(latencies, 99).toFixed(1) },
    bareSameStatementsPerSec: Math.round(sameStatementsRate),
    ratioToSameStatements: +(hostRate / sameStatementsRate).toFixed(2),
    bareTextbookTransactionsPerSec: Math.round(textbookRate),
    ratioToTextbookTransaction: +(hostRate / textbookRate).toFixed(2),
    loadAverage: os.loadavg().map((l) => +l.toFixed(2)),
    cpuSecondsPerTransition: +((cpu.user + cpu.system) / 1e6 / total).toFixed(5),
    peakRssMiB: peakRssMiB(),
    at: new Date().toISOString(),
  };
  await mkdir('bench-results', { recursive: true });
  await writeFile(`bench-results/host-${Date.now()}.json`, JSON.stringify(result, null, 2));
  process.stdout.write(
    [
      `host: ${result.hostTransitionsPerSec} transitions/s (${total} events, ${partitions} partitions)`,
      `publish→commit latency at ${LATENCY_RATE} events/s: p50 ${result.publishToCommitMs.p50} ms, p99 ${result.publishToCommitMs.p99} ms`,
      `bare, the host's own statements at concurrency ${partitions}: ${result.bareSameStatementsPerSec}/s → ratio ${result.ratioToSameStatements}`,
      `bare, textbook 5-statement transaction at concurrency ${partitions}: ${result.bareTextbookTransactionsPerSec}/s → ratio ${result.ratioToTextbookTransaction}`,
      `peak RSS: ${result.peakRssMiB} MiB   CPU: ${result.cpuSecondsPerTransition} s/transition   load average: ${result.loadAverage.join(' ')}`,
      '',
    ].join('\n'),
  );
  await b.cleanup();
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
