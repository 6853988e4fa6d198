import { expect } from 'vitest';

/** Asserts `expected` appear in `actual` in this order (other entries may sit between); a RegExp matches an entry. */
export function expectInOrder(actual: string[], expected: Array<string | RegExp>): void {
  let at = -1;
  for (const e of expected) {
    const i = actual.findIndex((a, k) => k > at && (typeof e === 'string' ? a === e : e.test(a)));
    expect(i, `"${String(e)}" after position ${at} in:\n${actual.join('\n')}`).toBeGreaterThan(at);
    at = i;
  }
}
