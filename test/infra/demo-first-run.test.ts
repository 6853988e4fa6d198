import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { openPostgres } from '../../infra/db/postgres.ts';
import { connectNats } from '../../infra/nats/connection.ts';
import { deleteTopology } from '../../infra/nats/topology.ts';
import { natsNames } from '../../services/contracts/index.ts';
import { eventually } from '../support/context.ts';
import { uniqueName } from '../support/world.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BANNER_END = /Enter shows this again[^\n]*\n─+\n$/;

let dir: string | null = null;
let demo: ChildProcess | null = null;
const dbName = uniqueName('op_demo');
const prefix = uniqueName('demo');
const baseUrl = inject('databaseUrl');
const natsUrl = inject('natsUrl');

afterAll(async () => {
  if (demo && demo.exitCode === null && demo.pid) process.kill(-demo.pid, 'SIGKILL');
  const admin = openPostgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {});
  await admin.end();
  const nc = await connectNats(natsUrl, 'demo-test-cleanup');
  await deleteTopology(nc, natsNames(prefix, 16)).catch(() => {});
  await nc.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The lines of the last banner in the output, and every URL on them. */
function bannerUrls(out: string): Record<string, string> {
  const start = out.lastIndexOf('orderpilot demo is running');
  const urls: Record<string, string> = {};
  for (const line of out.slice(start).split('\n')) {
    const m = /^ {2}([a-zA-Z][a-zA-Z ]+?) {2,}((?:https?|postgres|nats):\/\/\S+)/.exec(line);
    if (m?.[1] && m[2]) urls[m[1].trim()] = m[2];
  }
  return urls;
}

describe('first run: the Quick start on a fresh checkout', () => {
  it('`npm start` prints the banner last, naming reachable URLs; Enter prints it again; Ctrl-C says goodbye and exits 0', async () => {
    // A fresh checkout: the tracked (and new, not ignored) files of this tree, nothing generated.
    // node_modules is linked from this tree (as `npm ci` left it): prestart finds it up to date.
    dir = await mkdtemp(path.join(os.tmpdir(), 'orderpilot-clone-'));
    const files = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
    for (const f of files) {
      await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
      await cp(path.join(ROOT, f), path.join(dir, f)).catch(() => {}); // a file deleted in the tree but not yet in git
    }
    await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));

    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('npm_') || k === 'LOG_LEVEL' || k === 'ADMIN_TOKENS' || k === 'NODE_OPTIONS') delete env[k];
    const databaseUrl = new URL(baseUrl);
    databaseUrl.pathname = `/${dbName}`; // does not exist yet: the demo creates it
    Object.assign(env, {
      DATABASE_URL: databaseUrl.toString(),
      NATS_URL: natsUrl,
      NATS_PREFIX: prefix,
      PORT: '0',
      DEMO_MAILBOX_PORT: '0',
      DEMO_RATE: '0',
      ORDER_PARTITIONS: '16',
      ORDERPILOT_DATA_DIR: path.join(dir, '.data'),
    });
    // Its own process group, like a terminal's foreground job: Ctrl-C reaches npm, sh and node alike.
    const proc = spawn('npm', ['start'], { cwd: dir, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    demo = proc;
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));

    await eventually(async () => BANNER_END.test(out) || proc.exitCode !== null, 'the demo banner', 180_000, 200).catch((err: unknown) => {
      throw new Error(`${String(err)}; output:\n${out}`);
    });
    expect(proc.exitCode, out).toBeNull();
    const urls = bannerUrls(out);
    expect(Object.keys(urls)).toEqual(expect.arrayContaining(['admin console', 'demo mailbox', 'API docs', 'Postgres', 'NATS']));
    expect(out).toMatch(/admin token {6}[0-9a-f]{32}/);

    // Every URL answers.
    const consoleUrl = urls['admin console'] ?? '';
    const signIn = await fetch(consoleUrl, { redirect: 'manual' });
    expect([200, 302, 303]).toContain(signIn.status);
    const root = await fetch(new URL('/', consoleUrl), { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/admin');
    expect((await fetch(urls['demo mailbox'] ?? '')).status).toBe(200);
    expect((await fetch(urls['API docs'] ?? '')).status).toBe(200);
    const sql = openPostgres(urls['Postgres'] ?? '', { max: 1, onnotice: () => {} });
    const [db] = await sql`select current_database() as name, (select count(*)::int from information_schema.tables where table_name = 'orders') as orders_tables`;
    await sql.end();
    expect(db).toEqual({ name: dbName, orders_tables: 1 }); // its own database, created and migrated
    const nc = await connectNats(urls['NATS'] ?? '', 'demo-test');
    await nc.close();
    expect(out).toContain(`(prefix ${prefix})`);

    // Nothing was printed after the banner, and Enter prints it again.
    expect(out).toMatch(BANNER_END);
    const before = out.length;
    proc.stdin?.write('\n');
    await eventually(async () => out.length > before && BANNER_END.test(out), 'the banner again', 30_000);
    expect(out.slice(before)).toContain('orderpilot demo is running');

    // Ctrl-C: the whole group gets SIGINT, as from a terminal.
    if (proc.pid) process.kill(-proc.pid, 'SIGINT');
    const exit = await exited;
    expect(exit, out).toEqual({ code: 0, signal: null });
    expect(out).toMatch(/Goodbye/);
    expect(out).not.toMatch(/"level":/); // human-readable lines, never raw JSON
  }, 300_000);
});
