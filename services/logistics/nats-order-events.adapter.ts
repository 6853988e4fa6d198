import type { NatsConnection } from '@nats-io/transport-node';
import { publishCommand, publishOrderEvent } from '../../infra/nats/publish.ts';
import type { Names, NotifyCommand } from '../contracts/index.ts';
import type { LogisticsOutPort } from './order-events.port.ts';

/** The NATS implementation (main.ts wires it). */
export function createNatsLogisticsOut(nc: NatsConnection, names: Names): LogisticsOutPort {
  return {
    async orderEvent(e) {
      await publishOrderEvent(nc, names, {
        id: e.id,
        orderId: e.orderId,
        type: e.type,
        payload: e.payload,
        cause: e.cause,
        actor: 'warehouse',
        ...(e.occurredAt === undefined ? {} : { occurredAt: e.occurredAt }),
      });
    },
    async notifyAdmin(e) {
      await publishCommand<NotifyCommand>(nc, names, 'notify', {
        id: e.id,
        type: 'notify',
        orderId: e.notice.orderId,
        payload: e.notice,
        cause: e.cause,
        actor: 'logistics',
      });
    },
  };
}
