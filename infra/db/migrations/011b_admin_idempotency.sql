-- Admin idempotency (gateway): an Idempotency-Key of an admin is bound to the first request it came
-- with — the order, the event type and the body — and to the answer that request got. A repeat gets
-- that answer again; the same key with anything else is refused (422 IDEMPOTENCY_KEY_REUSED).

create table if not exists admin_idempotency (
  admin        text not null,
  key          text not null,
  order_id     text not null,
  event_type   text not null,
  scope_hash   text not null,         -- sha256 of (order id, event type, canonical body)
  message_id   text not null,         -- the JetStream message id of the event, when one was sent
  status       integer,               -- the HTTP answer, null while the first request is in flight
  response     text,                  -- the JSON body exactly as first sent (a repeat gets the same bytes)
  created_at   timestamptz not null default now(),
  answered_at  timestamptz,
  primary key (admin, key)
);
