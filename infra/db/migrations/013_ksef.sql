-- KSeF (issue 13): the invoicing service's record of each document's KSeF stage, polled from the
-- invoicing system by the invoicing service's own loop (no blocking handler), and the KSeF files
-- (invoice XML, UPO) kept once accepted. Owned by services/invoicing.

alter table documents
  add column if not exists ksef_state          text,        -- null: outside KSeF | processing | offline | accepted | rejected
  add column if not exists ksef_gov_status     text,        -- the last raw gov_status read
  add column if not exists ksef_number         text,        -- gov_id
  add column if not exists ksef_link           text,        -- gov_verification_link
  add column if not exists ksef_code           text,        -- why not accepted (KSEF_REJECTED, KSEF_UNAVAILABLE, …)
  add column if not exists ksef_errors         jsonb,       -- gov_error_messages
  add column if not exists ksef_sends          integer not null default 0,  -- first send + admin resends
  add column if not exists ksef_outage_resends integer not null default 0,  -- resends after server_error in this send
  add column if not exists ksef_polls          integer not null default 0,  -- polls in this send
  add column if not exists ksef_sent_at        timestamptz,
  add column if not exists ksef_verdict_at     timestamptz,
  add column if not exists ksef_reported       text,        -- the verdict last reported to the order actor
  add column if not exists ksef_next_poll_at   timestamptz, -- due work (poll / report / files); null: nothing to do
  add column if not exists ksef_resend_command text;        -- id of the last admin resend command applied

create index if not exists documents_ksef_due_idx on documents (ksef_next_poll_at) where ksef_next_poll_at is not null;
create index if not exists documents_ksef_waiting_idx on documents (ksef_state) where ksef_state in ('processing', 'offline');

create table if not exists ksef_files (
  order_id     text not null,
  provider     text not null,
  provider_id  text not null,
  kind         text not null,         -- gov (the invoice XML) | gov_upo (the receipt, UPO)
  content      bytea not null,
  content_type text not null,
  fetched_at   timestamptz not null default now(),
  primary key (provider, provider_id, kind)
);
create index if not exists ksef_files_order_idx on ksef_files (order_id);
