import { openPostgres } from './postgres.ts';

/** The database named in a Postgres URL (`postgres` when the URL names none). */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  return name === '' ? 'postgres' : name;
}

/** The same server, another database. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}

/**
 * Creates the database named in `url` when the server does not have it yet (connecting to the
 * server's `postgres` database to do so). Safe when two processes race: a twin's CREATE wins and
 * ours is taken as done. Returns whether this call created it.
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  const admin = openPostgres(withDatabase(url, 'postgres'), { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    const [row] = await admin`select 1 as found from pg_database where datname = ${name}`;
    if (row) return false;
    try {
      await admin.unsafe(`create database "${name.replace(/"/g, '""')}"`);
      return true;
    } catch (err) {
      if ((err as { code?: unknown }).code === '42P04') return false; // duplicate_database: a twin made it
      throw err;
    }
  } finally {
    await admin.end({ timeout: 5 });
  }
}
