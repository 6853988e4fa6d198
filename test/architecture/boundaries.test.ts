/**
 * Service boundaries (ARCHITECTURE.md, "Layout"), read from the code's own import graph: every
 * `.ts` file under gateway/, services/ and machines/ and the specifiers it imports (static, type-only,
 * re-exports and dynamic `import()`), as TypeScript's own pre-processor finds them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function walk(dir: string, exts: readonly string[]): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...walk(rel, exts));
    else if (exts.some((e) => entry.name.endsWith(e))) out.push(rel);
  }
  return out;
}

interface ImportEdge {
  /** Repo-relative path of the importing file. */
  from: string;
  /** The specifier as written. */
  specifier: string;
  /** Repo-relative path for a relative specifier; null for a package. */
  target: string | null;
}

function edge(from: string, specifier: string): ImportEdge {
  return { from, specifier, target: specifier.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier)) : null };
}

function importsOf(file: string): ImportEdge[] {
  const info = ts.preProcessFile(readFileSync(path.join(root, file), 'utf8'), true, true);
  return info.importedFiles.map(({ fileName }) => edge(file, fileName));
}

const serviceOf = (p: string): string | null => /^services\/([^/]+)\//.exec(p)?.[1] ?? null;
const isEntryOrContract = (target: string): boolean => /^services\/[^/]+\/index\.ts$/.test(target) || target.startsWith('services/contracts/');

/** The rules; returns one line per broken edge. */
function boundaryViolations(edges: readonly ImportEdge[]): string[] {
  const out: string[] = [];
  for (const e of edges) {
    const why = (rule: string) => out.push(`${e.from} imports '${e.specifier}': ${rule}`);
    const t = e.target;
    if (e.from.startsWith('machines/')) {
      if (e.from.endsWith('.test.ts')) continue;
      if (t === null ? !(e.specifier === 'xstate' || e.specifier.startsWith('xstate/')) : !t.startsWith('machines/')) {
        why('machines/ may import only xstate and its own files');
      }
      continue;
    }
    if (t === null) continue;
    if (e.from.startsWith('gateway/')) {
      if (t.startsWith('services/') && !isEntryOrContract(t)) why("the gateway imports a service only through its index.ts (or services/contracts)");
      continue;
    }
    const own = serviceOf(e.from);
    if (own === null) continue;
    if (t.startsWith('gateway/')) why('a service never imports the gateway');
    const other = serviceOf(t);
    if (own === 'contracts' && (t.startsWith('infra/') || (other !== null && other !== 'contracts'))) {
      why('services/contracts is I/O-free: it imports only itself and machines/');
    } else if (other !== null && other !== own && !isEntryOrContract(t)) {
      why(`services/${own} imports services/${other} only through its index.ts`);
    }
  }
  return out;
}

const SOURCES = [...walk('gateway', ['.ts']), ...walk('services', ['.ts']), ...walk('machines', ['.ts'])];

describe('service boundaries', () => {
  it('the rules catch each kind of leak (so a clean tree is a real result)', () => {
    expect(
      boundaryViolations([
        edge('gateway/routes/x.route.ts', '../../services/logistics/warehouse-timeline.ts'),
        edge('services/mailer/main.ts', '../invoicing/document.store.ts'),
        edge('machines/order/order.machine.ts', 'pino'),
        edge('machines/order/order.machine.ts', '../../infra/logger.ts'),
        edge('services/contracts/x.ts', '../../infra/nats/publish.ts'),
        edge('services/orders/x.ts', '../../gateway/app.ts'),
      ]),
    ).toHaveLength(6);
    expect(
      boundaryViolations([
        edge('gateway/routes/x.route.ts', '../../services/logistics/index.ts'),
        edge('gateway/routes/x.route.ts', '../../services/contracts/index.ts'),
        edge('services/mailer/main.ts', '../invoicing/index.ts'),
        edge('services/mailer/main.ts', './mail-delivery.store.ts'),
        edge('machines/order/order.machine.ts', 'xstate'),
        edge('machines/machine-graph.ts', './order/index.ts'),
      ]),
    ).toEqual([]);
  });

  it('the gateway and every service import other services only through index.ts; machines/ imports only xstate', () => {
    const edges = SOURCES.flatMap(importsOf);
    // The walk really read the tree (a broken walk must not pass as "no leaks").
    expect(SOURCES.length).toBeGreaterThan(60);
    expect(edges.filter((e) => e.from.startsWith('gateway/') && e.target?.startsWith('services/')).length).toBeGreaterThan(10);
    expect(boundaryViolations(edges)).toEqual([]);
  });

  it('every service has an entry point', () => {
    const services = readdirSync(path.join(root, 'services'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(services.length).toBeGreaterThan(4);
    for (const s of services) expect(SOURCES, `services/${s}/index.ts`).toContain(`services/${s}/index.ts`);
  });
});

describe('the stored order snapshot', () => {
  it('only services/orders reads its JSON (no `snapshot->` in SQL anywhere else)', () => {
    const files = [...walk('gateway', ['.ts']), ...walk('services', ['.ts', '.sql']), ...walk('infra', ['.ts', '.sql']), ...walk('machines', ['.ts'])];
    const readers = files.filter((f) => readFileSync(path.join(root, f), 'utf8').includes('snapshot->'));
    // The owner does read it, so the search itself works.
    expect(readers.some((f) => f.startsWith('services/orders/'))).toBe(true);
    expect(readers.filter((f) => !f.startsWith('services/orders/'))).toEqual([]);
  });
});
