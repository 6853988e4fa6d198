/**
 * Every NATS name orderpilot uses, derived from one prefix (`NATS_PREFIX`). No other module writes a
 * subject, stream or consumer name as a string literal.
 */

/** Commands, one work-queue stream per service; subjects are disjoint. */
export const COMMANDS = {
  issueDocument: { service: 'invoicing', name: 'issue-document' },
  resendToKsef: { service: 'invoicing', name: 'resend-to-ksef' },
  attachDocument: { service: 'invoicing', name: 'attach-document' },
  issueCorrection: { service: 'invoicing', name: 'issue-correction' },
  cancelShipment: { service: 'logistics', name: 'cancel-shipment' },
  changeShipmentAddress: { service: 'logistics', name: 'change-shipment-address' },
  refundPayment: { service: 'payments', name: 'refund-payment' },
  sendDocument: { service: 'mail', name: 'send-document' },
  submitShipment: { service: 'logistics', name: 'submit-shipment' },
  warehouseStatus: { service: 'logistics', name: 'warehouse-status' },
  notify: { service: 'notify', name: 'notify' },
} as const;
export type CommandKey = keyof typeof COMMANDS;
export type CommandService = (typeof COMMANDS)[CommandKey]['service'];
export const COMMAND_SERVICES: readonly CommandService[] = ['invoicing', 'mail', 'logistics', 'notify', 'payments'];

/** FNV-1a: a stable, fast hash so every process maps an order to the same partition. */
export function partitionOf(orderId: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < orderId.length; i++) {
    h ^= orderId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

/** A NATS subject token may not contain '.', '*', '>' or whitespace. */
export function isSubjectToken(s: string): boolean {
  return s.length > 0 && s.length <= 128 && !/[.*>\s]/.test(s);
}

/** How often a gateway with open live streams says so; an order host stops hinting after three silent periods. */
export const LIVE_PRESENCE_MS = 5_000;

export type Names = ReturnType<typeof natsNames>;

export function natsNames(prefix: string, partitions: number) {
  const streamPrefix = prefix.replace(/[^A-Za-z0-9_-]/g, '_');
  return {
    prefix,
    partitions,
    /** Every stream's name starts with `<streamPrefix>_`. */
    streamPrefix,
    streams: {
      orderEvents: `${streamPrefix}_ORDER_EVENTS`,
      /** Order changes for the shops service, partitioned like order events (one per order, in order). */
      shopUpdates: `${streamPrefix}_SHOP_UPDATES`,
      events: `${streamPrefix}_EVENTS`,
      command: (service: CommandService) => `${streamPrefix}_${service.toUpperCase()}_CMD`,
    },
    consumers: {
      orderPartition: (p: number) => `${streamPrefix}_orders_p${p}`,
      shopPartition: (p: number) => `${streamPrefix}_shops_p${p}`,
      command: (service: CommandService) => `${streamPrefix}_${service}`,
    },
    subjects: {
      /** `<prefix>.order.evt.<partition>.<orderId>`: events into the order actor. */
      orderEvent: (orderId: string) => `${prefix}.order.evt.${partitionOf(orderId, partitions)}.${orderId}`,
      orderEventsAll: `${prefix}.order.evt.>`,
      orderPartition: (p: number) => `${prefix}.order.evt.${p}.>`,
      /**
       * `<prefix>.shops.upd.<partition>.<orderId>`: what changed on an order, for its shop. Partitioned
       * with one message in flight per partition, so one order's updates reach the shop in order.
       */
      shopUpdate: (orderId: string) => `${prefix}.shops.upd.${partitionOf(orderId, partitions)}.${orderId}`,
      shopUpdatesAll: `${prefix}.shops.upd.>`,
      shopPartition: (p: number) => `${prefix}.shops.upd.${p}.>`,
      command: (key: CommandKey) => `${prefix}.${COMMANDS[key].service}.cmd.${COMMANDS[key].name}`,
      commandsOf: (service: CommandService) => `${prefix}.${service}.cmd.>`,
      /**
       * Live hints for open consoles: plain NATS, deliberately outside every stream (a hint is worth
       * nothing later, and persisting one per transition would cost JetStream work on the hot path).
       */
      orderChanged: (orderId: string) => `${prefix}.live.order.changed.${orderId}`,
      orderChangedAll: `${prefix}.live.order.changed.>`,
      /**
       * "A console is listening": published by a gateway while it has live streams open (at once
       * on the first, then every LIVE_PRESENCE_MS); order hosts publish hints only while they hear it.
       */
      liveListening: `${prefix}.live.listening`,
      /**
       * "The outbox has new rows": plain NATS, outside every stream, published by an order host after
       * a commit that queued outbox rows; the relay wakes on it (and polls, should a hint be lost).
       */
      outboxWake: `${prefix}.hint.outbox`,
      /** JetStream's advisory when a consumer reached max_deliver on a message (all accounts' streams; filter by streamPrefix). */
      maxDeliveriesAdvisories: '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>',
      eventsAll: `${prefix}.evt.>`,
    },
  };
}
