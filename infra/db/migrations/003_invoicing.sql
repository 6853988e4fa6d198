-- Invoicing service bookkeeping: the sales document each order got from the invoicing system, and the
-- mailer's idempotency table (one e-mail per document). Order state itself stays in `orders`.

create table documents (
  id            bigserial primary key,
  order_id      text not null unique,
  provider      text not null,            -- e.g. fakturownia
  provider_id   text,                     -- the invoicing system's document id
  number        text,                     -- e.g. FV/12/03/2026
  issue_date    date,
  status        text not null,            -- issued | failed
  error_code    text,                     -- last failure (status failed)
  error_message text,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);
create unique index documents_provider_doc_idx on documents (provider, provider_id) where provider_id is not null;
create index documents_status_idx on documents (status, updated_at desc);

-- One row per document e-mail. `sent` rows make a redelivered or repeated send command a no-op;
-- a `sending` row is a claim (claimed_at) so two instances never send the same document at once;
-- `failed` means the last attempt failed and the e-mail may be tried again.
create table mail_deliveries (
  idempotency_key text primary key,       -- document:<provider>:<provider_id>
  order_id        text not null,
  recipient       text not null,
  status          text not null,          -- sending (claimed) | sent | failed (last attempt failed)
  message_id      text,                   -- the SMTP Message-ID of the sent mail
  attempts        integer not null default 0,
  claimed_at      timestamptz,
  sent_at         timestamptz,
  last_error      text,
  created_at      timestamptz not null default now()
);
create index mail_deliveries_order_idx on mail_deliveries (order_id);
