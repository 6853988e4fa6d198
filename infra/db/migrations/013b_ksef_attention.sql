-- KSeF in the console (issue 13): "needs attention" lists rejected documents and documents waiting
-- longer than KSEF_ATTENTION_MS for KSeF, oldest first; this keeps that read off a full scan of
-- `documents` (only documents not yet accepted are in the index). Owned by services/invoicing.
create index if not exists documents_ksef_attention_idx on documents (ksef_sent_at) where ksef_state in ('processing', 'offline', 'rejected');
