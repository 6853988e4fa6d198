-- "Is this reference one we submitted?" (a submit-request is logged before any submit is sent) is
-- asked for every warehouse status that arrives: by the gateway's grouped insert
-- (services/logistics/warehouse-arrival.ts) and by the logistics service. Answered from the
-- (reference, id) index, each probe read every log row of the reference and filtered on kind; the
-- prepared statement's generic plan, costed while the log was small, hashed a sequential scan of the
-- whole log instead, once per statement, for as long as the plan was kept (1,204 scans reading 2.8 M
-- rows in 1,500 orders of `npm run bench`). One entry per submitted reference makes the probe an
-- index lookup at any size.
create index if not exists warehouse_log_submitted_idx on warehouse_log (reference) where kind = 'submit-request';
