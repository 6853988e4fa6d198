import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Children still running: killed when this process exits, so a crashed test run leaves no orphans. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface Child {
  proc: ChildProcess;
  /** Resolves with the exit code / signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ChildOptions {
  /**
   * Node/V8 flags before the script, on the command line: for the V8 flags NODE_OPTIONS refuses
   * (`--trace-gc`, `--heap-growing-percent=…`).
   */
  nodeArgs?: readonly string[];
  /** Also append everything the child writes (stdout and stderr, as it comes) to this file. */
  logFile?: string;
}

/**
 * Starts a TypeScript entry point (relative to the repo root) in a real child process through tsx
 * and waits until its output matches `ready` (a line "ready" by default). Used to kill services at
 * chosen moments.
 */
export async function startChild(
  script: string,
  args: string[],
  env: Record<string, string>,
  readyTimeoutMs = 120_000,
  ready: RegExp = /^ready$/m,
  opts: ChildOptions = {},
): Promise<Child> {
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', path.join(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  let out = '';
  // Appended through a stream, not a synchronous write per chunk: the bench driver's event loop is what
  // answers the orderpilot process's calls to the sandboxes.
  let log = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : null;
  // A file that cannot be written (a missing directory, say) costs the copy, not the child or this
  // process: said once, then the output is kept in memory only.
  log?.on('error', (err) => {
    if (log === null) return;
    log = null;
    process.stderr.write(`${script}: not writing its output to ${opts.logFile ?? ''} (${err.message})\n`);
  });
  proc.once('close', () => log?.end());
  const take = (d: Buffer) => {
    out += d.toString();
    log?.write(d);
  };
  proc.stdout?.on('data', take);
  proc.stderr?.on('data', take);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await new Promise<void>((resolve, reject) => {
    // Not ready in time: the process is killed, never left running unwatched (a late-ready one would
    // go on consuming messages and holding connections that no one ends).
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${script} not ready in ${readyTimeoutMs} ms:\n${out}`));
    }, readyTimeoutMs);
    const onData = () => {
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout?.on('data', onData);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${e.code ?? e.signal}) before ready:\n${out}`));
    });
  });
  return {
    proc,
    exited,
    output: () => out,
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}
