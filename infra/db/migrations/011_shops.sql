-- Shops authenticate at intake (SHOP_KEYS): an order records its shop, and the shop's externalId is
-- unique per shop (two shops may use the same number). Orders placed before shop keys keep '' as
-- their shop. Written to be safe when re-run by hand (if exists / if not exists everywhere).

alter table order_intake add column if not exists shop text not null default '';
alter table order_intake drop constraint if exists order_intake_pkey;
do $$ begin
  if not exists (select 1 from pg_constraint where conrelid = 'order_intake'::regclass and conname = 'order_intake_shop_external_id_pkey') then
    alter table order_intake add constraint order_intake_shop_external_id_pkey primary key (shop, external_id);
  end if;
end $$;
-- A payment reference that is a bare externalId is looked up across shops.
create index if not exists order_intake_external_id_idx on order_intake (external_id);

-- The orders service's row: the shop comes from the stored order itself (ORDER_PLACED carries it), so
-- the host's insert is unchanged; uniqueness moves from externalId to (shop, externalId).
alter table orders add column if not exists shop text generated always as (coalesce(snapshot #>> '{context,order,shop}', '')) stored;
alter table orders drop constraint if exists orders_external_id_key;
create unique index if not exists orders_shop_external_id_key on orders (shop, external_id);
create index if not exists orders_external_id_idx on orders (external_id);
