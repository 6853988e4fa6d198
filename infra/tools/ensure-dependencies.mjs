#!/usr/bin/env node
// `npm start` / `npm test` run this first (prestart / pretest). It must work before any dependency is
// installed, so it is plain JavaScript with Node built-ins only.
//
// It runs `npm ci` when node_modules is missing or does not match package-lock.json, and does nothing
// when it matches (CI's own `npm ci` then `npm test` installs once). "Matches" is read from npm's own
// record of what it installed, node_modules/.package-lock.json: every package the lockfile pins
// (optional ones aside — they are skipped on other platforms) must be there at the pinned version.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Why node_modules does not match the lockfile, or null when it does.
 * @param {{ packages?: Record<string, { version?: string, optional?: boolean, link?: boolean, resolved?: string }> }} wanted package-lock.json
 * @param {{ packages?: Record<string, { version?: string, link?: boolean, resolved?: string }> } | null} installed node_modules/.package-lock.json (null: none)
 * @returns {string | null}
 */
export function staleReason(wanted, installed) {
  if (installed === null) return 'node_modules is missing';
  const have = installed.packages ?? {};
  for (const [key, pkg] of Object.entries(wanted.packages ?? {})) {
    if (key === '' || pkg.optional) continue;
    const got = have[key];
    if (got === undefined) return `${key.replace(/^.*node_modules\//, '')} is not installed`;
    if (pkg.link ? got.resolved !== pkg.resolved : got.version !== pkg.version) {
      return `${key.replace(/^.*node_modules\//, '')} is ${got.version ?? 'a link'}, the lockfile wants ${pkg.version ?? pkg.resolved}`;
    }
  }
  return null;
}

/** "20.19" ≤ "20.20.2"? (the engines floor is a plain ">=major.minor"). */
export function nodeSatisfies(floor, version) {
  const [a = 0, b = 0] = floor.split('.').map(Number);
  const [x = 0, y = 0] = version.replace(/^v/, '').split('.').map(Number);
  return x > a || (x === a && y >= b);
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function main() {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const manifest = readJson(path.join(root, 'package.json'));
  const floor = /^>=\s*([\d.]+)$/.exec(manifest?.engines?.node ?? '')?.[1];
  if (floor && !nodeSatisfies(floor, process.version)) {
    process.stderr.write(`orderpilot needs Node.js ${floor} or newer; this is ${process.version}.\n`);
    process.exit(1);
  }
  const wanted = readJson(path.join(root, 'package-lock.json'));
  if (wanted === null) return; // not a checkout with a lockfile: nothing to compare
  const reason = staleReason(wanted, readJson(path.join(root, 'node_modules', '.package-lock.json')));
  if (reason === null) return;
  process.stderr.write(`orderpilot: ${reason}; installing the dependencies (npm ci)…\n`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const run = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) {
    process.stderr.write('orderpilot: npm ci failed (see above).\n');
    process.exit(run.status ?? 1);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
