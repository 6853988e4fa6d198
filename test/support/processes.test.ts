import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChild } from './processes.ts';

// A module Node imports before the script when it is on the command line: proof the flags got there.
const MARKER = 'node-args-reached-the-command-line';
const importFlag = `--import=data:text/javascript,console.log(${JSON.stringify(MARKER)})`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'op-start-child-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('startChild options (the bench knobs BENCH_CHILD_NODE_OPTIONS and BENCH_CHILD_LOG)', () => {
  it('puts nodeArgs on the child\'s command line and appends its output to logFile', async () => {
    const logFile = path.join(dir, 'child.log');
    const child = await startChild('infra/cli/main.ts', ['help'], {}, 120_000, /orderpilot help/, { nodeArgs: [importFlag], logFile });
    const { code } = await child.exited;
    expect(code).toBe(0);
    expect(child.output()).toContain(MARKER);
    // The stream is ended when the child's pipes close; read once it has caught up.
    const deadline = Date.now() + 30_000;
    let logged = '';
    while (Date.now() < deadline && !(logged = await readFile(logFile, 'utf8').catch(() => '')).includes('orderpilot help')) await new Promise((r) => setTimeout(r, 50));
    expect(logged).toContain(MARKER);
    expect(logged).toContain('orderpilot help');
  });

  it('a log file that cannot be written costs the copy only: the child still starts and its output is kept', async () => {
    const child = await startChild('infra/cli/main.ts', ['help'], {}, 120_000, /orderpilot help/, { logFile: path.join(dir, 'no-such-dir', 'child.log') });
    expect((await child.exited).code).toBe(0);
    expect(child.output()).toContain('orderpilot help');
  });
});
