-- Every admin event the gateway accepted (answered 202) reaches its order, whatever NATS lost
-- (gateway/admin-event-recheck.ts): the event as published is kept with the key's answer, and how
-- often the recheck sent it again. Walked by when it was answered, only rows that carry an event.
alter table admin_idempotency
  add column if not exists subject  text,
  add column if not exists envelope jsonb,
  add column if not exists replays  integer not null default 0;
create index if not exists admin_idempotency_sent_idx on admin_idempotency (answered_at) where envelope is not null;
