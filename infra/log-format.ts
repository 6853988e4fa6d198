/**
 * Human-readable log lines for a terminal (the demo): `12:03:04 WARN  [invoicing] message  key=value`.
 * pino writes JSON lines into `humanLogStream`, which rewrites each one; anything that is not a pino
 * line passes through unchanged. Production keeps JSON (for log collectors).
 */
const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'service', 'v']);

function showValue(v: unknown): string {
  if (typeof v === 'string') return /\s/.test(v) ? JSON.stringify(v) : v;
  if (v !== null && typeof v === 'object' && 'message' in v && typeof (v as { message: unknown }).message === 'string') {
    const e = v as { message: string; code?: unknown };
    return JSON.stringify(typeof e.code === 'string' ? `${e.code}: ${e.message}` : e.message);
  }
  return JSON.stringify(v);
}

export function formatLogLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof rec !== 'object' || rec === null || typeof rec['level'] !== 'number') return line;
  const time = typeof rec['time'] === 'number' ? new Date(rec['time']) : new Date();
  const hh = [time.getHours(), time.getMinutes(), time.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  const level = (LEVEL_NAMES[rec['level']] ?? String(rec['level'])).padEnd(5);
  const service = typeof rec['service'] === 'string' ? `[${rec['service']}] ` : '';
  const extras = Object.entries(rec)
    .filter(([k, v]) => !HIDDEN_KEYS.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${showValue(v)}`)
    .join(' ');
  return `${hh} ${level} ${service}${String(rec['msg'] ?? '')}${extras ? `  ${extras}` : ''}\n`;
}

export function humanLogStream(out: NodeJS.WritableStream): { write(chunk: string): boolean } {
  return { write: (chunk: string) => out.write(formatLogLine(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk)) };
}
