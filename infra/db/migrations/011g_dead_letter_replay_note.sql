-- A dead letter's replay is recorded with who did it and why (the console asks for a note).
alter table dead_letters add column if not exists replay_note text;
