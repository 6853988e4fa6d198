import type { Sql } from '../db/postgres.ts';
import type { SandboxInvoice } from '../sandbox/invoicing-sandbox.ts';
import type { SandboxShipment, WarehouseFaultPlan } from '../sandbox/warehouse-sandbox.ts';

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
  };
}
