/**
 * `npm run bench:gateway` — signed Stripe webhooks over loopback into a gateway running in its own
 * process (`orderpilot run gateway`), with autocannon at increasing concurrency: requests/s and p99,
 * then an evenly paced 500 req/s run for p99, and — in the same run, same server — `/healthz` requests/s as
 * the ceiling; the 500/s step is paced evenly by this script (open loop). Every webhook has a fresh event id for a known order, so each one is verified, stored
 * in webhook_inbox and published as PAYMENT_CONFIRMED (checked at the end).
 *   BENCH_SECONDS (default 10) per step; BENCH_CONCURRENCY (default 10,50,100,200).
 *   Also `npm run bench -- --gateway`. Results: bench-results/gateway-<time>.json and a table.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import autocannon, { type Result } from 'autocannon';
import Stripe from 'stripe';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort } from '../../infra/runtime/local-services.ts';
import { createBenchEnv, percentile } from './bench-env.ts';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const LEVELS = (process.env['BENCH_CONCURRENCY'] ?? '10,50,100,200').split(',').map(Number);
const SECRET = 'whsec_bench_0123456789abcdef';
const ORDERS = 5000;

interface Row {
  step: string;
  connections: number;
  reqPerSec: number;
  p50ms: number;
  p99ms: number;
  ok: number;
  non2xx: number;
  errors: number;
}

async function main(): Promise<void> {
  const port = await freePort();
  const b = await createBenchEnv({ STRIPE_WEBHOOK_SECRET: SECRET, PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;

  // Known orders (as POST /orders would have recorded them).
  const orderIds = Array.from({ length: ORDERS }, () => `ord_${randomUUID()}`);
  for (let i = 0; i < orderIds.length; i += 500) {
    const rows = orderIds.slice(i, i + 500).map((id) => ({
      external_id: `BENCH-${id.slice(4, 16)}`,
      order_id: id,
      body_hash: 'bench',
      total: 6500,
      currency: 'PLN',
      order_data: b.sql.json({}),
      published_at: new Date(),
    }));
    await b.sql`insert into order_intake ${b.sql(rows)}`;
  }

  // BENCH_PROFILE=1 writes a CPU profile of the gateway process to .data/bench/prof.
  const profile = process.env['BENCH_PROFILE'] ? ['--cpu-prof', '--cpu-prof-dir', path.resolve('.data/bench/prof')] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', path.resolve('infra/cli/main.ts'), 'run', 'gateway'], {
    env: { ...process.env, ...b.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok).catch(() => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  let n = 0;
  const webhook = () => {
    const orderId = orderIds[n++ % orderIds.length] as string;
    const payload = JSON.stringify({
      id: `evt_${randomUUID().replace(/-/g, '')}`,
      object: 'event',
      type: 'checkout.session.completed',
      data: { object: { id: `cs_${n}`, object: 'checkout.session', payment_status: 'paid', amount_total: 6500, currency: 'pln', payment_intent: `pi_${n}`, metadata: { order_id: orderId } } },
    });
    return {
      method: 'POST',
      path: '/webhooks/payments/stripe',
      headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }) },
      body: payload,
    };
  };
  const run = async (step: string, connections: number, extra: Partial<Parameters<typeof autocannon>[0]> = {}): Promise<Row> => {
    const r: Result = await autocannon({ url, connections, duration: SECONDS, timeout: 10, ...extra });
    const row: Row = {
      step,
      connections,
      reqPerSec: Math.round(r.requests.average),
      p50ms: r.latency.p50,
      p99ms: r.latency.p99,
      ok: r['2xx'],
      non2xx: r.non2xx,
      errors: r.errors + r.timeouts,
    };
    console.log(JSON.stringify(row));
    return row;
  };

  /**
   * An evenly paced open-loop run (autocannon's rate limit sends each second's quota in one burst):
   * one request every 1000/rate ms, latency measured from the scheduled send time.
   */
  const paced = async (step: string, rate: number): Promise<Row> => {
    const latencies: number[] = [];
    let ok = 0;
    let non2xx = 0;
    let errors = 0;
    const inFlight: Promise<void>[] = [];
    const start = performance.now();
    let sent = 0;
    while (performance.now() - start < SECONDS * 1000) {
      const due = Math.floor(((performance.now() - start) * rate) / 1000);
      while (sent < due) {
        const scheduled = start + (sent * 1000) / rate;
        sent++;
        const req = webhook();
        inFlight.push(
          fetch(`${url}${req.path}`, { method: 'POST', headers: req.headers, body: req.body })
            .then(async (res) => {
              await res.arrayBuffer();
              latencies.push(performance.now() - scheduled);
              if (res.ok) ok++;
              else non2xx++;
            })
            .catch(() => {
              errors++;
            }),
        );
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(inFlight);
    latencies.sort((a, b) => a - b);
    const row: Row = {
      step,
      connections: 0,
      reqPerSec: Math.round(sent / SECONDS),
      p50ms: Math.round(percentile(latencies, 50) * 10) / 10,
      p99ms: Math.round(percentile(latencies, 99) * 10) / 10,
      ok,
      non2xx,
      errors,
    };
    console.log(JSON.stringify(row));
    return row;
  };

  const rows: Row[] = [];
  // Warm-up (JIT, pools), not reported.
  await autocannon({ url, connections: 20, duration: 3, requests: [{ setupRequest: webhook }] });
  for (const c of LEVELS) rows.push(await run('stripe-webhook', c, { requests: [{ setupRequest: webhook }] }));
  rows.push(await paced('stripe-webhook paced 500/s', 500));
  const max = Math.max(...LEVELS);
  rows.push(await run('healthz (ceiling)', max, { requests: [{ method: 'GET', path: '/healthz' }] }));

  // Graceful stop first (it writes the pending "published" marks), then check: every 2xx webhook
  // must be stored and published once.
  child.kill('SIGTERM');
  await exited;
  const [stored] = await b.sql<{ n: string }[]>`select count(*)::text as n from webhook_inbox where verdict = 'accepted' and published_at is not null`;
  const jsm = await jetstreamManager(b.nc);
  const info = await jsm.streams.info(b.names.streams.orderEvents);
  const okWebhooks = rows.filter((r) => r.step.startsWith('stripe')).reduce((s, r) => s + r.ok, 0);
  const summary = { storedAccepted: Number(stored?.n ?? 0), publishedEvents: info.state.messages, okResponsesMeasured: okWebhooks };
  console.log(JSON.stringify(summary));
  await b.cleanup();

  const out = path.resolve('bench-results');
  await mkdir(out, { recursive: true });
  const report = { at: new Date().toISOString(), seconds: SECONDS, cpus: (await import('node:os')).cpus().length, rows, summary };
  await writeFile(path.join(out, `gateway-${report.at.replace(/[:.]/g, '-')}.json`), JSON.stringify(report, null, 2));
  console.table(rows);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
