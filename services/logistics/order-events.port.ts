import type { Envelope, NotifyCommand, OrderMessageType } from '../contracts/index.ts';

/**
 * How the logistics handlers report back: order events into the order actor and notices to admins.
 * Every message carries a stable id, so a republish (retry, redelivery) is de-duplicated by
 * JetStream and by the order host's inbox.
 */
export interface LogisticsOutPort {
  orderEvent(e: {
    id: string;
    orderId: string;
    type: OrderMessageType;
    payload: unknown;
    cause: Pick<Envelope, 'id' | 'correlationId'>;
    occurredAt?: string | undefined;
  }): Promise<void>;
  notifyAdmin(e: { id: string; cause: Pick<Envelope, 'id' | 'correlationId'>; notice: NotifyCommand }): Promise<void>;
}
