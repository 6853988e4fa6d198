-- Shop updates waiting for their shop (services/shops): an update whose shop was down, slow or
-- rate-limiting waits here with its next attempt instead of holding back its NATS partition, and every
-- later update of the same order waits behind it, so one order's updates still reach the shop in order.

create table if not exists shop_waiting (
  id               bigserial primary key,   -- arrival order: per (shop, order_id) the lowest id goes first
  shop             text not null,
  order_id         text not null,
  message_id       text not null unique,    -- the update's message id: a redelivery parks nothing new
  envelope         jsonb not null,          -- the shop-update message as it came
  attempts         integer not null default 0,  -- calls that failed so far (0: waiting behind another update)
  first_failed_at  timestamptz,             -- the first failure: after SHOPS_RETRY_HOURS the update is given up
  next_at          timestamptz not null default now(),
  claimed_until    timestamptz,             -- a worker's lease while it tries the update
  last_error       text,
  created_at       timestamptz not null default now()
);
create index if not exists shop_waiting_order_idx on shop_waiting (shop, order_id, id);
create index if not exists shop_waiting_due_idx on shop_waiting (next_at);
