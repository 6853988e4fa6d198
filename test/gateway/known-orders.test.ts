import { describe, expect, it } from 'vitest';
import { createKnownOrders } from '../../gateway/webhooks/known-orders.ts';

describe('known orders', () => {
  it('answers what was remembered, and forgets the oldest reference beyond its bound', () => {
    const known = createKnownOrders(2);
    known.remember('ord_a', { orderId: 'ord_a', externalId: 'A' });
    known.remember('ord_b', { orderId: 'ord_b', externalId: 'B' });
    // Remembering a reference again does not push another out.
    known.remember('ord_a', { orderId: 'ord_a', externalId: 'A' });
    expect(known.get('ord_a')).toEqual({ orderId: 'ord_a', externalId: 'A' });
    known.remember('acme:C', { orderId: 'ord_c', externalId: 'C' });
    expect(known.get('ord_a')).toBeUndefined();
    expect(known.get('ord_b')).toEqual({ orderId: 'ord_b', externalId: 'B' });
    expect(known.get('acme:C')).toEqual({ orderId: 'ord_c', externalId: 'C' });
  });
});
