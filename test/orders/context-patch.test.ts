import { describe, expect, it } from 'vitest';
import type { OrderSnapshot } from '../../machines/order/index.ts';
import { contextPatch } from '../../services/orders/order-decision.ts';
import { createOrderStepper } from '../../services/orders/order-stepper.ts';
import { modelOrder, samples, serialize } from '../model/order-model.ts';

/**
 * The host sends an update as the context keys that changed, found by reference (`contextPatch`), and
 * Postgres merges them into the stored context. That is right only if no action changes a value in
 * place (an array pushed to, an object's field set): the key would keep its reference, be left out,
 * and the stored snapshot would silently keep the old value. Pure: every transition the model's sample
 * events reach, from every state the model tells apart, merged the way Postgres merges
 * (`stored || patch`) onto the context as it was stored before the step.
 */
const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v)) as unknown;

describe('context patch over every transition of the order machine', () => {
  it('the stored context merged with the patch is the new context, for every sampled event from every state', () => {
    const stepper = createOrderStepper();
    const [initial] = stepper.initial({ order: modelOrder() });
    const seen = new Set<string>([serialize(initial)]);
    const queue: OrderSnapshot[] = [initial];
    let steps = 0;
    let patched = 0;
    const orderSent: string[] = [];
    while (queue.length > 0) {
      const s = queue.shift() as OrderSnapshot;
      for (const { event } of samples(s)) {
        const stored = json(s.context) as Record<string, unknown>;
        const [next, actions] = stepper.step(s, event);
        if (next === s && actions.length === 0) continue;
        steps++;
        const patch = contextPatch(s.context, next.context);
        const expected = json(next.context);
        if (patch === null) {
          // Whole snapshot sent: nothing to check but that it is one the merge could not make.
          expect(Object.keys(stored).some((k) => !(k in (expected as object)))).toBe(true);
        } else {
          patched++;
          expect({ ...stored, ...(json(patch) as object) }, `${JSON.stringify(s.value)} + ${event.type}`).toEqual(expected);
          if ('order' in patch) orderSent.push(event.type);
        }
        const key = serialize(next);
        if (!seen.has(key)) {
          seen.add(key);
          queue.push(next);
        }
      }
    }
    // The walk reached the machine's corners, and the order data went only with the admin's repairs.
    expect(seen.size).toBeGreaterThan(50);
    expect(steps).toBeGreaterThan(500);
    expect(patched).toBe(steps);
    expect(new Set(orderSent)).toEqual(new Set(['UPDATE_SHIPPING_ADDRESS', 'UPDATE_BUYER', 'SHIPMENT_ADDRESS_CHANGED']));
  });
});
