-- A dead letter can always be recorded: its text columns hold sanitised text (what Postgres cannot
-- store, NUL and lone surrogates, becomes U+FFFD) and `raw` keeps the message's exact bytes, which a
-- replay publishes as they were.
alter table dead_letters add column if not exists raw bytea;
