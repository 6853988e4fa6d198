import { describe, expect, it } from 'vitest';
import { summarizeHeapProfile } from './heap-profile-summary.ts';

const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber });

describe('heap profile summary (test/bench/heap-profile-summary.ts)', () => {
  it('sums self bytes over the whole call tree, by package or file and by function', () => {
    const s = summarizeHeapProfile({
      head: {
        callFrame: frame('(root)', ''),
        selfSize: 0,
        children: [
          {
            callFrame: frame('Bind', 'file:///app/node_modules/postgres/src/connection.js', 947),
            selfSize: 300,
            children: [{ callFrame: frame('replace', ''), selfSize: 200 }],
          },
          {
            callFrame: frame('write', 'file:///app/services/orders/order-store.ts', 9),
            selfSize: 100,
            children: [{ callFrame: frame('Bind', 'file:///app/node_modules/postgres/src/connection.js', 947), selfSize: 50 }],
          },
          { callFrame: frame('', 'node:buffer', 683), selfSize: 25 },
        ],
      },
    });
    expect(s.total).toBe(675);
    expect(s.byArea).toEqual([
      ['postgres', 350],
      ['(native / V8)', 200],
      ['services/orders/order-store.ts', 100],
      ['node:buffer', 25],
    ]);
    expect(s.byFunction[0]).toEqual(['Bind postgres:948', 350]);
    expect(s.byFunction.at(-1)).toEqual(['(anonymous) node:buffer:684', 25]);
  });
});
