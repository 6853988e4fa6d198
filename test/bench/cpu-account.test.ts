import { describe, expect, it } from 'vitest';
import { accountDiff, type AccountSnapshot } from './cpu-account.ts';

const snapshot = (o: Partial<AccountSnapshot>): AccountSnapshot => ({
  app: 0,
  driver: 0,
  pg: {},
  nats: 0,
  machine: { busy: 0, all: 0, steal: 0 },
  commits: 0,
  walBytes: 0,
  published: 0,
  delivered: 0,
  acked: 0,
  statements: NaN,
  byStatement: {},
  ...o,
});

describe('CPU accounting between two snapshots (test/bench/cpu-account.ts)', () => {
  it('charges CPU per order by process, the rest of the machine, and the share the hypervisor stole', () => {
    const a = snapshot({ app: 10, driver: 5, pg: { '101': 2 }, nats: 1, machine: { busy: 30, all: 100, steal: 1 }, commits: 1000 });
    // 100 orders later: a new backend (102) started during the phase; 4 s of the 40 s were stolen.
    const b = snapshot({ app: 11, driver: 5.5, pg: { '101': 2.2, '102': 0.1 }, nats: 1.2, machine: { busy: 50, all: 140, steal: 5 }, commits: 1400 });
    const d = accountDiff(a, b, 100);
    expect(d.cpuMsPerOrder.app).toBe(10);
    expect(d.cpuMsPerOrder.driver).toBe(5);
    expect(d.cpuMsPerOrder.postgresBackends).toBe(3);
    expect(d.cpuMsPerOrder.natsServer).toBe(2);
    expect(d.cpuMsPerOrder.machineBusy).toBe(200);
    expect(d.cpuMsPerOrder.restOfMachine).toBe(180);
    expect(d.cpuMsPerOrder.machineUtilisation).toBe(0.5);
    expect(d.cpuMsPerOrder.machineStealShare).toBe(0.1);
    expect(d.postgresCommitsPerOrder).toBe(4);
    expect(d.postgresStatementsPerOrder).toBeNull();
  });
});
