-- Console sessions (gateway): the cookie holds a random session id, never the admin token; only its
-- SHA-256 is stored. A session expires (CONSOLE_SESSION_HOURS) and is revoked at sign-out.
create table if not exists console_sessions (
  id_hash     text primary key,
  admin       text not null,
  created_at  timestamptz not null default now(),
  expires_at  timestamptz not null,
  revoked_at  timestamptz
);
create index if not exists console_sessions_expires_idx on console_sessions (expires_at);
