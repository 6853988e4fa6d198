import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../logger.ts';

export type { NatsConnection };

/** Connects with endless reconnects (a NATS restart must not kill a service). */
export async function connectNats(url: string, name: string, logger?: Logger): Promise<NatsConnection> {
  const nc = await connect({
    // One server, or a cluster's servers comma-separated (any of them will do; the client fails over).
    servers: url.split(',').map((u) => u.trim()).filter((u) => u !== ''),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 10_000,
    // Async stack traces cost an Error (and its stack) per request and publish on the hot path.
    noAsyncTraces: true,
  });
  if (logger) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') {
          logger.warn({ nats: s.type, server: 'server' in s ? s.server : undefined }, `nats ${s.type}`);
        }
      }
    })().catch(() => {});
  }
  return nc;
}
