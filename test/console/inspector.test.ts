import net from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebSocketReceiver, type StatelyInspectionEvent } from '@statelyai/inspect';
import { startOrdersService } from '../../services/orders/main.ts';
import { createOrderInspector, type OrderInspector } from '../../services/orders/inspector.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { publishOrderEvent, sampleOrder } from '../support/orders.ts';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

let t: TestContext;
let inspector: OrderInspector;
let service: RunningService;
const seen: StatelyInspectionEvent[] = [];

beforeAll(async () => {
  t = await createTestContext();
  const port = await freePort();
  inspector = createOrderInspector({ port, logger: t.logger });
  // A second client of the bridge, as the browser page would be: it receives what the host reports.
  await eventually(async () => {
    const s = net.connect(port, '127.0.0.1');
    return new Promise<boolean>((r) => s.once('connect', () => (s.end(), r(true))).once('error', () => r(false)));
  }, 'inspector bridge listening');
  createWebSocketReceiver({ server: `ws://127.0.0.1:${port}` }).subscribe((e) => seen.push(e));
  service = await startOrdersService(t, { onTransition: (r) => inspector.onTransition(r) });
});
afterAll(async () => {
  await service?.stop();
  inspector?.stop();
  await t?.cleanup();
});

describe('Stately inspector (ORDERPILOT_INSPECT)', () => {
  it('the bridge listens on HOST only (127.0.0.1 by default), not on every interface', async () => {
    const bridge = await inspector.bridge;
    expect(bridge?.address).toBe('127.0.0.1');
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (external && bridge) {
      const reachable = await new Promise<boolean>((r) => {
        const s = net.connect(bridge.port, external.address);
        s.once('connect', () => (s.destroy(), r(true))).once('error', () => r(false));
      });
      expect(reachable).toBe(false);
    }
  });

  it('reports the actor with its machine definition, then each event and snapshot of the host transitions', async () => {
    const order = sampleOrder();
    await publishOrderEvent(t.nc, t.names, order.orderId, 'ORDER_PLACED', { order });
    await publishOrderEvent(t.nc, t.names, order.orderId, 'PAYMENT_CONFIRMED', { provider: 'stripe', paymentId: 'pi_1', amount: order.total, currency: 'PLN' });
    await publishOrderEvent(t.nc, t.names, order.orderId, 'SHIPMENT_REJECTED', { code: 'OUT_OF_STOCK', message: 'none left' }, { actor: 'warehouse' });
    const actorId = `order:${order.orderId}`;
    const held = await eventually(
      async () => seen.find((e) => e.type === '@xstate.snapshot' && e.sessionId === actorId && JSON.stringify(e.snapshot).includes('"held"')),
      'held snapshot at the inspector',
    );
    const actor = seen.find((e) => e.type === '@xstate.actor' && e.sessionId === actorId);
    expect(actor).toBeDefined();
    expect(actor?.type === '@xstate.actor' && JSON.parse(actor.definition ?? '{}')).toMatchObject({ id: 'order' });
    const events = seen.filter((e) => e.type === '@xstate.event' && e.sessionId === actorId).map((e) => (e.type === '@xstate.event' ? e.event.type : ''));
    expect(events).toEqual(['ORDER_PLACED', 'PAYMENT_CONFIRMED', 'SHIPMENT_REJECTED']);
    expect(held.type === '@xstate.snapshot' && held.snapshot).toMatchObject({ value: { processing: { fulfilment: 'held' } } });
  });
});
