-- Order core: orders, their history, the transactional outbox, the consumer inbox, timers, dead letters.

create table orders (
  id              text primary key,
  external_id     text not null unique,
  state           text not null,                -- summary: pending|paid|processing|inShipment|held|closed|cancelled
  document_state  text not null default 'none', -- none|requested|issued|emailed|failed
  state_value     jsonb not null,               -- the full XState state value
  snapshot        jsonb not null,               -- { value, context, status }
  machine_version text not null,
  version         integer not null,             -- row version for optimistic concurrency
  customer_email  text not null,
  hold_code       text,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);
create index orders_state_created_idx on orders (state, created_at desc, id desc);
create index orders_created_idx on orders (created_at desc, id desc);

-- Every event offered to an order: applied or ignored, with from -> to. Admins read this.
create table order_history (
  id          bigserial primary key,
  order_id    text not null,
  message_id  text not null,
  type        text not null,
  source      text not null,      -- the NATS subject / consumer it came through
  outcome     text not null,      -- created | applied | ignored
  from_state  text,
  to_state    text,
  from_value  jsonb,
  to_value    jsonb,
  payload     jsonb not null,
  actor       text,
  note        text,
  occurred_at timestamptz not null,
  at          timestamptz not null default now()
);
create index order_history_order_idx on order_history (order_id, id);

-- Transactional outbox: written in the same transaction as the state change, published by the relay.
create table outbox (
  seq        bigserial primary key,
  id         text not null unique,   -- the envelope id = JetStream message id
  order_id   text,
  subject    text not null,
  envelope   jsonb not null,
  created_at timestamptz not null default now(),
  sent_at    timestamptz
);
create index outbox_unsent_idx on outbox (seq) where sent_at is null;

-- Consumer inbox: a message id processed by a consumer is never applied again.
create table processed_messages (
  consumer     text not null,
  message_id   text not null,
  processed_at timestamptz not null default now(),
  primary key (consumer, message_id)
);

-- Durable timers (delayed transitions survive restarts). A fired timer becomes an outbox row.
create table timers (
  id         text primary key,
  order_id   text not null,
  kind       text not null,
  fire_at    timestamptz not null,
  subject    text not null,
  envelope   jsonb not null,
  created_at timestamptz not null default now(),
  unique (order_id, kind)
);
create index timers_fire_idx on timers (fire_at);

-- Messages a consumer gave up on: visible to admins, replayable.
create table dead_letters (
  id            bigserial primary key,
  consumer      text not null,
  stream        text,
  subject       text not null,
  message_id    text,
  order_id      text,
  data          text not null,
  error_code    text not null,
  error_message text not null,
  deliveries    integer not null,
  created_at    timestamptz not null default now(),
  replayed_at   timestamptz,
  replayed_by   text
);
create index dead_letters_open_idx on dead_letters (created_at desc) where replayed_at is null;
