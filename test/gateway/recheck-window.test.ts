import { describe, expect, it } from 'vitest';
import { recheckWindow } from '../../gateway/recheck-window.ts';

describe('recheck window (where a gateway recheck reads next)', () => {
  it('after a start looks back the lookback; a full page goes on from its last row, a short one from the window end', () => {
    const hour = 3600_000;
    const t0 = Date.now();
    const c = recheckWindow({ graceMs: 60_000, lookbackMs: 24 * hour, maxRows: 2 });
    const first = c.next();
    // A gateway down for hours still reads what it accepted a day back (measured after the
    // start: t0 was taken before it, so from t0 the window may look a millisecond less far).
    expect(Date.now() - first.from.getTime()).toBeGreaterThanOrEqual(24 * hour);
    expect(t0 - first.from.getTime()).toBeLessThanOrEqual(24 * hour);
    expect(first.until.getTime()).toBeLessThanOrEqual(Date.now() - 60_000);
    const lastRow = new Date(t0 - 20 * hour);
    c.advance(first.until, 2, lastRow);
    expect(c.next().from).toEqual(lastRow);
    const second = c.next();
    c.advance(second.until, 1, new Date(t0 - 10 * hour));
    expect(c.next().from).toEqual(second.until);
  });

  it('defaults: a day back, 5,000 rows at a time', () => {
    const c = recheckWindow({ graceMs: 0 });
    expect(c.maxRows).toBe(5000);
    expect(Date.now() - c.next().from.getTime()).toBeGreaterThanOrEqual(24 * 3600_000);
  });
});
