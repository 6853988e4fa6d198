-- Retries under way, for people: a message a consumer failed with a retryable error and will see again
-- (attempt n of N, next try at, last error). Written only on the failure path (a nak), removed when
-- the message finally succeeds or is dead-lettered; the order page shows an order's rows.
create table if not exists pending_retries (
  consumer      text not null,
  message_id    text not null,
  order_id      text,
  subject       text not null,
  type          text,
  attempt       integer not null,
  max_attempts  integer not null,
  next_at       timestamptz not null,
  last_error    text not null,
  updated_at    timestamptz not null default now(),
  primary key (consumer, message_id)
);
create index if not exists pending_retries_order_idx on pending_retries (order_id);
