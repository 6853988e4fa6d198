-- Refunds (issue 12): the payments service's own record of every refund it was asked for, keyed by
-- our refund id (`<orderId>:refund:<n>`, the provider's idempotency key / extRefundId). Owned by
-- services/payments. Order state stays in `orders` (REFUND_COMPLETED / REFUND_FAILED).

create table if not exists refunds (
  refund_id          text primary key,
  order_id           text not null,
  provider           text not null,            -- stripe | payu
  payment_id         text not null,            -- the provider's payment (Stripe payment intent, PayU order id)
  amount             bigint not null,          -- minor units
  currency           text not null,
  reason             text not null,
  status             text not null,            -- requested | refunded | failed
  provider_refund_id text,
  attempts           integer not null default 0,
  error_code         text,
  error_message      text,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now()
);
create index if not exists refunds_order_idx on refunds (order_id);
create index if not exists refunds_status_idx on refunds (status, updated_at desc);

-- Corrections (issue 12): a correction document is a row of `documents` of its own (its oid is the
-- correction id), so the KSeF poller follows it like any document; `parent_order_id` names the order.
alter table documents
  add column if not exists kind            text not null default 'invoice',   -- invoice | correction
  add column if not exists parent_order_id text;
create index if not exists documents_parent_idx on documents (parent_order_id) where parent_order_id is not null;
