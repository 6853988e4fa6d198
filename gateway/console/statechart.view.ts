import type { StateValue } from 'xstate';
import { activeStateIds, isTerminal, machineGraph, type GraphNode, type GraphTransition } from '../../machines/machine-graph.ts';
import type { AnyStateMachine } from 'xstate';
import { html, type Html } from './html.ts';

export interface StatechartViewOptions {
  /** The state value to highlight (an order's current state). */
  value?: StateValue | null;
  /** Live counts of orders per state node id. */
  counts?: ReadonlyMap<string, number>;
}

function transitionLabel(t: GraphTransition, byId: Map<string, GraphNode>): Html {
  const targets = t.targets.map((id) => byId.get(id)?.key ?? id).join(', ');
  return html`<li class="tr"><span class="ev">${t.event === 'always' ? '(always)' : t.event}</span>${t.guard ? html` <span class="guard">[${t.guard}]</span>` : ''}${
    targets ? html` → <span class="target">${targets}</span>` : html` <span class="internal">(stays)</span>`
  }${t.actions.length ? html` <span class="fx">/ ${t.actions.join(', ')}</span>` : ''}</li>`;
}

function nodeView(n: GraphNode, active: Set<string>, byId: Map<string, GraphNode>, o: StatechartViewOptions, initial: boolean): Html {
  const isActive = active.has(n.id);
  const count = o.counts?.get(n.id);
  const terminal = isTerminal(n);
  const cls = `st st-${n.type}${isActive ? ' active' : ''}${initial ? ' initial' : ''}${terminal ? ' terminal' : ''}`;
  return html`<div class="${cls}" data-state-id="${n.id}">
  <div class="st-head"><span class="st-name">${n.key}</span>${terminal ? html` <span class="st-kind" title="the journey ends here">◉ end</span>` : ''}${n.type === 'parallel' ? html` <span class="st-kind">parallel</span>` : ''}${
    count !== undefined ? html` <span class="count" title="orders in this state">${count}</span>` : ''
  }</div>
  ${n.entry.length || n.exit.length ? html`<div class="fx">${n.entry.map((a) => html`<div>entry / ${a}</div>`)}${n.exit.map((a) => html`<div>exit / ${a}</div>`)}</div>` : ''}
  ${n.transitions.length ? html`<ul class="trs">${n.transitions.map((t) => transitionLabel(t, byId))}</ul>` : ''}
  ${n.children.length ? html`<div class="children ${n.type === 'parallel' ? 'regions' : ''}">${n.children.map((c) => nodeView(c, active, byId, o, n.initial === c.key))}</div>` : ''}
</div>`;
}

/**
 * The statechart drawn from the machine definition (`machine.root` walked by machine-graph):
 * nested boxes for compound states, side-by-side regions for parallel states, every transition
 * with its guard and effects, and the given state value highlighted.
 */
export function statechartView(machine: AnyStateMachine, o: StatechartViewOptions = {}): Html {
  const root = machineGraph(machine);
  const byId = new Map<string, GraphNode>();
  const index = (n: GraphNode) => {
    byId.set(n.id, n);
    n.children.forEach(index);
  };
  index(root);
  const active = o.value ? activeStateIds(root.id, o.value) : new Set<string>();
  return html`<div class="statechart" data-machine="${root.id}">${nodeView(root, active, byId, o, true)}</div>`;
}
