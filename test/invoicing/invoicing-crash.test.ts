import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrdersService } from '../../services/orders/main.ts';
import { startInvoicingSandbox, type InvoicingSandbox } from '../../infra/sandbox/invoicing-sandbox.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { startServiceChild } from '../support/child-process.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { sampleOrder } from '../support/orders.ts';
import { orderRow, placeAndPay } from './support.ts';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'invoicing-child.ts');
let t: TestContext;
let sandbox: InvoicingSandbox;
let orders: RunningService;
const children: ChildProcess[] = [];

/** Starts the invoicing service in a child process and waits until it consumes. */
async function startChild(extraEnv: Record<string, string>) {
  const started = await startServiceChild(CHILD, { ...process.env, ...t.env, FAKTUROWNIA_URL: sandbox.url, FAKTUROWNIA_API_TOKEN: sandbox.apiToken, ...extraEnv });
  children.push(started.child);
  return started;
}

beforeAll(async () => {
  sandbox = await startInvoicingSandbox();
  t = await createTestContext();
  orders = await startOrdersService(t);
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await orders?.stop();
  await t?.cleanup();
  await sandbox?.close();
});

describe('invoicing service killed between the provider’s answer and the save', () => {
  it('after a restart the order still has exactly one document', async () => {
    const first = await startChild({ TEST_KILL_AFTER_PROVIDER_ANSWER: '1' });
    const order = sampleOrder();
    await placeAndPay(t.nc, t.names, order);
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The provider issued it; nothing was saved or reported.
    expect(sandbox.invoices().filter((i) => i.oid === order.orderId)).toHaveLength(1);
    expect(await t.sql`select 1 from documents where order_id = ${order.orderId}`).toHaveLength(0);
    expect((await orderRow(t.sql, order.orderId))?.document_state).toBe('requested');

    const second = await startChild({});
    await eventually(async () => (await orderRow(t.sql, order.orderId))?.document_state === 'issued', 'document issued after restart', 30_000);
    const invoices = sandbox.invoices().filter((i) => i.oid === order.orderId);
    expect(invoices).toHaveLength(1);
    expect((await orderRow(t.sql, order.orderId))?.snapshot.context.document).toMatchObject({ providerId: String(invoices[0]?.id), number: invoices[0]?.number });
    expect(await t.sql`select provider_id from documents where order_id = ${order.orderId}`).toEqual([{ provider_id: String(invoices[0]?.id) }]);
    // A graceful stop: SIGTERM finishes in-flight work and exits 0.
    second.child.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
  });
});
