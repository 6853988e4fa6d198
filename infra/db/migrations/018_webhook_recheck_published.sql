-- The gateway's webhook recheck (gateway/webhook-recheck.ts) walks the webhook inbox by the time each
-- webhook's events were published: a walk by the time it was received moved past webhooks whose
-- publish mark (a deferred write) came later than the check, and never looked at them again.
create index if not exists webhook_inbox_published_idx on webhook_inbox (published_at) where published_at is not null;
