import { describe, expect, it } from 'vitest';
import { formatLogLine } from './log-format.ts';

describe('human-readable log lines (the demo terminal)', () => {
  it('time, level, service, message, then the other fields as key=value', () => {
    const at = new Date(2026, 0, 2, 3, 4, 5).getTime();
    const line = JSON.stringify({ level: 40, time: at, pid: 1, hostname: 'h', name: 'orderpilot', service: 'invoicing', orderId: 'ord_1', attempt: 2, msg: 'invoicing system failed; retrying', err: { code: 'TIMEOUT', message: 'timed out' } });
    expect(formatLogLine(line)).toBe('03:04:05 WARN  [invoicing] invoicing system failed; retrying  orderId=ord_1 attempt=2 err="TIMEOUT: timed out"\n');
  });

  it('passes anything that is not a pino line through unchanged', () => {
    expect(formatLogLine('plain text')).toBe('plain text');
  });
});
