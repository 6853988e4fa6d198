// Where a Node process allocates (not what it keeps): V8's sampling heap profiler with the objects
// the young and old generation collectors freed kept in the profile, so the bytes per function are
// the allocation rate that drives GC. A preload, so it needs no change to the process it watches:
//
//   ALLOC_SAMPLE_FILE=/tmp/alloc ALLOC_SAMPLE_MATCH=bench-child \
//     BENCH_CHILD_NODE_OPTIONS="--require $PWD/infra/tools/allocation-sampler.cjs" npm run bench
//   node infra/tools/allocation-sampler.cjs /tmp/alloc.<pid>.heapprofile [rows]
//
// Every process whose command line contains ALLOC_SAMPLE_MATCH (all, when unset) writes its profile
// so far to <ALLOC_SAMPLE_FILE>.<pid>.heapprofile every ALLOC_SAMPLE_MS (30000; each dump allocates about the size of the profile) and at exit (the
// `.heapprofile` format Chrome's DevTools open). Run as a script, it sums a profile's sampled bytes
// by function and by package or file.
'use strict';
const fs = require('node:fs');

function startSampling() {
  const match = process.env.ALLOC_SAMPLE_MATCH;
  if (!process.env.ALLOC_SAMPLE_FILE || (match && !process.argv.some((a) => a.includes(match)))) return;
  const { Session } = require('node:inspector');
  const file = `${process.env.ALLOC_SAMPLE_FILE}.${process.pid}.heapprofile`;
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', {
    samplingInterval: Number(process.env.ALLOC_SAMPLE_INTERVAL ?? 16384),
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  // The in-process session answers synchronously, so this also works from an `exit` listener.
  const dump = () =>
    session.post('HeapProfiler.getSamplingProfile', (err, res) => {
      if (!err && res) fs.writeFileSync(file, JSON.stringify(res.profile));
    });
  setInterval(dump, Number(process.env.ALLOC_SAMPLE_MS ?? 30000)).unref();
  process.on('exit', dump);
}

/** Sums a sampling heap profile's bytes by function (with its file) and by package or file. */
function summarize(path, rows) {
  const profile = JSON.parse(fs.readFileSync(path, 'utf8'));
  const byFn = new Map();
  const byArea = new Map();
  let total = 0;
  const area = (url) => {
    if (!url) return '(native / V8)';
    const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (nm) return nm[1];
    if (url.startsWith('node:')) return url;
    const i = url.search(/\/(gateway|services|infra|machines|test)\//);
    return i >= 0 ? url.slice(i + 1) : url;
  };
  const walk = (node) => {
    const { functionName, url, lineNumber } = node.callFrame;
    if (node.selfSize > 0) {
      total += node.selfSize;
      const key = `${functionName || '(anonymous)'} ${area(url)}:${lineNumber + 1}`;
      byFn.set(key, (byFn.get(key) ?? 0) + node.selfSize);
      const a = area(url);
      byArea.set(a, (byArea.get(a) ?? 0) + node.selfSize);
    }
    for (const c of node.children ?? []) walk(c);
  };
  walk(profile.head);
  const show = (title, m) => {
    process.stdout.write(`\n${title}\n`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
      process.stdout.write(`${((100 * v) / total).toFixed(1).padStart(5)} %  ${(v / 1048576).toFixed(1).padStart(8)} MiB  ${k}\n`);
    }
  };
  process.stdout.write(`${(total / 1048576).toFixed(1)} MiB sampled in all\n`);
  show('by package or file', byArea);
  show('by function', byFn);
}

if (require.main === module) {
  const [path, rows] = process.argv.slice(2);
  if (!path) {
    process.stderr.write('usage: node infra/tools/allocation-sampler.cjs <profile.heapprofile> [rows]\n');
    process.exit(2);
  }
  summarize(path, Number(rows ?? 30));
} else {
  startSampling();
}
