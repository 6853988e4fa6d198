import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { redactText, secretsFromEnv } from '../../infra/redact.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PLANTED = 'Pl4nted-S3cret-xyzzy';

/** Runs the real CLI (`node --import tsx infra/cli/main.ts …`) to its end; a generous deadline, never a sleep. */
function runCli(args: string[], env: Record<string, string>, deadlineMs = 120_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'infra/cli/main.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`orderpilot ${args.join(' ')} still running after ${deadlineMs} ms:\n${out}`));
    }, deadlineMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('secrets are never printed', () => {
  // Each start must fail (nothing answers on port 1, or the value is malformed) and say why, without the password.
  const cases: Array<{ name: string; env: Record<string, string>; args: string[]; says: RegExp }> = [
    { name: 'DATABASE_URL nobody answers', env: { DATABASE_URL: `postgres://shop:${PLANTED}@127.0.0.1:1/orders` }, args: ['run', 'orders'], says: /Postgres does not answer at DATABASE_URL \(postgres:\/\/\*\*\*@127\.0\.0\.1:1\/orders\)/ },
    { name: 'DATABASE_URL malformed', env: { DATABASE_URL: `postgres://shop:${PLANTED}@[db-host/orders` }, args: ['run', 'orders'], says: /configuration error: DATABASE_URL: not a valid URL/ },
    { name: 'DATABASE_URL for migrate', env: { DATABASE_URL: `postgresql://shop:${encodeURIComponent(`${PLANTED}/é`)}@127.0.0.1:1/orders` }, args: ['migrate'], says: /orderpilot: Postgres does not answer at DATABASE_URL \(postgresql:\/\/\*\*\*@127\.0\.0\.1:1\/orders\)/ },
    { name: 'NATS_URL nobody answers', env: { NATS_URL: `nats://bus:${PLANTED}@127.0.0.1:1` }, args: ['run', 'orders'], says: /NATS does not answer at NATS_URL \(nats:\/\/\*\*\*@127\.0\.0\.1:1\)/ },
    { name: 'NATS_URL malformed', env: { NATS_URL: `nats://bus:${PLANTED}@127.0.0.1:99999` }, args: ['run', 'orders'], says: /configuration error: NATS_URL: not a valid URL/ },
    { name: 'SMTP_URL malformed', env: { SMTP_URL: `smtp://mail:${PLANTED}@` }, args: ['run', 'mailer'], says: /configuration error: SMTP_URL: not a valid URL/ },
    { name: 'SMTP_URL wrong scheme', env: { SMTP_URL: `https://mail:${PLANTED}@mail.example.com` }, args: ['run', 'mailer'], says: /configuration error: SMTP_URL: expected a smtp: or smtps: URL/ },
  ];
  for (const c of cases) {
    it(`${c.name}: exits 1 with a clear message that does not contain the password`, { timeout: 150_000 }, async () => {
      const { code, out } = await runCli(c.args, c.env);
      expect(code, out).toBe(1);
      expect(out).toMatch(c.says);
      expect(out).not.toContain(PLANTED);
      expect(out).not.toContain(encodeURIComponent(PLANTED));
      expect(out).not.toMatch(/\n\s+at /);
    });
  }

  it('log lines hide URL credentials and configured secrets, wherever they sit in the line', { timeout: 150_000 }, async () => {
    const script = [
      "import { createLogger } from './infra/logger.ts';",
      'const log = createLogger({ name: "t" });',
      "log.error({ err: new Error('connect to smtp://mail:' + process.env.P + '@mx.example.com failed'), nested: { token: process.env.P } }, 'bad ' + process.env.P);",
    ].join('\n');
    const out = await new Promise<string>((resolve, reject) => {
      const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: ROOT,
        env: { ...process.env, P: PLANTED, ADMIN_TOKENS: `anna:${PLANTED}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      proc.stdout.on('data', (d: Buffer) => (text += d.toString()));
      proc.stderr.on('data', (d: Buffer) => (text += d.toString()));
      proc.once('error', reject);
      proc.once('exit', () => resolve(text));
    });
    expect(out).toMatch(/"msg":"bad \*\*\*"/);
    expect(out).toContain('smtp://***@mx.example.com');
    expect(out).not.toContain(PLANTED);
  });

  it('redactText: URL user info (also unparseable), and each known secret', () => {
    expect(redactText('at postgres://u:p%40ss@db:5432/x and nats://n:s@h')).toBe('at postgres://***@db:5432/x and nats://***@h');
    expect(redactText('bad postgres://u:p@ss@[bad')).toBe('bad postgres://***@[bad');
    expect(redactText('no credentials: https://example.com/a@b')).toBe('no credentials: https://example.com/a@b');
    const secrets = secretsFromEnv({ ADMIN_TOKENS: 'anna:0123456789abcdef,ops:fedcba9876543210', DATABASE_URL: 'postgres://postgres:hunter2hunter2@db/x', PAYU_SECOND_KEY: 'k' });
    expect(secrets).toContain('0123456789abcdef');
    expect(secrets).toContain('hunter2hunter2');
    expect(secrets).not.toContain('postgres');
    expect(redactText('token fedcba9876543210 for postgres', secrets)).toBe('token *** for postgres');
  });
});
