import type { Sql } from '../db/postgres.ts';
import type { SandboxInvoice } from '../sandbox/invoicing-sandbox.ts';
import type { SandboxShipment, WarehouseFaultPlan } from '../sandbox/warehouse-sandbox.ts';
import type { StripeSandboxPayment } from '../sandbox/stripe-sandbox.ts';

/**
 * Where the demo keeps the sandbox providers' state, so a restart behaves like a real provider that
 * stayed up: the invoicing system still knows its documents (a re-sent issue finds the one it made,
 * never a second), the warehouse still knows its shipments and walks the unfinished ones on.
 *
 * It lives in its own schema (`sandbox`) of the demo's database, created here: it is not orderpilot's
 * data, so it is not one of orderpilot's migrations.
 */
export interface SandboxStateStore {
  invoices(): Promise<SandboxInvoice[]>;
  saveInvoice(invoice: SandboxInvoice): Promise<void>;
  shipments(): Promise<Array<{ shipment: SandboxShipment; plan: WarehouseFaultPlan }>>;
  saveShipment(shipment: SandboxShipment, plan: WarehouseFaultPlan): Promise<void>;
  /** The shop sandboxes' orders (WooCommerce keeps its notes beside each order). */
  shopOrders<O>(shop: string): Promise<Array<{ order: O; notes: unknown[] }>>;
  saveShopOrder(shop: string, id: number, order: unknown, notes?: unknown[]): Promise<void>;
  /** Stripe's payments and what was refunded of each (a cancel after a restart refunds what Stripe has). */
  stripePayments(): Promise<Array<{ paymentIntent: string } & StripeSandboxPayment>>;
  saveStripePayment(paymentIntent: string, payment: StripeSandboxPayment): Promise<void>;
}

export async function createSandboxStateStore(sql: Sql): Promise<SandboxStateStore> {
  await sql.unsafe(`
    create schema if not exists sandbox;
    create table if not exists sandbox.invoices (
      id      integer primary key,
      oid     text,
      data    jsonb not null,
      at      timestamptz not null default now()
    );
    create table if not exists sandbox.shipments (
      shipment_id text primary key,
      reference   text not null unique,
      status      text not null,
      plan        jsonb not null,
      data        jsonb not null,
      at          timestamptz not null default now()
    );
    create table if not exists sandbox.stripe_payments (
      payment_intent text primary key,
      data           jsonb not null,
      at             timestamptz not null default now()
    );
    create table if not exists sandbox.shop_orders (
      shop   text not null,
      id     bigint not null,
      data   jsonb not null,
      notes  jsonb not null default '[]',
      at     timestamptz not null default now(),
      primary key (shop, id)
    );
  `);
  return {
    async invoices() {
      const rows = await sql<{ data: SandboxInvoice }[]>`select data from sandbox.invoices order by id`;
      return rows.map((r) => r.data);
    },
    async saveInvoice(invoice) {
      await sql`insert into sandbox.invoices (id, oid, data) values (${invoice.id}, ${invoice.oid}, ${sql.json(invoice as never)})
                on conflict (id) do update set data = excluded.data`;
    },
    async shipments() {
      const rows = await sql<{ data: SandboxShipment; plan: WarehouseFaultPlan }[]>`select data, plan from sandbox.shipments order by at`;
      return rows.map((r) => ({ shipment: r.data, plan: r.plan }));
    },
    async saveShipment(shipment, plan) {
      await sql`insert into sandbox.shipments (shipment_id, reference, status, plan, data)
                values (${shipment.shipmentId}, ${shipment.reference}, ${shipment.status}, ${sql.json(plan as never)}, ${sql.json(shipment as never)})
                on conflict (shipment_id) do update set status = excluded.status, data = excluded.data, at = now()`;
    },
    async stripePayments() {
      const rows = await sql<{ payment_intent: string; data: StripeSandboxPayment }[]>`select payment_intent, data from sandbox.stripe_payments`;
      return rows.map((r) => ({ paymentIntent: r.payment_intent, ...r.data }));
    },
    async saveStripePayment(paymentIntent, payment) {
      await sql`insert into sandbox.stripe_payments (payment_intent, data) values (${paymentIntent}, ${sql.json(payment as never)})
                on conflict (payment_intent) do update set data = excluded.data, at = now()`;
    },
    async shopOrders<O>(shop: string) {
      const rows = await sql<{ data: O; notes: unknown[] }[]>`select data, notes from sandbox.shop_orders where shop = ${shop} order by id`;
      return rows.map((r) => ({ order: r.data, notes: r.notes }));
    },
    async saveShopOrder(shop, id, order, notes = []) {
      await sql`insert into sandbox.shop_orders (shop, id, data, notes) values (${shop}, ${id}, ${sql.json(order as never)}, ${sql.json(notes as never)})
                on conflict (shop, id) do update set data = excluded.data, notes = excluded.notes, at = now()`;
    },
  };
}
