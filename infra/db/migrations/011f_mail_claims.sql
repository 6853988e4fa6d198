-- Mail fencing: every claim on a document e-mail carries its own claim id, and every later change of
-- the row (renewing the lease, "sent", giving it back) is conditional on it, so a sender whose lease
-- expired cannot mark another sender's send. `sent-unknown`: the server may have taken the mail (the
-- connection broke after the message was handed over); MAIL_UNCERTAIN decides what follows.
alter table mail_deliveries add column if not exists claim_id text;
alter table mail_deliveries add column if not exists uncertain_sends integer not null default 0;
