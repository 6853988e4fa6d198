import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeSatisfies, staleReason } from './ensure-dependencies.mjs';

const lock = {
  packages: {
    '': { version: '0.1.0' },
    'node_modules/xstate': { version: '5.33.3' },
    'node_modules/a/node_modules/b': { version: '1.0.0' },
    'node_modules/@esbuild/darwin-arm64': { version: '0.28.2', optional: true },
  },
};

describe('prestart / pretest dependency check', () => {
  it('installs when node_modules is missing, a package is absent or at another version', () => {
    expect(staleReason(lock, null)).toBe('node_modules is missing');
    expect(staleReason(lock, { packages: { 'node_modules/xstate': { version: '5.33.3' } } })).toBe('b is not installed');
    expect(staleReason(lock, { packages: { 'node_modules/xstate': { version: '5.0.0' }, 'node_modules/a/node_modules/b': { version: '1.0.0' } } })).toBe(
      'xstate is 5.0.0, the lockfile wants 5.33.3',
    );
  });

  it('does nothing when what npm installed matches the lockfile (optional packages of other platforms aside)', () => {
    expect(staleReason(lock, { packages: { 'node_modules/xstate': { version: '5.33.3' }, 'node_modules/a/node_modules/b': { version: '1.0.0' } } })).toBeNull();
  });

  it('this checkout: node_modules as `npm ci` left it matches package-lock.json (so CI installs once)', () => {
    const wanted = JSON.parse(readFileSync('package-lock.json', 'utf8')) as Parameters<typeof staleReason>[0];
    const installed = JSON.parse(readFileSync('node_modules/.package-lock.json', 'utf8')) as Parameters<typeof staleReason>[1];
    expect(staleReason(wanted, installed)).toBeNull();
  });

  it('compares the Node.js version with the engines floor', () => {
    expect(nodeSatisfies('20.19', 'v20.20.2')).toBe(true);
    expect(nodeSatisfies('20.19', 'v22.1.0')).toBe(true);
    expect(nodeSatisfies('20.19', 'v20.11.1')).toBe(false);
    expect(nodeSatisfies('20.19', 'v18.20.0')).toBe(false);
  });
});
