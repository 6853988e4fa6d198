-- Admin notifications: one inbox for everything an admin must know, and its deliveries (e-mail, webhook).

create table notifications (
  id               bigserial primary key,
  kind             text not null,               -- order.held | document.failed | payment.mismatch | dead-letter | …
  severity         text not null check (severity in ('info', 'warning', 'critical')),
  code             text not null,               -- error / reason code (OUT_OF_STOCK, RETRIES_EXHAUSTED, …)
  order_id         text,
  external_id      text,
  message          text not null,
  -- Same problem on the same order: at most one unacknowledged row per key (repeats only count up).
  dedupe_key       text not null,
  occurrences      integer not null default 1,
  source           text not null,               -- the message id (or dead letter) that raised it first
  created_at       timestamptz not null default now(),
  last_seen_at     timestamptz not null default now(),
  acknowledged_at  timestamptz,
  acknowledged_by  text
);
create unique index notifications_open_key_idx on notifications (dedupe_key) where acknowledged_at is null;
create index notifications_open_idx on notifications (created_at desc, id desc) where acknowledged_at is null;
create index notifications_created_idx on notifications (created_at desc, id desc);
create index notifications_order_idx on notifications (order_id, id) where order_id is not null;

-- One row per notification and channel; a burst of pending rows goes out as one digest.
create table notification_deliveries (
  id              bigserial primary key,
  notification_id bigint not null references notifications (id) on delete cascade,
  channel         text not null check (channel in ('email', 'webhook')),
  status          text not null default 'pending' check (status in ('pending', 'sending', 'sent', 'failed', 'skipped')),
  attempts        integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  claimed_until   timestamptz,
  batch_id        text,                          -- the digest it went out in
  sent_at         timestamptz,
  error           text,
  created_at      timestamptz not null default now(),
  unique (notification_id, channel)
);
create index notification_deliveries_due_idx on notification_deliveries (channel, id) where status in ('pending', 'sending');
