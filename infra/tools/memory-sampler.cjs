// Memory and CPU of a Node process over time, for finding where its RSS goes (README, "Memory of
// the orderpilot process"). A preload, so it needs no change to the process it watches:
//
//   MEMORY_SAMPLE_FILE=/tmp/mem MEMORY_SAMPLE_MATCH=bench-child \
//     NODE_OPTIONS="--require $PWD/infra/tools/memory-sampler.cjs" npm run bench
//
// Every process whose command line contains MEMORY_SAMPLE_MATCH (all, when unset) appends a line
// every MEMORY_SAMPLE_MS (200) to <MEMORY_SAMPLE_FILE>.<pid>: RSS, V8 heap total/used, external,
// array buffers, the V8 spaces' sizes, RssAnon/RssFile/VmHWM from /proc, GC pause time (young and
// full generation, from perf_hooks), the process's CPU and its main thread's time on a CPU and
// runnable-but-waiting (/proc/<pid>/task/<pid>/schedstat). All MiB or ms, cumulative where it adds up.
'use strict';
const match = process.env.MEMORY_SAMPLE_MATCH;
if (process.env.MEMORY_SAMPLE_FILE && (!match || process.argv.some((a) => a.includes(match)))) {
  const fs = require('node:fs');
  const v8 = require('node:v8');
  const { PerformanceObserver, constants } = require('node:perf_hooks');
  const fd = fs.openSync(`${process.env.MEMORY_SAMPLE_FILE}.${process.pid}`, 'w');
  const mib = (x) => Math.round(x / 1048576);
  const t0 = Date.now();
  const gc = { young: 0, full: 0, fullCount: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        gc.full += e.duration;
        gc.fullCount++;
      } else gc.young += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  const fromProc = (file, keys) => {
    try {
      const text = fs.readFileSync(file, 'utf8');
      return keys.map((k) => `${k}=${Math.round(Number(new RegExp(`${k}:\\s+(\\d+)`).exec(text)?.[1]) / 1024)}`).join(' ');
    } catch {
      return '';
    }
  };
  const schedstat = () => {
    try {
      const [run, wait] = fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number);
      return `mainOnCpuMs=${Math.round(run / 1e6)} mainWaitingForCpuMs=${Math.round(wait / 1e6)}`;
    } catch {
      return '';
    }
  };
  setInterval(() => {
    const m = process.memoryUsage();
    const cpu = process.cpuUsage();
    const spaces = v8.getHeapSpaceStatistics().map((s) => `${s.space_name.replace('_space', '')}=${mib(s.space_size)}`).join(',');
    fs.writeSync(
      fd,
      `${new Date().toISOString()} t=${((Date.now() - t0) / 1000).toFixed(1)} rss=${mib(m.rss)} heapTotal=${mib(m.heapTotal)} heapUsed=${mib(m.heapUsed)} external=${mib(m.external)} arrayBuffers=${mib(m.arrayBuffers)} ` +
        `${fromProc('/proc/self/status', ['RssAnon', 'RssFile', 'VmHWM'])} gcYoungMs=${Math.round(gc.young)} gcFullMs=${Math.round(gc.full)} gcFull=${gc.fullCount} ` +
        `cpuMs=${Math.round((cpu.user + cpu.system) / 1000)} ${schedstat()} spaces=${spaces}\n`,
    );
  }, Number(process.env.MEMORY_SAMPLE_MS) || 200).unref();
}
