-- The invoicing system's public link to a document's PDF (Fakturownia: /invoice/<token>.pdf), kept
-- with the document so a repeated command reports it too; shops get it in their "invoice issued" note.
alter table documents add column if not exists pdf_url text;
