import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, parseAdminTokens, type Config } from '../config.ts';
import { createSql } from '../db/postgres.ts';
import type { Logger } from '../logger.ts';
import { databaseName, ensureDatabase, withDatabase } from '../db/ensure-database.ts';
import { defaultDatabaseUrl, ensureLocalServices } from '../runtime/local-services.ts';
import { startRuntime, type Runtime } from '../runtime/process.ts';
import { startDemoShop, type DemoShop } from '../demo/demo-shop.ts';
import { startMailbox, type Mailbox } from '../demo/mailbox.server.ts';
import { startSandboxes, type Sandboxes } from '../demo/sandboxes.ts';
import { createSandboxStateStore } from '../demo/sandbox-state.store.ts';
import { startConnectedShopsTraffic, type ConnectedShopsTraffic } from '../demo/connected-shops.ts';
import { demoBanner } from '../demo/demo-banner.ts';
import { SERVICES } from './services.ts';

/** The demo's own database and NATS prefix, so it never writes into what another run uses. */
export const DEMO_DATABASE = 'orderpilot_demo';
export const DEMO_NATS_PREFIX = 'orderpilot_demo';

/**
 * Ctrl-C in a terminal signals the whole foreground process group: embedded Postgres and nats-server
 * would shut down at once, under the services that are still finishing their work. So the demo runs
 * in a child with its own process group (and its servers with it), and this process only forwards
 * the signal to it and exits with its code: the child stops the shop, the services, then the servers.
 * The supervisor also reads the terminal (the child, in a session of its own, does not): each line
 * (Enter) asks the child to print its banner again (SIGUSR2).
 */
function superviseDemo(): Promise<void> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    stdio: 'inherit',
    env: { ...process.env, ORDERPILOT_DEMO_CHILD: '1' },
  });
  // One Ctrl-C reaches this process more than once: from the terminal, and relayed by npm (and by
  // tsx when it runs the CLI) in the same instant. Copies within a second are that one keypress; a
  // later one is the person's second Ctrl-C, passed on so the child stops at once.
  let lastForwarded = 0;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const now = Date.now();
      if (now - lastForwarded < 1000) return;
      lastForwarded = now;
      child.kill(sig === 'SIGHUP' ? 'SIGTERM' : sig);
    });
  }
  const onLine = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGUSR2');
  };
  process.stdin.on('data', onLine);
  process.stdin.on('error', () => {});
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      process.stdin.off('data', onLine);
      process.stdin.destroy();
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
  /** Added later: an older secrets file lacks it (then one is made for this run). */
  payuSecondKey?: string;
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
      payuSecondKey: hex(16),
    };
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
    return secrets;
  }
}

function withoutPassword(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
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
  let stopping: Promise<void> | null = null;
  let banner: string | null = null;
  // Enter in the terminal (relayed by the supervisor) or `kill -USR2 <pid>`: the banner again, once
  // warnings have scrolled it away. Installed first: the default action of SIGUSR2 ends a process.
  process.on('SIGUSR2', () => {
    if (banner && !stopping) process.stdout.write(banner);
  });
  const rate = demoNumber(env, 'DEMO_RATE', 1, 0, 1000);
  const stepMs = demoNumber(env, 'DEMO_WAREHOUSE_STEP_MS', 2000, 0, 600_000);
  const mailboxPort = demoNumber(env, 'DEMO_MAILBOX_PORT', 3025, 0, 65535);

  // Without DATABASE_URL the demo uses its own database on the local (or embedded) server; a
  // DATABASE_URL from the environment is used as it is. Either way the database is created if missing.
  const local = await ensureLocalServices({
    databaseUrl: opts.config.databaseUrl ?? withDatabase(await defaultDatabaseUrl(), DEMO_DATABASE),
    natsUrl: opts.config.natsUrl,
    dataDir: opts.config.dataDir,
    logger,
  });
  const databaseUrl = opts.config.databaseUrl === undefined ? withDatabase(local.databaseUrl, DEMO_DATABASE) : local.databaseUrl;
  try {
    if (await ensureDatabase(databaseUrl)) logger.info({ database: databaseName(databaseUrl) }, 'demo database created');
  } catch (err) {
    await local.stop();
    throw err;
  }
  const secrets = await loadSecrets(opts.config.dataDir);
  const stateSql = createSql(databaseUrl, { max: 4, name: 'orderpilot-demo-sandbox' });
  let sandboxes: Sandboxes | null = null;
  let runtime: Runtime | null = null;
  let shop: DemoShop | null = null;
  let connectedShops: ConnectedShopsTraffic | null = null;
  let mailbox: Mailbox | null = null;

  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'demo stopping: shop, services, sandboxes, local servers');
      await shop?.stop();
      await connectedShops?.stop();
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
      // A WooCommerce and a Magento shop connected as `woo` and `magento`, unless SHOPS names the user's own.
      shops: !env['SHOPS']?.trim(),
    });
    const smtp = sandboxes.smtp;
    // The usual port when free, else any: a second demo on the machine still starts.
    mailbox = await startMailbox({ smtp, port: mailboxPort, host: opts.config.host }).catch(() => startMailbox({ smtp, port: 0, host: opts.config.host }));

    // The providers' settings point at the sandboxes unless the environment names real ones.
    const overrides: Record<string, string> = {
      ...sandboxes.env,
      STRIPE_WEBHOOK_SECRET: secrets.stripeSecret,
      PAYU_SECOND_KEY: secrets.payuSecondKey ?? randomBytes(16).toString('hex'),
      ADMIN_TOKENS: `admin:${secrets.adminToken}`,
      SHOP_KEYS: `demo-shop:${secrets.shopKey}`,
      ADMIN_EMAIL: 'admin@shop.example',
      PAYMENT_TIMEOUT_MS: String(10 * 60_000),
      NATS_PREFIX: DEMO_NATS_PREFIX,
    };
    const merged: Record<string, string | undefined> = { ...overrides };
    for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== '') merged[k] = v;
    merged['DATABASE_URL'] = databaseUrl;
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
    sandboxes.woo?.setWebhookUrl(`${gatewayUrl}/webhooks/shops/woo`);
    if (rate > 0 && sandboxes.woo && sandboxes.magento) {
      connectedShops = startConnectedShopsTraffic({ woo: sandboxes.woo, magento: sandboxes.magento, everyMs: Math.max(2000, 5000 / rate), logger });
    }

    if (rate > 0) {
      const warehouse = sandboxes.warehouse;
      shop = startDemoShop({
        gatewayUrl,
        shopKey,
        stripeSecret,
        ratePerSecond: rate,
        stripe: sandboxes.stripe,
        logger,
        // A newcomer finds one order of each repair kind at once: a bad address, a bad NIP, a cancel.
        firstTroubles: ['badAddress', 'badNip', 'customerCancels'],
        onPlaced: (o) => {
          // Out of stock once: the release after a restock goes through (held orders do not pile up).
          if (o.trouble === 'outOfStock') warehouse.setPlan(o.orderId, { reject: 'OUT_OF_STOCK', rejectTimes: 1 });
          // The parcel waits at the warehouse until an admin cancels the order.
          if (o.trouble === 'customerCancels') warehouse.setPlan(o.orderId, { paused: true });
        },
      });
    }

    banner = demoBanner({
      consoleUrl: `${gatewayUrl}/admin`,
      adminName: admin?.name ?? 'admin',
      adminToken: env['ADMIN_TOKENS']?.trim() ? null : (admin?.token ?? null),
      docsUrl: `${gatewayUrl}/docs`,
      mailboxUrl: mailbox.url,
      inspectorUrl: `${gatewayUrl}/admin/inspector`,
      statelyInspectorUrl: config.inspect ? `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.inspectPort}` : null,
      // The demo's own servers in full (their URLs are needed to reach them); a DATABASE_URL from the
      // environment is the user's own, shown without its password.
      databaseUrl: opts.config.databaseUrl === undefined ? databaseUrl : withoutPassword(databaseUrl),
      natsUrl: local.natsUrl,
      natsPrefix: config.natsPrefix,
      connectedShops: sandboxes.woo && sandboxes.magento ? `WooCommerce ${sandboxes.woo.url} (webhooks) and Magento 2 ${sandboxes.magento.url} (polled) as "woo" and "magento"${rate > 0 ? ', a checkout at one of them every few seconds' : ''}` : 'your SHOPS',
      shop: rate > 0 ? `${rate} order(s)/s with a share of trouble (bad NIP, out of stock, bad address, a paid order to cancel, lost responses); the first three are one of each repair kind` : 'off (DEMO_RATE=0)',
      dataDir: path.resolve(config.dataDir),
      started: local.started,
    });
    process.stdout.write(banner);
  } catch (err) {
    await stop('start failed');
    throw err;
  }

  const onSignal = (sig: string) => {
    process.stdout.write('\nStopping: finishing the orders and messages in flight (Ctrl-C again stops at once)…\n');
    void stop(sig).then(
      () => {
        process.stdout.write('orderpilot demo stopped cleanly. Goodbye! `npm start` continues where it stopped.\n');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'demo did not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
}
