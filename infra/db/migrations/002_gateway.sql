-- Gateway: the webhook inbox (every webhook request, raw, before anything else happens) and the
-- order intake (the shop's externalId is the idempotency key of POST /orders).

create table webhook_inbox (
  id            bigserial primary key,
  provider      text not null,                 -- stripe | payu | warehouse | ...
  dedupe_key    text not null unique,          -- provider + provider event id; insert-once
  event_type    text,                          -- the provider's event type / status
  signature     text not null,                 -- valid | invalid
  verdict       text not null,                 -- accepted | recorded | invalid | unmatched | mismatch
  detail        text,                          -- why (human readable)
  order_id      text,                          -- orderpilot's order id when matched
  external_ref  text,                          -- the order reference the provider sent
  headers       jsonb not null,
  body          bytea not null,                -- the exact bytes received (signatures are over these)
  message_ids   text[] not null default '{}',  -- what was published for it
  received_at   timestamptz not null default now(),
  published_at  timestamptz,
  replay_count  integer not null default 0,
  replayed_at   timestamptz,
  replayed_by   text
);
create index webhook_inbox_received_idx on webhook_inbox (received_at desc, id desc);
create index webhook_inbox_verdict_idx on webhook_inbox (verdict, received_at desc, id desc);

create table order_intake (
  external_id  text primary key,
  order_id     text not null unique,
  body_hash    text not null,                  -- sha256 of the canonical request body
  total        bigint not null,                -- minor units
  currency     text not null,
  order_data   jsonb not null,                 -- the ORDER_PLACED payload's order, republished as is
  created_at   timestamptz not null default now(),
  published_at timestamptz
);
