import { randomUUID } from 'node:crypto';
import { isRetryable } from '../../infra/nats/consumer-runner.ts';
import type { Logger } from '../../infra/logger.ts';
import { backoffMs, type RetryPolicy } from '../../infra/retry-policy.ts';
import type { NotificationChannel } from './channel.port.ts';
import type { NotificationStore } from './notification.store.ts';

export interface DispatcherOptions {
  store: NotificationStore;
  channels: readonly NotificationChannel[];
  logger: Logger;
  /** Quiet time after the newest pending notification before a batch goes out. */
  windowMs: number;
  /** Longest wait after the oldest pending notification. */
  maxWaitMs: number;
  pollMs: number;
  /** When a failed delivery is tried again (from config: NOTIFY_RETRY_*). */
  retry: RetryPolicy;
  /** Attempts per delivery before it is marked failed (default 10). */
  maxAttempts?: number;
  /** Most notifications in one digest (default 500). */
  batchLimit?: number;
  /** Extra work on every tick (surfacing dead letters). */
  onTick?: () => Promise<void>;
}

export interface Dispatcher {
  /** Look now instead of at the next poll. */
  wake(): void;
  /** Stops polling; a batch being sent finishes and is marked first. */
  stop(): Promise<void>;
}

/**
 * Sends pending deliveries in batches: everything pending for a channel goes out as one message
 * (a digest) once the burst has gone quiet, so 100 holds in a minute are one mail, not 100.
 */
export function startDispatcher(o: DispatcherOptions): Dispatcher {
  const log = o.logger.child({ component: 'notification-dispatcher' });
  const maxAttempts = o.maxAttempts ?? 10;
  const batchLimit = o.batchLimit ?? 500;
  // A claim lives well past any sender timeout, so a live sender never loses its batch.
  const leaseMs = 120_000;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  async function deliver(channel: NotificationChannel): Promise<void> {
    // Bounded: a long queue drains in several batches within one tick, never forever.
    for (let round = 0; round < 20 && !stopped; round++) {
      if (!(await o.store.due(channel.name, o.windowMs, o.maxWaitMs))) return;
      const batch = await o.store.claim(channel.name, randomUUID(), leaseMs, batchLimit);
      if (batch === null) return;
      try {
        await channel.send(batch.notifications);
        await o.store.markSent(batch.batchId);
        log.info({ channel: channel.name, count: batch.notifications.length, batchId: batch.batchId, digest: batch.notifications.length > 1 }, 'admin notifications delivered');
      } catch (err) {
        const retryable = isRetryable(err);
        const giveUp = !retryable || batch.attempts >= maxAttempts;
        const message = err instanceof Error ? err.message : String(err);
        await o.store.markFailed(batch.batchId, message, giveUp, backoffMs(o.retry, batch.attempts));
        if (giveUp) log.error({ channel: channel.name, count: batch.notifications.length, attempts: batch.attempts, err: message }, 'admin notification delivery failed for good');
        else log.warn({ channel: channel.name, count: batch.notifications.length, attempts: batch.attempts, err: message }, 'admin notification delivery failed; will retry');
        return;
      }
    }
  }

  async function tick(): Promise<void> {
    try {
      await o.onTick?.();
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'notification tick failed');
    }
    for (const channel of o.channels) {
      try {
        await deliver(channel);
      } catch (err) {
        log.warn({ channel: channel.name, err: err instanceof Error ? err.message : String(err) }, 'notification dispatch failed; will retry');
      }
    }
  }

  function schedule(ms: number): void {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, ms);
  }

  function run(): void {
    timer = null;
    if (stopped || running) return;
    running = tick().finally(() => {
      running = null;
      schedule(o.pollMs);
    });
  }

  schedule(0);
  return {
    wake() {
      if (!running) schedule(0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
