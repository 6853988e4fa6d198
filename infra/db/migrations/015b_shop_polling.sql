-- Shops that are polled (Magento 2): where the poller is in each shop's order list, and the order id
-- each polled shop order was given (the shops service places these orders itself).

create table if not exists shop_poll_cursor (
  shop        text primary key,
  updated_at  text not null,            -- the shop's updated_at of the last order taken ("YYYY-MM-DD HH:MM:SS", UTC)
  entity_id   bigint not null,          -- its entity_id: orders updated in the same second are taken in entity_id order
  at          timestamptz not null default now()
);

create table if not exists shop_intake (
  shop         text not null,
  external_id  text not null,
  order_id     text not null unique,
  created_at   timestamptz not null default now(),
  primary key (shop, external_id)
);
