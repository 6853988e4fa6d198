-- Logistics: every message to and from the warehouse, raw, with order id, direction, status and time.
-- direction: out = we sent it to the warehouse; in = the warehouse's answer or webhook;
--            note = the logistics service's own verdict (rejected, gave up, unmatched, re-read).

create table warehouse_log (
  id           bigserial primary key,
  order_id     text,                      -- our order id when the reference matched an order
  reference    text,                      -- the reference the warehouse knows (= our order id)
  shipment_id  text,
  direction    text not null check (direction in ('out', 'in', 'note')),
  kind         text not null,            -- submit-request | submit-response | lookup-request | lookup-response | webhook | rejected | gave-up | re-read | unmatched | ...
  status       text,                      -- warehouse status, or our verdict
  http_status  integer,
  event_id     text,                      -- the warehouse's eventId (webhooks)
  dedupe_key   text unique,               -- webhooks: warehouse:<eventId>, so a redelivery logs once
  matched      boolean,                   -- webhooks: did the reference match an order?
  order_event  text,                      -- the order event it led to (HANDED_TO_CARRIER, DELIVERED, SHIPMENT_PROBLEM, ...)
  error_code   text,
  timeline     boolean not null default false, -- worth an admin's time (see warehouse-status.mapping.ts)
  summary      text,                      -- one line for the admin timeline
  raw          text not null,             -- the exact body sent or received
  headers      jsonb,
  occurred_at  timestamptz,               -- the warehouse's occurredAt (webhooks)
  at           timestamptz not null default now()
);
create index warehouse_log_order_idx on warehouse_log (order_id, id);
create index warehouse_log_reference_idx on warehouse_log (reference, id);
create index warehouse_log_unmatched_idx on warehouse_log (at desc) where matched = false;

-- The admin's filtered timeline: holds, rejections, hand-off (with tracking), delivery, failures,
-- unmatched statuses; not PICKING/PACKED chatter. Read through services/logistics/warehouse-timeline.ts.
create view warehouse_timeline as
  select id, order_id, reference, shipment_id, direction, kind, status, order_event, error_code, summary,
         coalesce(occurred_at, at) as occurred_at, at
  from warehouse_log
  where timeline;
