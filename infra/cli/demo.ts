import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, parseAdminTokens, type Config } from '../config.ts';
import { createSql } from '../db/postgres.ts';
import type { Logger } from '../logger.ts';
import { ensureLocalServices } from '../runtime/local-services.ts';
import { startRuntime, type Runtime } from '../runtime/process.ts';
import { startDemoShop, type DemoShop } from '../demo/demo-shop.ts';
import { startMailbox, type Mailbox } from '../demo/mailbox.server.ts';
import { startSandboxes, type Sandboxes } from '../demo/sandboxes.ts';
import { createSandboxStateStore } from '../demo/sandbox-state.store.ts';
import { SERVICES } from './services.ts';

/**
 * Ctrl-C in a terminal signals the whole foreground process group: embedded Postgres and nats-server
 * would shut down at once, under the services that are still finishing their work. So the demo runs
 * in a child with its own process group (and its servers with it), and this process only forwards
 * the signal to it and exits with its code: the child stops the shop, the services, then the servers.
 */
function superviseDemo(): Promise<void> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    stdio: 'inherit',
    env: { ...process.env, ORDERPILOT_DEMO_CHILD: '1' },
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig === 'SIGHUP' ? 'SIGTERM' : sig);
    });
  }
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      process.exitCode = code ?? (signal ? 1 : 0);
      resolve();
    });
  });
}

/** Secrets the demo generates once and keeps in its data dir, so the next start continues with them. */
interface DemoSecrets {
  adminToken: string;
  /** The demo shop's intake key (SHOP_KEYS); added by later versions, so filled in when missing. */
  shopKey: string;
  stripeSecret: string;
  invoicingToken: string;
  warehouseApiKey: string;
  warehouseWebhookSecret: string;
}

async function loadSecrets(dataDir: string): Promise<DemoSecrets> {
  const file = path.resolve(dataDir, 'demo-secrets.json');
  const hex = (n: number) => randomBytes(n).toString('hex');
  try {
    const kept = JSON.parse(await readFile(file, 'utf8')) as Partial<DemoSecrets>;
    if (typeof kept.shopKey === 'string') return kept as DemoSecrets;
    const upgraded = { ...kept, shopKey: `shop_${hex(20)}` } as DemoSecrets;
    await writeFile(file, `${JSON.stringify(upgraded, null, 2)}\n`, { mode: 0o600 });
    return upgraded;
  } catch {
    const secrets: DemoSecrets = {
      adminToken: hex(16),
      shopKey: `shop_${hex(20)}`,
      stripeSecret: `whsec_demo_${hex(16)}`,
      invoicingToken: `sandbox_${hex(12)}`,
      warehouseApiKey: `wh_${hex(12)}`,
      warehouseWebhookSecret: `whs_${hex(16)}`,
    };
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
    return secrets;
  }
}

function demoNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${name}: expected a number ${min}..${max}, got "${raw}"`);
  return n;
}

/**
 * `npm start`: the whole system in one process. Postgres and NATS are reused when they answer (else
 * embedded Postgres and nats-server from the PATH, data under ORDERPILOT_DATA_DIR); the sandbox
 * invoicing system, warehouse and SMTP sink stand in for the real providers (their state is kept in
 * the `sandbox` schema, so a restart loses nothing); every service runs; a demo shop places and pays
 * orders. Ctrl-C stops the shop (orders in flight are finished), the services (in-flight messages
 * finish and are acked), the sandboxes and the local servers, in that order.
 *
 * Demo knobs (environment): DEMO_RATE orders/s (default 1; 0 = no shop), DEMO_WAREHOUSE_STEP_MS
 * (default 2000), DEMO_MAILBOX_PORT (default 3025; 0 = ephemeral).
 */
export async function runDemo(opts: { config: Config; logger: Logger }): Promise<void> {
  if (process.env['ORDERPILOT_DEMO_CHILD'] !== '1') return superviseDemo();
  const { logger } = opts;
  const env = process.env;
  // Supervised (see superviseDemo): when the supervisor is gone, stop as if Ctrl-C was pressed.
  const parent = process.ppid;
  const orphanWatch = setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
  }, 1000);
  orphanWatch.unref();
  const rate = demoNumber(env, 'DEMO_RATE', 1, 0, 1000);
  const stepMs = demoNumber(env, 'DEMO_WAREHOUSE_STEP_MS', 2000, 0, 600_000);
  const mailboxPort = demoNumber(env, 'DEMO_MAILBOX_PORT', 3025, 0, 65535);

  const local = await ensureLocalServices({ databaseUrl: opts.config.databaseUrl, natsUrl: opts.config.natsUrl, dataDir: opts.config.dataDir, logger });
  const secrets = await loadSecrets(opts.config.dataDir);
  const stateSql = createSql(local.databaseUrl, { max: 4, name: 'orderpilot-demo-sandbox' });
  let sandboxes: Sandboxes | null = null;
  let runtime: Runtime | null = null;
  let shop: DemoShop | null = null;
  let mailbox: Mailbox | null = null;
  let stopping: Promise<void> | null = null;

  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'demo stopping: shop, services, sandboxes, local servers');
      await shop?.stop();
      await runtime?.shutdown(reason);
      await mailbox?.close();
      await sandboxes?.close();
      await stateSql.end({ timeout: 5 }).catch(() => {});
      await local.stop();
      logger.info('demo stopped; `npm start` continues from here');
    })();
    return stopping;
  };

  try {
    const store = await createSandboxStateStore(stateSql);
    sandboxes = await startSandboxes({
      logger: logger.child({ sandbox: true }),
      store,
      invoicingToken: secrets.invoicingToken,
      warehouseApiKey: secrets.warehouseApiKey,
      warehouseWebhookSecret: secrets.warehouseWebhookSecret,
      stepMs,
      // A little of what real providers do now and then (the shop adds the order-specific trouble).
      invoicingFaults: { dropResponseRate: 0.02, errorRate: 0.02 },
      warehouseFaults: { lostResponse: 0.02, duplicateWebhooks: 0.03, reorderWebhooks: 0.02, DELIVERY_FAILED: 0.01 },
    });
    const smtp = sandboxes.smtp;
    // The usual port when free, else any: a second demo on the machine still starts.
    mailbox = await startMailbox({ smtp, port: mailboxPort, host: opts.config.host }).catch(() => startMailbox({ smtp, port: 0, host: opts.config.host }));

    // The providers' settings point at the sandboxes unless the environment names real ones.
    const overrides: Record<string, string> = {
      ...sandboxes.env,
      STRIPE_WEBHOOK_SECRET: secrets.stripeSecret,
      ADMIN_TOKENS: `admin:${secrets.adminToken}`,
      SHOP_KEYS: `demo-shop:${secrets.shopKey}`,
      ADMIN_EMAIL: 'admin@shop.example',
      PAYMENT_TIMEOUT_MS: String(10 * 60_000),
    };
    const merged: Record<string, string | undefined> = { ...overrides };
    for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== '') merged[k] = v;
    merged['DATABASE_URL'] = local.databaseUrl;
    merged['NATS_URL'] = local.natsUrl;
    const config = loadConfig(merged);
    const stripeSecret = config.stripeWebhookSecrets[0] ?? secrets.stripeSecret;
    const admin = config.adminTokens[0] ?? parseAdminTokens(overrides['ADMIN_TOKENS'])[0];
    // SHOP_KEYS from the environment wins; the demo shop then uses its first key.
    const shopKey = config.shopKeys[0]?.key ?? secrets.shopKey;

    runtime = await startRuntime({ config, logger, services: SERVICES, handleSignals: false });
    const gateway = runtime.services.find((s) => s.name === 'gateway') as { url?: string } | undefined;
    const gatewayUrl = gateway?.url ?? `http://${config.host}:${config.port}`;
    sandboxes.warehouse.setWebhookUrl(`${gatewayUrl}/webhooks/warehouse`);

    if (rate > 0) {
      const warehouse = sandboxes.warehouse;
      shop = startDemoShop({
        gatewayUrl,
        shopKey,
        stripeSecret,
        ratePerSecond: rate,
        logger,
        onPlaced: (o) => {
          if (o.trouble === 'outOfStock') warehouse.setPlan(o.orderId, { reject: 'OUT_OF_STOCK' });
          if (o.trouble === 'badAddress') warehouse.setPlan(o.orderId, { reject: 'ADDRESS_INVALID' });
        },
      });
    }

    process.stdout.write(
      [
        '',
        'orderpilot demo is running',
        `  admin console   ${gatewayUrl}/admin    (sign in as "${admin?.name ?? 'admin'}" with the token below)`,
        `  admin token     ${admin?.token ?? '(ADMIN_TOKENS is set in your environment)'}`,
        `  API docs        ${gatewayUrl}/docs`,
        `  demo mailbox    ${mailbox.url}    (mails the SMTP sink received: invoices to customers, admin notices)`,
        `  demo shop       ${rate > 0 ? `${rate} order(s)/s with a share of trouble (bad NIP, out of stock, bad address, lost responses)` : 'off (DEMO_RATE=0)'}`,
        `  data            ${path.resolve(config.dataDir)}${local.started.length ? ` (${local.started.join(', ')})` : ''}`,
        'Ctrl-C stops everything cleanly; `npm start` again continues where it stopped.',
        '',
      ].join('\n'),
    );
  } catch (err) {
    await stop('start failed');
    throw err;
  }

  const onSignal = (sig: string) => {
    void stop(sig).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'demo did not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
}
