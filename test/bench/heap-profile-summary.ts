/**
 * Sums a sampling heap profile (`BENCH_HEAP_PROF_DIR`'s `.heapprofile`: every allocation sampled,
 * what the collectors freed included, so the bytes are the allocation rate GC pays for) by package
 * or file and by function — the heap counterpart of the peer's `profile-summary.mjs`:
 *
 *   npx tsx test/bench/heap-profile-summary.ts <dir>/HEAP.bench-*.heapprofile [rows]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children?: ProfileNode[];
}

export interface HeapSummary {
  /** Bytes sampled in all. */
  total: number;
  /** Bytes by npm package, `node:` module, our own file (from its top folder on), or `(native / V8)`; largest first. */
  byArea: Array<[string, number]>;
  /** Bytes by `function area:line`; largest first. */
  byFunction: Array<[string, number]>;
}

function areaOf(url: string): string {
  if (url === '') return '(native / V8)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith('node:')) return url;
  const i = url.search(/\/(gateway|services|infra|machines|test)\//);
  return i >= 0 ? url.slice(i + 1) : url;
}

export function summarizeHeapProfile(profile: { head: ProfileNode }): HeapSummary {
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  const stack: ProfileNode[] = [profile.head];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const { functionName, url, lineNumber } = node.callFrame;
    if (node.selfSize > 0) {
      total += node.selfSize;
      add(byArea, areaOf(url), node.selfSize);
      add(byFunction, `${functionName || '(anonymous)'} ${areaOf(url)}:${lineNumber + 1}`, node.selfSize);
    }
    stack.push(...(node.children ?? []));
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { total, byArea: sorted(byArea), byFunction: sorted(byFunction) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, rows = '30'] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write('usage: npx tsx test/bench/heap-profile-summary.ts <file.heapprofile> [rows]\n');
    process.exit(2);
  }
  const s = summarizeHeapProfile(JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode });
  const mib = (x: number) => (x / 1048576).toFixed(1).padStart(8);
  const show = (title: string, list: Array<[string, number]>) => {
    process.stdout.write(`\n${title}\n`);
    for (const [k, v] of list.slice(0, Number(rows))) process.stdout.write(`${((100 * v) / s.total).toFixed(1).padStart(5)} %  ${mib(v)} MiB  ${k}\n`);
  };
  process.stdout.write(`${mib(s.total).trim()} MiB sampled in all\n`);
  show('by package or file', s.byArea);
  show('by function', s.byFunction);
}
