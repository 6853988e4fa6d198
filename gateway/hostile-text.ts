/**
 * Text the gateway refuses before any route logic sees it: what Postgres cannot hold (a NUL character,
 * a lone UTF-16 surrogate), JSON nested beyond a sane depth, and prototype-poisoning keys. Checked on the parsed body, the query
 * string and the path parameters, so a hostile value answers 400 in the project's error format and
 * never reaches SQL (where it would be a 500) or a recursive validator (a stack overflow).
 */

export { storableText } from '../services/contracts/index.ts';

/** Deepest JSON nesting accepted anywhere (a real order is about 4 levels deep). */
export const MAX_JSON_DEPTH = 32;

/** Longest path parameter (ids are at most 128 characters; longer → 404 from the look-up). */
export const MAX_PARAM_LENGTH = 1000;

export interface TextProblem {
  /** Where: `body.customer.name`, `query.q`, `params.id`, or `body` for the nesting. */
  field: string;
  message: string;
}

// With the `u` flag a surrogate range matches only a surrogate that is not half of a pair.
const LONE_SURROGATE = /[\ud800-\udfff]/u;

function stringProblem(s: string): string | null {
  if (s.includes('\u0000')) return 'holds a NUL character, which cannot be stored';
  if (LONE_SURROGATE.test(s)) return 'holds a lone UTF-16 surrogate (not valid Unicode), which cannot be stored';
  return null;
}

/** A value met while walking a body; its path (`body.lines[0].name`) is built only for the one reported. */
interface Visit {
  v: unknown;
  parent: Visit | null;
  /** Its key in the parent: a property name, or an index in an array. */
  key: string | number;
  depth: number;
}

function pathOf(visit: Visit): string {
  const parts: string[] = [];
  for (let at: Visit | null = visit; at !== null; at = at.parent) {
    parts.push(at.parent === null ? String(at.key) : typeof at.key === 'number' ? `[${at.key}]` : `.${at.key}`);
  }
  return parts.reverse().join('');
}

/**
 * The first unstorable string or over-deep nesting in a parsed value, or null. Iterative (an
 * explicit stack), so a 50,000-deep body cannot overflow the call stack while being checked. Runs
 * on every request body, so nothing is allocated per value beyond its stack entry.
 */
export function findTextProblem(value: unknown, root: string, maxDepth = MAX_JSON_DEPTH): TextProblem | null {
  const stack: Visit[] = [{ v: value, parent: null, key: root, depth: 0 }];
  while (stack.length > 0) {
    const visit = stack.pop()!;
    const { v, depth } = visit;
    if (typeof v === 'string') {
      const problem = stringProblem(v);
      if (problem) return { field: pathOf(visit), message: problem };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= maxDepth) return { field: root, message: `nests deeper than ${maxDepth} levels` };
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], parent: visit, key: i, depth: depth + 1 });
      continue;
    }
    const record = v as Record<string, unknown>;
    for (const k of Object.keys(record)) {
      const item = record[k];
      const keyProblem = stringProblem(k);
      if (keyProblem) return { field: `${pathOf(visit)} (a key)`, message: keyProblem };
      // Prototype poisoning (what Fastify's own parser refuses): never a key of ours.
      if (k === '__proto__' || (k === 'constructor' && item !== null && typeof item === 'object' && 'prototype' in item)) {
        return { field: `${pathOf(visit)}.${k}`, message: 'is a reserved key' };
      }
      stack.push({ v: item, parent: visit, key: k, depth: depth + 1 });
    }
  }
  return null;
}

/** `application/json` with no charset or UTF-8 (any case, quoted or not): the only JSON we read. */
export function jsonCharsetProblem(contentType: string | undefined): string | null {
  const m = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '');
  if (!m) return null;
  const charset = (m[1] ?? '').toLowerCase();
  return charset === 'utf-8' || charset === 'utf8' ? null : `charset ${JSON.stringify(m[1] ?? '').slice(0, 40)} is not supported; send JSON as UTF-8`;
}

