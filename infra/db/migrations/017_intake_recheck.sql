-- The gateway's intake recheck (gateway/intake-recheck.ts) walks order_intake by time: every order it
-- accepted must come to exist, whatever NATS lost.
create index if not exists order_intake_created_idx on order_intake (created_at);
