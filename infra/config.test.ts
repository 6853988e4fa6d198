import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('has sensible defaults and is frozen', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ natsPrefix: 'orderpilot', port: 3000, host: '127.0.0.1', orderPartitions: 64, heapGrowingPercent: 50, databaseUrl: undefined, smtpMaxConnections: 16, mailConcurrency: 32 });
    expect(Object.isFrozen(c)).toBe(true);
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow();
  });

  it('names the bad variable', () => {
    expect(errorOf({ PORT: 'eighty' }).variable).toBe('PORT');
    expect(errorOf({ PORT: '70000' }).message).toMatch(/^PORT: expected 0\.\.65535/);
    expect(errorOf({ DATABASE_URL: 'mysql://x' }).variable).toBe('DATABASE_URL');
    expect(errorOf({ NATS_URL: 'not a url' }).variable).toBe('NATS_URL');
    expect(errorOf({ NATS_PREFIX: 'a.b' }).variable).toBe('NATS_PREFIX');
    expect(errorOf({ SMTP_MAX_CONNECTIONS: '0' }).variable).toBe('SMTP_MAX_CONNECTIONS');
    expect(errorOf({ ADMIN_TOKENS: 'anna' }).variable).toBe('ADMIN_TOKENS');
    expect(errorOf({ STRIPE_WEBHOOK_SECRET: 'sk_live_x' }).variable).toBe('STRIPE_WEBHOOK_SECRET');
    expect(errorOf({ ORDERPILOT_INSPECT: 'maybe' }).variable).toBe('ORDERPILOT_INSPECT');
    expect(errorOf({ HEAP_GROWING_PERCENT: '-5' }).variable).toBe('HEAP_GROWING_PERCENT');
  });

  it('parses lists', () => {
    const c = loadConfig({ ADMIN_TOKENS: 'anna:0123456789abcdef, ops:fedcba9876543210', STRIPE_WEBHOOK_SECRET: 'whsec_a,whsec_b' });
    expect(c.adminTokens).toEqual([
      { name: 'anna', token: '0123456789abcdef' },
      { name: 'ops', token: 'fedcba9876543210' },
    ]);
    expect(c.stripeWebhookSecrets).toEqual(['whsec_a', 'whsec_b']);
  });
});
