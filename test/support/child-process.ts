import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type ChildExit = { code: number | null; signal: NodeJS.Signals | null };

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Starts a service script in a child process (tsx, from the project root) and resolves once it
 * prints `ready` on stdout; rejects with its stderr if it exits first. The caller kills it
 * (SIGKILL in the crash tests) and may await `exited`.
 */
export async function startServiceChild(script: string, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; exited: Promise<ChildExit> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<ChildExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let out = '';
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    void exited.then(({ code, signal }) => reject(new Error(`child exited early (${code ?? signal}): ${out}`)));
  });
  return { child, exited };
}
