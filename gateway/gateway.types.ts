import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServiceDeps } from '../infra/runtime/service.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { KnownOrders } from './webhooks/known-orders.ts';
import type { WebhookInbox } from './webhooks/webhook-inbox.ts';

/** What the gateway needs: the process's connections and config (same as every service). */
export type GatewayDeps = ServiceDeps;

/** What every route plugin receives as its options. */
export interface GatewayContext {
  deps: GatewayDeps;
  inbox: WebhookInbox;
  metrics: GatewayMetrics;
  /** Orders known by a reference: filled by intake and the payment matcher, read by the matcher. */
  knownOrders: KnownOrders;
}

/** A route plugin: one area of the HTTP surface (`gateway/routes/*.route.ts`); TypeBox schemas type its requests. */
export type GatewayRoute = FastifyPluginAsyncTypebox<GatewayContext>;
