import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { AnyStateNode } from 'xstate';
import { orderMachine } from '../../machines/order/index.ts';
import { activeStateIds, allNodes, isTerminal, machineGraph, toMermaid } from '../../machines/machine-graph.ts';

function definitionNodes(n: AnyStateNode): AnyStateNode[] {
  return [n, ...Object.values(n.states as Record<string, AnyStateNode>).flatMap(definitionNodes)];
}

describe('statechart graph read from the machine definition', () => {
  it('marks where a journey ends: states no transition leaves (closed, cancelled, e-mailed), not the others', () => {
    const nodes = allNodes(machineGraph(orderMachine));
    const terminal = nodes.filter(isTerminal).map((n) => n.id);
    expect(terminal).toEqual(expect.arrayContaining(['order.cancelled', 'order.processing.fulfilment.closed', 'order.processing.document.emailed']));
    for (const id of ['order.pending', 'order.processing.fulfilment.held', 'order.processing.document.failed']) expect(terminal).not.toContain(id);
    expect(toMermaid(orderMachine)).toContain('order_cancelled --> [*]');
  });

  it('has every state node and every transition of the order machine', () => {
    const graph = machineGraph(orderMachine);
    const ids = allNodes(graph).map((n) => n.id).sort();
    expect(ids).toEqual(definitionNodes(orderMachine.root).map((n) => n.id).sort());
    const transitions = (nodes: AnyStateNode[]) => nodes.reduce((sum, n) => sum + [...n.transitions.values()].reduce((a, d) => a + d.length, 0) + (n.always?.length ?? 0), 0);
    expect(allNodes(graph).reduce((sum, n) => sum + n.transitions.length, 0)).toBe(transitions(definitionNodes(orderMachine.root)));
    const held = allNodes(graph).find((n) => n.id === 'order.processing.fulfilment.held');
    expect(held?.entry).toEqual(['notifyAdmin']);
    expect(held?.transitions.find((t) => t.event === 'RELEASE')).toMatchObject({ targets: ['order.processing.fulfilment.submitting'], guard: 'hasNote' });
  });

  it('names the active nodes of a parallel state value', () => {
    expect([...activeStateIds('order', { processing: { fulfilment: 'held', document: 'failed' } })].sort()).toEqual(
      ['order', 'order.processing', 'order.processing.document', 'order.processing.document.failed', 'order.processing.fulfilment', 'order.processing.fulfilment.held'].sort(),
    );
    expect([...activeStateIds('order', 'pending')]).toEqual(['order', 'order.pending']);
  });

  it('docs/order.machine.mmd is the current machine (run `npm run machines:diagram` after changing it)', async () => {
    const mermaid = toMermaid(orderMachine);
    expect(mermaid.startsWith('stateDiagram-v2\n')).toBe(true);
    expect(await readFile(new URL('../../docs/order.machine.mmd', import.meta.url), 'utf8')).toBe(mermaid);
  });
});
