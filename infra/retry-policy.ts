import { isOrderpilotError } from '../services/contracts/index.ts';
import type { Config } from './config.ts';

/**
 * The one retry policy of orderpilot: exponential backoff from a base, capped, with jitter, and a
 * provider's Retry-After (`OrderpilotError.retryAfterMs`) taking precedence. Every consumer
 * (`infra/nats/consumer-runner.ts`) and adapter retries through it; the numbers come from config.
 */
export interface RetryPolicy {
  /** Delay before the second attempt; doubles per attempt. */
  readonly baseMs: number;
  /** No delay is longer than this (before jitter). */
  readonly capMs: number;
  /** The delay is scaled by a random factor in [low, high), so a burst of failures does not come back in step. */
  readonly jitter: readonly [low: number, high: number];
}

/** Centred on the nominal delay (the provider adapters: their delays add up to a known span). */
export const JITTER_AROUND: RetryPolicy['jitter'] = [0.75, 1.25];
/** Half to the full delay (never above the cap: the consumers' redelivery and the warehouse). */
export const JITTER_BELOW: RetryPolicy['jitter'] = [0.5, 1];

/** The exact delay (admin notification digests: few, and already batched). */
export const JITTER_NONE: RetryPolicy['jitter'] = [1, 1];

/** Delay before attempt `attempt + 1` after `attempt` failed (attempt 1 is the first delivery). */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const nominal = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const [low, high] = policy.jitter;
  return Math.max(1, Math.round(nominal * (low + random() * (high - low))));
}

/** The wait after a failure: the provider's Retry-After when it sent one, else the backoff. */
export function retryDelayMs(policy: RetryPolicy, attempt: number, err: unknown, random: () => number = Math.random): number {
  if (isOrderpilotError(err) && err.retryAfterMs !== undefined) return err.retryAfterMs;
  return backoffMs(policy, attempt, random);
}

/**
 * `base · 2^(n-1)` scaled by 0.75–1.25, capped at `maxMs`. With base 30 s, 8 attempts span about an
 * hour (30 s + 1 + 2 + 4 + 8 + 16 + 32 min ≈ 63 min).
 */
export function exponentialBackoff(baseMs: number, maxMs = 6 * 3600_000, random: () => number = Math.random): (attempt: number) => number {
  const policy: RetryPolicy = { baseMs, capMs: maxMs, jitter: JITTER_AROUND };
  return (attempt) => backoffMs(policy, attempt, random);
}

export type RetryPolicyName = 'consumer' | 'invoicing' | 'mail' | 'logistics' | 'notify' | 'payments' | 'shops';

/** Each service's policy from config (`RETRY_*`, `INVOICING_RETRY_*`, `MAIL_RETRY_*`, `LOGISTICS_RETRY_*`, `NOTIFY_RETRY_*`). */
export function retryPolicyFromConfig(config: Config, name: RetryPolicyName): RetryPolicy {
  switch (name) {
    case 'consumer':
      return { baseMs: config.retryBaseMs, capMs: config.retryCapMs, jitter: JITTER_BELOW };
    case 'invoicing':
      return { baseMs: config.invoicingRetryBaseMs, capMs: config.invoicingRetryCapMs, jitter: JITTER_AROUND };
    case 'mail':
      return { baseMs: config.mailRetryBaseMs, capMs: config.mailRetryCapMs, jitter: JITTER_AROUND };
    case 'logistics':
      return { baseMs: config.logisticsRetryBaseMs, capMs: config.logisticsRetryCapMs, jitter: JITTER_BELOW };
    case 'notify':
      return { baseMs: config.notifyRetryBaseMs, capMs: config.notifyRetryCapMs, jitter: JITTER_NONE };
    case 'shops':
      return { baseMs: config.shopsRetryBaseMs, capMs: config.shopsRetryCapMs, jitter: JITTER_BELOW };
    case 'payments':
      return { baseMs: config.payments.retryBaseMs, capMs: config.payments.retryCapMs, jitter: JITTER_AROUND };
  }
}
