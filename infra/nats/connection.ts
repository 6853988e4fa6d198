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
  flushOncePerTurn(nc);
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

/** The part of nats.js 3.4's (private) protocol handler that `flushOncePerTurn` relies on. */
interface ProtocolInternals {
  flushPending(): void;
  outbound: { size(): number };
  pendingLimit: number;
}

function protocolOf(nc: NatsConnection): ProtocolInternals | undefined {
  const p: unknown = (nc as unknown as { protocol?: unknown }).protocol;
  if (typeof p !== 'object' || p === null) return undefined;
  const q = p as Partial<ProtocolInternals>;
  return typeof q.flushPending === 'function' && typeof q.outbound?.size === 'function' && typeof q.pendingLimit === 'number' ? (q as ProtocolInternals) : undefined;
}

/** Each connection's own flush (nats.js's), for `flushNow`. */
const immediateFlush = new WeakMap<NatsConnection, () => void>();

/**
 * Writes what `nc` has buffered now instead of at the event loop's turn (`flushOncePerTurn`): for a
 * message someone waits on (a payment or a new order the gateway forwards), where that turn can come
 * tens of milliseconds late under load. A connection without the deferral writes on its own: nothing
 * to do then.
 */
export function flushNow(nc: NatsConnection): void {
  immediateFlush.get(nc)?.();
}

/**
 * One socket write per event-loop turn instead of one per microtask checkpoint. nats.js writes its
 * outbound buffer in a microtask after the first command, so every ack, publish and pull that
 * comes from its own I/O callback costs a write syscall (and a read on the server): 8 % of the
 * pipeline's profile. Deferred to `setImmediate` (after this turn's I/O callbacks), the commands of a
 * turn leave in one write, in the order they were issued. A buffer past nats.js's own limit is still
 * written at once; `close()` writes what is buffered first and waits for the server's PONG (drain
 * already does both, through its PING).
 * Nothing else changes: what is buffered and not yet written is lost on a crash either way, and an
 * un-written ack or publish was not yet confirmed to anyone. Skipped if the client's internals differ.
 */
function flushOncePerTurn(nc: NatsConnection): void {
  const protocol = protocolOf(nc);
  if (protocol === undefined) return;
  const writeBuffered = protocol.flushPending.bind(protocol);
  immediateFlush.set(nc, writeBuffered);
  let scheduled = false;
  const flushScheduled = () => {
    scheduled = false;
    writeBuffered();
  };
  protocol.flushPending = () => {
    if (protocol.outbound.size() >= protocol.pendingLimit) {
      writeBuffered();
      return;
    }
    if (!scheduled) {
      scheduled = true;
      setImmediate(flushScheduled);
    }
  };
  const close = nc.close.bind(nc);
  nc.close = async () => {
    writeBuffered();
    // nats.js's close() destroys the socket at once, dropping what the kernel has not taken yet (a
    // burst on a busy machine: 253 of 2,000 publishes in one CI run). A PING round trip first lets
    // the server read all of it; bounded, so a connection that is down still closes.
    if (!nc.isClosed()) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([nc.flush().catch(() => {}), new Promise((r) => (timer = setTimeout(r, CLOSE_FLUSH_MS)))]);
      clearTimeout(timer);
    }
    return close();
  };
}

/** How long `close()` waits for the server to confirm what was written before it (one PING round trip). */
const CLOSE_FLUSH_MS = 2_000;
