-- Replays respect verdicts: a webhook rejected on arrival (bad or stale signature) is replayed only
-- with `force` and a note; the note of the last replay and whether one was forced are kept.
alter table webhook_inbox add column if not exists replay_note text;
alter table webhook_inbox add column if not exists replay_forced boolean not null default false;
