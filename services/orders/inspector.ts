import { createWebSocketInspector } from '@statelyai/inspect';
import { startInspectorBridge } from './inspector-bridge.ts';
import { orderMachine } from '../../machines/order/index.ts';
import type { Logger } from '../../infra/logger.ts';
import type { RunningService, ServiceDeps } from '../../infra/runtime/service.ts';
import type { TransitionReport } from './order-host.ts';

export interface OrderInspectorOptions {
  /** Port of the local bridge: a page that embeds Stately's inspector and a WebSocket relay. */
  port: number;
  /** Interface the bridge listens on (HOST; default 127.0.0.1): its snapshots hold customers' data. */
  host?: string;
  logger: Logger;
  /** Start the bridge in this process (default true); false connects to one already running. */
  startServer?: boolean;
  /** Orders registered with the inspector per process before the oldest is forgotten (default 10 000). */
  maxActors?: number;
}

export interface OrderInspector {
  /** Pass as startOrdersService's `onTransition`: reports actor, event and snapshot of each committed transition. */
  onTransition(r: TransitionReport): void;
  /** Where the bridge listens, once it does (null when this process does not run the bridge). */
  readonly bridge: Promise<{ url: string; port: number; address: string }> | null;
  stop(): void;
}

/**
 * Development aid (ORDERPILOT_INSPECT=1): every committed order transition is reported to Stately's
 * inspector through `@statelyai/inspect`'s WebSocket inspector. Each order is one inspected actor
 * (`order:<id>`) registered with the machine definition, then gets the event and resulting snapshot
 * of every transition the host made with `transition()`. Open http://localhost:<port> to watch.
 */
export function createOrderInspector(o: OrderInspectorOptions): OrderInspector {
  const host = o.host ?? '127.0.0.1';
  const server = o.startServer === false ? null : startInspectorBridge({ host, port: o.port, logger: o.logger });
  const connectTo = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const inspector = createWebSocketInspector({ url: `ws://${connectTo.includes(':') ? `[${connectTo}]` : connectTo}:${o.port}` });
  const maxActors = o.maxActors ?? 10_000;
  // Insertion-ordered: the oldest registration is forgotten first (re-registering later is harmless).
  const known = new Set<string>();
  void server?.ready.then(({ url, address }) => o.logger.warn({ url, address }, 'Stately inspector bridge: open this URL to watch order transitions'));

  return {
    bridge: server?.ready ?? null,
    onTransition(r) {
      if (r.to === null || r.snapshot === null) return;
      const actorId = `order:${r.orderId}`;
      const snapshot = { value: r.to, context: r.snapshot.context, status: r.snapshot.status };
      if (!known.has(actorId)) {
        known.add(actorId);
        if (known.size > maxActors) {
          const oldest = known.values().next().value;
          if (oldest !== undefined) known.delete(oldest);
        }
        // The library reads the definition from `actorRef.logic.config` (its `definition` option is unused).
        const actorRef = { sessionId: actorId, id: actorId, logic: orderMachine, send: () => {}, getSnapshot: () => snapshot };
        inspector.actor(actorRef, r.outcome === 'created' ? snapshot : { value: r.from ?? r.to, context: r.snapshot.context, status: 'active' });
      }
      const event = { ...(r.event.payload as Record<string, unknown>), type: r.event.type };
      inspector.event(actorId, event, { source: r.event.actor ?? 'system' });
      inspector.snapshot(actorId, snapshot, { event });
    },
    stop() {
      inspector.stop();
      server?.stop();
    },
  };
}

/** The orders service with the inspector attached (what `orderpilot run` starts when ORDERPILOT_INSPECT=1). */
export async function startInspectedOrdersService(
  deps: ServiceDeps,
  start: (deps: ServiceDeps, opts: { onTransition: (r: TransitionReport) => void }) => Promise<RunningService>,
): Promise<RunningService> {
  const inspector = createOrderInspector({ port: deps.config.inspectPort, host: deps.config.host, logger: deps.logger.child({ service: 'inspector' }) });
  const service = await start(deps, { onTransition: (r) => inspector.onTransition(r) });
  return {
    name: service.name,
    async stop() {
      await service.stop();
      inspector.stop();
    },
  };
}
