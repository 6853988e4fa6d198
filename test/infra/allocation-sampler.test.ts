import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SAMPLER = path.resolve(import.meta.dirname, '../../infra/tools/allocation-sampler.cjs');

describe('allocation sampler (infra/tools/allocation-sampler.cjs)', () => {
  it('records what a process allocated, freed objects included, and sums it by function', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'alloc-sampler-'));
    // Allocates some 200 MiB of short-lived objects in one named function: the collectors free them
    // all, so a profile of what is still alive would show next to nothing of it.
    const program = `
      function churn() { const a = []; for (let i = 0; i < 100000; i++) a.push({ i, s: 'k' + i }); return a.length; }
      let n = 0; for (let k = 0; k < 20; k++) n += churn();
      console.log(n);`;
    await run(process.execPath, ['--require', SAMPLER, '-e', program, 'alloc-sampler-probe'], {
      env: { ...process.env, ALLOC_SAMPLE_FILE: path.join(dir, 'alloc'), ALLOC_SAMPLE_MATCH: 'alloc-sampler-probe' },
    });
    const files = readdirSync(dir).filter((f) => f.endsWith('.heapprofile'));
    expect(files).toHaveLength(1);
    const profile = JSON.parse(readFileSync(path.join(dir, files[0] as string), 'utf8')) as { head: unknown };
    expect(profile.head).toBeDefined();
    const { stdout } = await run(process.execPath, [SAMPLER, path.join(dir, files[0] as string), '5']);
    const churn = stdout.split('\n').find((l) => l.includes('churn '));
    expect(churn).toBeDefined();
    // Sampled, so not exact: most of it is there, and it leads the list by function.
    const mib = Number(/([\d.]+) MiB/.exec(churn ?? '')?.[1]);
    expect(mib).toBeGreaterThan(100);
    const byFunction = stdout.slice(stdout.indexOf('by function'));
    expect(byFunction.split('\n')[1]).toContain('churn ');
  });

  it('leaves a process whose command line does not match alone', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'alloc-sampler-'));
    await run(process.execPath, ['--require', SAMPLER, '-e', 'console.log(1)'], {
      env: { ...process.env, ALLOC_SAMPLE_FILE: path.join(dir, 'alloc'), ALLOC_SAMPLE_MATCH: 'some-other-process' },
    });
    expect(readdirSync(dir)).toEqual([]);
  });
});
