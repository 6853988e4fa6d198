-- Shop connectors (services/shops): every request to a shop and its answer, and per order how far
-- its shop has been brought up to date.

create table if not exists shop_log (
  id           bigserial primary key,
  shop         text not null,
  order_id     text,
  external_id  text,
  version      integer,                  -- the order version of the update this call belongs to
  call_key     text,                     -- <update message id>:<step>; a step logged ok is not sent again
  kind         text not null,            -- status | note | gave-up | skipped-stale
  method       text,
  url          text,
  request      text,
  http_status  integer,
  response     text,
  ok           boolean not null,
  error_code   text,
  summary      text not null,            -- one line for the order's shop timeline
  at           timestamptz not null default now()
);
create index if not exists shop_log_order_idx on shop_log (order_id, id);
create index if not exists shop_log_call_ok_idx on shop_log (call_key) where ok;

create table if not exists shop_order_state (
  shop          text not null,
  order_id      text not null,
  external_id   text not null,
  last_version  integer not null,        -- the newest update applied (or given up): older ones are stale
  last_status   text,                    -- the status last set at the shop
  updated_at    timestamptz not null default now(),
  primary key (shop, order_id)
);
