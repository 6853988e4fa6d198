import type { AnyStateMachine, AnyStateNode, StateValue } from 'xstate';
import { orderMachine } from './order/index.ts';

/**
 * Statecharts as plain graphs, read from the machine definitions themselves (never drawn by hand):
 * the Mermaid generator (`npm run machines:diagram`) and the admin console both render these.
 */

export interface GraphTransition {
  event: string;
  /** Target state ids; empty for a targetless transition (actions only, no state change). */
  targets: string[];
  guard: string | null;
  /** Named actions (side effects) of the transition; xstate built-ins like assign are left out. */
  actions: string[];
}

export interface GraphNode {
  id: string;
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** Key of the initial child of a compound state. */
  initial: string | null;
  entry: string[];
  exit: string[];
  transitions: GraphTransition[];
  children: GraphNode[];
}

/** Every machine orderpilot runs, for the console's machine page and the docs. */
export const MACHINES: ReadonlyArray<{ name: string; title: string; machine: AnyStateMachine }> = [
  { name: 'order', title: 'Order', machine: orderMachine },
];

function actionName(a: unknown): string | null {
  if (typeof a === 'string') return a;
  if (typeof a === 'object' && a !== null && typeof (a as { type?: unknown }).type === 'string') {
    const t = (a as { type: string }).type;
    return t.startsWith('xstate.') ? null : t;
  }
  // Inline functions (assign and friends) are context updates, not named effects.
  return null;
}

function guardName(g: unknown): string | null {
  if (g === undefined || g === null) return null;
  if (typeof g === 'string') return g;
  if (typeof g === 'object' && typeof (g as { type?: unknown }).type === 'string') return (g as { type: string }).type;
  return 'guarded';
}

function names(actions: readonly unknown[] | undefined): string[] {
  return (actions ?? []).map(actionName).filter((a): a is string => a !== null);
}

function toNode(n: AnyStateNode): GraphNode {
  const transitions: GraphTransition[] = [];
  for (const t of n.always ?? []) {
    transitions.push({ event: 'always', targets: (t.target ?? []).map((x: AnyStateNode) => x.id), guard: guardName(t.guard), actions: names(t.actions) });
  }
  for (const [event, defs] of n.transitions) {
    for (const t of defs) {
      transitions.push({ event, targets: (t.target ?? []).map((x: AnyStateNode) => x.id), guard: guardName(t.guard), actions: names(t.actions) });
    }
  }
  const initialTarget = n.initial?.target?.[0] as AnyStateNode | undefined;
  return {
    id: n.id,
    key: n.key,
    type: n.type,
    initial: initialTarget ? initialTarget.key : null,
    entry: names(n.entry),
    exit: names(n.exit),
    transitions,
    children: Object.values(n.states as Record<string, AnyStateNode>).map(toNode),
  };
}

/** The machine's state tree with every transition, read from `machine.root`. */
export function machineGraph(machine: AnyStateMachine): GraphNode {
  return toNode(machine.root);
}

/** Ids of every state node active in `value` (the root included), e.g. `order.processing.fulfilment.held`. */
export function activeStateIds(rootId: string, value: StateValue): Set<string> {
  const out = new Set<string>([rootId]);
  const walk = (prefix: string, v: StateValue) => {
    if (typeof v === 'string') {
      out.add(`${prefix}.${v}`);
      return;
    }
    for (const [k, child] of Object.entries(v)) {
      out.add(`${prefix}.${k}`);
      if (child !== undefined) walk(`${prefix}.${k}`, child as StateValue);
    }
  };
  walk(rootId, value);
  return out;
}

/** Every node of the graph, depth first. */
export function allNodes(root: GraphNode): GraphNode[] {
  return [root, ...root.children.flatMap(allNodes)];
}

const mid = (id: string) => id.replace(/[^A-Za-z0-9_]/g, '_');

/**
 * Where an order's journey ends: a `final` node, or an atomic state none of whose own transitions
 * leaves it (it may still note late events, e.g. a payment after a cancel, without moving).
 */
export function isTerminal(n: GraphNode): boolean {
  if (n.type === 'final') return true;
  return n.type === 'atomic' && n.transitions.every((t) => t.targets.length === 0 || t.targets.every((x) => x === n.id));
}

function label(t: GraphTransition): string {
  const parts = [t.event === 'always' ? '(always)' : t.event];
  if (t.guard) parts.push(`[${t.guard}]`);
  if (t.actions.length) parts.push(`/ ${t.actions.join(', ')}`);
  return parts.join(' ').replace(/[:;]/g, ' ');
}

/** Mermaid `stateDiagram-v2` of a machine: nested states, parallel regions, guards and effects. */
export function toMermaid(machine: AnyStateMachine): string {
  const root = machineGraph(machine);
  const lines: string[] = ['stateDiagram-v2'];
  const edges: string[] = [];
  const emit = (n: GraphNode, depth: number) => {
    const pad = '  '.repeat(depth);
    lines.push(`${pad}state "${n.key}" as ${mid(n.id)}`);
    if (n.entry.length || n.exit.length) {
      const note = [...n.entry.map((a) => `entry / ${a}`), ...n.exit.map((a) => `exit / ${a}`)].join('<br/>');
      lines.push(`${pad}note right of ${mid(n.id)} : ${note}`);
    }
    if (n.children.length) {
      lines.push(`${pad}state ${mid(n.id)} {`);
      n.children.forEach((c, i) => {
        if (n.type === 'parallel' && i > 0) lines.push(`${pad}  --`);
        emit(c, depth + 1);
      });
      if (n.initial) lines.push(`${pad}  [*] --> ${mid(`${n.id}.${n.initial}`)}`);
      for (const c of n.children) if (isTerminal(c)) lines.push(`${pad}  ${mid(c.id)} --> [*]`);
      lines.push(`${pad}}`);
    }
    for (const t of n.transitions) {
      const targets = t.targets.length ? t.targets : [n.id];
      for (const target of targets) edges.push(`  ${mid(n.id)} --> ${mid(target)} : ${label(t)}`);
    }
  };
  for (const c of root.children) emit(c, 1);
  if (root.initial) lines.push(`  [*] --> ${mid(`${root.id}.${root.initial}`)}`);
  for (const c of root.children) if (isTerminal(c)) lines.push(`  ${mid(c.id)} --> [*]`);
  return [...lines, ...edges].join('\n') + '\n';
}
