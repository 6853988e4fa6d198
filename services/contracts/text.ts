/**
 * The text with what Postgres cannot hold (a NUL character, a lone UTF-16 surrogate) replaced by
 * U+FFFD: for text columns that describe something we must store anyway (a request's headers, a dead
 * letter, a reference). Where it matters, the exact bytes are kept beside it in a bytea column.
 */
export function storableText(s: string): string {
  return s.replace(/\u0000|[\ud800-\udfff]/gu, '\ufffd');
}
