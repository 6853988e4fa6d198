import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { StateValue } from 'xstate';
import type { Sql } from '../../infra/db/postgres.ts';
import { createLogger } from '../../infra/logger.ts';
import { ensureLocalServices } from '../../infra/runtime/local-services.ts';
import { makeEnvelope, type Envelope } from '../../services/contracts/index.ts';
import { loadForEvent, writeOrderEvent } from '../../services/orders/order-store.ts';
import { createWorld, type World } from '../support/world.ts';

export type BenchEnv = World;

/**
 * A throw-away database and NATS prefix on the configured (or local, or embedded) servers, so a
 * benchmark never touches real data and can run beside tests.
 */
export async function createBenchEnv(overrides: Record<string, string> = {}): Promise<BenchEnv> {
  const local = await ensureLocalServices({
    databaseUrl: process.env['DATABASE_URL'] || undefined,
    natsUrl: process.env['NATS_URL'] || undefined,
    dataDir: path.join(os.tmpdir(), 'orderpilot-bench'),
    logger: createLogger({ level: 'warn', name: 'bench' }),
  });
  const world = await createWorld({
    baseDatabaseUrl: local.databaseUrl,
    natsUrl: local.natsUrl,
    kind: 'bench',
    poolMax: 20,
    env: {
      LOG_LEVEL: 'warn',
      // Tuning knobs pass through, so a bench can be run with other partition counts etc.
      ...Object.fromEntries(
        ['ORDER_PARTITIONS', 'ACK_WAIT_MS', 'OUTBOX_POLL_MS', 'DATABASE_POOL_MAX', 'INVOICING_CONCURRENCY', 'MAIL_CONCURRENCY', 'LOGISTICS_CONCURRENCY', 'BULK_YIELD_LAG_MS'].flatMap((k) => (process.env[k] ? [[k, process.env[k] as string]] : [])),
      ),
      ...overrides,
    },
  });
  return {
    ...world,
    async cleanup() {
      await world.cleanup();
      await local.stop();
    },
  };
}

/** The statuses the short warehouse walk reports: the two that move the order, as the peer's warehouse sends by default. */
export const SHORT_WALK = ['HANDED_TO_CARRIER', 'DELIVERED'] as const;

/**
 * BENCH_WALK: `full` (default) — the sandbox warehouse sends a webhook for each of a shipment's six
 * statuses; `short` — only for HANDED_TO_CARRIER and DELIVERED (the statuses that move the order).
 */
export function benchWalk(): 'full' | 'short' {
  const w = process.env['BENCH_WALK'] ?? 'full';
  if (w !== 'full' && w !== 'short') throw new Error(`BENCH_WALK must be full or short, not ${JSON.stringify(w)}`);
  return w;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

type StoredSnapshot = { value: StateValue; context: unknown };

/**
 * The bare Postgres ceiling both benches compare with: copies of a real order row, then `total`
 * events' worth of the host's own statements (services/orders/order-store.ts: read row + inbox
 * check, one write of snapshot + history + outbox + inbox) at `concurrency` — no NATS, no XState,
 * no validation. `once` may replace the statements (e.g. a textbook multi-statement transaction).
 * Returns the seconds it took.
 */
export async function runBareCeiling(
  sql: Sql,
  opts: { total: number; concurrency: number; sample: StoredSnapshot; once?: (id: string, env: Envelope) => Promise<void> },
): Promise<number> {
  const { sample, concurrency, total } = opts;
  const rowsPerWorker = 20;
  const ids = Array.from({ length: concurrency * rowsPerWorker }, () => `bare_${randomUUID()}`);
  await sql`insert into orders ${sql(
    ids.map((id) => ({ id, external_id: id, state: 'processing', state_value: sql.json(sample.value as never), snapshot: sql.json(sample as never), machine_version: 'bench', version: 1, customer_email: 'x@example.com' })),
  )}`;
  const hostStatements = async (id: string, env: Envelope): Promise<void> => {
    const { order } = await loadForEvent(sql, 'bare', env.id, id);
    await writeOrderEvent(sql, {
      consumer: 'bare',
      orderId: id,
      history: { messageId: env.id, type: env.type, source: 'bare', outcome: 'applied', fromState: 'pending', toState: 'processing', fromValue: sample.value, toValue: sample.value, payload: env.payload, actor: null, note: null, occurredAt: env.occurredAt },
      effects: { outbox: [{ subject: 'bare', envelope: env }], timers: [], cancelTimers: [] },
      row: { kind: 'update', expectedVersion: order?.version ?? 0, state: { state: 'processing', documentState: 'requested', stateValue: sample.value, snapshot: sample, status: 'active', contextPatch: null, machineVersion: 'bench', holdCode: null } },
    });
  };
  const once = opts.once ?? hostStatements;
  let issued = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      // Each worker owns its rows, as a partition owns its orders.
      for (let i = 0; issued < total; i++) {
        issued++;
        const id = ids[worker * rowsPerWorker + (i % rowsPerWorker)] as string;
        await once(id, makeEnvelope({ type: 'PAYMENT_CONFIRMED', orderId: id, payload: { amount: 1 } }));
      }
    }),
  );
  return (performance.now() - t0) / 1000;
}
