import v8 from 'node:v8';

/**
 * How far V8 lets the old generation grow past what survived the last full GC before it collects
 * again. V8's own policy allows up to 4× on a machine with much memory (its heap limit is then
 * large): an orderpilot process keeps ~60–100 MiB alive, but under load much of its short work (a
 * message waiting for a commit, an HTTP call to a provider, a group-commit statement's JSON
 * parameter, which is a large object and goes straight to the old generation) lives long enough
 * to be promoted, so the old generation filled with garbage to 3–4× the live heap before the next
 * full GC, and that high-water mark stays resident (`npm run bench`: ~200 MiB of old generation
 * around ~60 MiB alive, peak RSS 368–447 MiB). A smaller growth factor runs full GCs (mostly
 * concurrent marking) more often instead; it is a policy, not a limit, so it never turns into an
 * out-of-memory crash.
 *
 * `--heap-growing-percent` is read whenever V8 recomputes the old generation's limit, so setting it
 * at start-up (after the isolate exists) takes effect from the next GC on. 0 leaves V8's policy.
 */
export function applyHeapGrowingPercent(percent: number): void {
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${Math.round(percent)}`);
}
