import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrdersService } from '../../services/orders/main.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';
import { createFakturowniaAdapter } from '../../services/invoicing/fakturownia.adapter.ts';
import { startInvoicingSandbox, type InvoicingSandbox } from '../../infra/sandbox/invoicing-sandbox.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { sampleOrder } from '../support/orders.ts';
import { commandsIn, orderRow, placeAndPay } from './support.ts';

/**
 * A second document at the invoicing system is never taken silently, and the look-up reads every
 * page of the provider's list (real services, the sandbox over HTTP).
 */
let t: TestContext;
let sandbox: InvoicingSandbox;
const services: RunningService[] = [];

beforeAll(async () => {
  sandbox = await startInvoicingSandbox();
  t = await createTestContext({ FAKTUROWNIA_URL: sandbox.url, FAKTUROWNIA_API_TOKEN: sandbox.apiToken, FAKTUROWNIA_TIMEOUT_MS: '5000' });
  services.push(await startOrdersService(t), await startInvoicingService(t));
}, 120_000);
afterAll(async () => {
  for (const s of services.reverse()) await s.stop();
  await t?.cleanup();
  await sandbox?.close();
});

/** An invoice made by hand at the invoicing system (no `oid_unique`: the UI does not send it). */
async function byHand(oid: string, name = 'Ręcznie'): Promise<{ id: number; number: string }> {
  const res = await fetch(`${sandbox.url}/invoices.json`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      api_token: sandbox.apiToken,
      invoice: { kind: 'vat', oid, buyer_name: name, positions: [{ name: 'Kubek', tax: 23, quantity: 1, total_price_gross: '65.00' }] },
    }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: number; number: string };
}

describe('documents at the invoicing system', () => {
  it('the look-up by order reads every page: an order whose document is on page 3 is found', async () => {
    const order = sampleOrder();
    // The provider's oid filter is a search: 230 other documents also "contain" this order id.
    for (let i = 0; i < 230; i++) await byHand(`${order.orderId}-other-${i}`);
    const mine = await byHand(order.orderId);
    const adapter = createFakturowniaAdapter({ baseUrl: sandbox.url, apiToken: sandbox.apiToken, timeoutMs: 5000 });
    expect((await adapter.findByOrder(order.orderId))?.providerId).toBe(String(mine.id));
    expect((await adapter.findAllByOrder(order.orderId)).map((d) => d.providerId)).toEqual([String(mine.id)]);
  });

  it('two documents for one order: the oldest is the order’s, and an admin is told (critical) which are extra', { timeout: 120_000 }, async () => {
    const order = sampleOrder();
    const first = await byHand(order.orderId, 'Pierwsza');
    const second = await byHand(order.orderId, 'Druga');
    await placeAndPay(t.nc, t.names, order);
    await eventually(async () => (await orderRow(t.sql, order.orderId))?.snapshot.context.document?.providerId === String(first.id), 'the oldest document on the order', 40_000);
    const notices = await eventually(async () => {
      const found = (await commandsIn(t.nc, t.names, 'notify')).filter((e) => e.orderId === order.orderId && (e.payload as { code?: string }).code === 'DOCUMENT_DUPLICATE');
      return found.length > 0 ? found : undefined;
    }, 'duplicate notification', 40_000);
    expect(notices).toHaveLength(1);
    const payload = notices[0]!.payload as { severity: string; message: string; externalId: string };
    expect(payload.severity).toBe('critical');
    expect(payload.externalId).toBe(order.externalId);
    expect(payload.message).toContain(first.number);
    expect(payload.message).toContain(`${second.number} (id ${second.id}) is a duplicate`);
    // Nothing new was issued: the order took the document that exists.
    expect(sandbox.invoices().filter((i) => i.oid === order.orderId)).toHaveLength(2);
  });
});
