/** What neither a Postgres text column nor jsonb can hold: a NUL, a lone UTF-16 surrogate (`u`: a pair is one code point, no match). */
const UNSTORABLE = /\u0000|[\ud800-\udfff]/u;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'gu');

/**
 * The text with what Postgres cannot hold (a NUL character, a lone UTF-16 surrogate) replaced by
 * U+FFFD: for text columns that describe something we must store anyway (a request's headers, a dead
 * letter, a reference). Where it matters, the exact bytes are kept beside it in a bytea column.
 */
export function storableText(s: string): string {
  return s.replace(UNSTORABLE_ALL, '\ufffd');
}

/** Whether Postgres (text or jsonb) takes the text as it is: no NUL, no lone surrogate. */
export function isStorableText(s: string): boolean {
  return !UNSTORABLE.test(s);
}
