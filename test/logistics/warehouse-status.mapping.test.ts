import { describe, expect, it } from 'vitest';
import { WAREHOUSE_STATUSES, signWarehouseBody, verifyWarehouseSignature } from '../../services/contracts/index.ts';
import {
  catchUpEvents,
  mapWarehouseStatus,
  TRACKING_MISSING,
  WAREHOUSE_STATUS_MAPPING,
} from '../../services/logistics/warehouse-status.mapping.ts';
import { shipmentRequestOf } from '../../services/logistics/submit-shipment.handler.ts';
import { walkOf } from '../../infra/sandbox/warehouse-sandbox.ts';
import { sampleOrder } from '../support/orders.ts';

describe('warehouse status mapping (pure)', () => {
  it('covers every status of the contract', () => {
    expect(Object.keys(WAREHOUSE_STATUS_MAPPING).sort()).toEqual([...WAREHOUSE_STATUSES].sort());
  });

  it('HANDED_TO_CARRIER → HANDED_TO_CARRIER with tracking number and carrier, on the timeline', () => {
    const m = mapWarehouseStatus({ status: 'HANDED_TO_CARRIER', trackingNumber: ' TRK1 ', carrier: 'DPD' });
    expect(m.event).toEqual({ type: 'HANDED_TO_CARRIER', payload: { trackingNumber: 'TRK1', carrier: 'DPD' } });
    expect(m.timeline).toBe(true);
    expect(m.summary).toContain('TRK1');
    expect(mapWarehouseStatus({ status: 'HANDED_TO_CARRIER', trackingNumber: 'TRK1' }).event).toEqual({
      type: 'HANDED_TO_CARRIER',
      payload: { trackingNumber: 'TRK1', carrier: null },
    });
  });

  it('HANDED_TO_CARRIER without a tracking number holds the order (TRACKING_MISSING)', () => {
    for (const trackingNumber of [undefined, null, '', '  ']) {
      const m = mapWarehouseStatus({ status: 'HANDED_TO_CARRIER', trackingNumber });
      expect(m.event?.type).toBe('SHIPMENT_PROBLEM');
      expect(m.event?.payload).toMatchObject({ code: TRACKING_MISSING });
    }
  });

  it('DELIVERED → DELIVERED', () => {
    expect(mapWarehouseStatus({ status: 'DELIVERED' })).toMatchObject({ event: { type: 'DELIVERED', payload: {} }, timeline: true });
  });

  it.each(['DELIVERY_FAILED', 'RETURNED', 'LOST', 'ON_HOLD', 'CANCELLED'])('%s → SHIPMENT_PROBLEM with the status as reason', (status) => {
    const m = mapWarehouseStatus({ status, reason: 'because' });
    expect(m.event).toEqual({ type: 'SHIPMENT_PROBLEM', payload: { code: status, message: 'because' } });
    expect(m.timeline).toBe(true);
    // Without a reason the message is the status's label, never empty.
    const bare = mapWarehouseStatus({ status });
    expect(bare.event?.type).toBe('SHIPMENT_PROBLEM');
    expect((bare.event?.payload as { message: string }).message.length).toBeGreaterThan(0);
  });

  it.each(['ACCEPTED', 'PICKING', 'PACKED', 'IN_TRANSIT'])('%s is logged only, not on the timeline', (status) => {
    expect(mapWarehouseStatus({ status })).toMatchObject({ event: null, timeline: false, unknownStatus: false });
  });

  it('an unknown status is logged, flagged and on the timeline', () => {
    expect(mapWarehouseStatus({ status: 'TELEPORTED' })).toMatchObject({ event: null, timeline: true, unknownStatus: true });
  });

  it('catch-up after a re-read brings the order to the shipment state', () => {
    expect(catchUpEvents({ shipmentId: 's', status: 'PACKED' })).toEqual([]);
    expect(catchUpEvents({ shipmentId: 's', status: 'IN_TRANSIT', trackingNumber: 'T' })).toEqual([]);
    expect(catchUpEvents({ shipmentId: 's', status: 'HANDED_TO_CARRIER', trackingNumber: 'T', carrier: 'GLS' })).toEqual([
      { type: 'HANDED_TO_CARRIER', payload: { trackingNumber: 'T', carrier: 'GLS' } },
    ]);
    expect(catchUpEvents({ shipmentId: 's', status: 'DELIVERED', trackingNumber: 'T', carrier: null }).map((e) => e.type)).toEqual(['HANDED_TO_CARRIER', 'DELIVERED']);
    expect(catchUpEvents({ shipmentId: 's', status: 'DELIVERED' }).map((e) => e.type)).toEqual(['DELIVERED']);
    expect(catchUpEvents({ shipmentId: 's', status: 'LOST' }).map((e) => e.type)).toEqual(['SHIPMENT_PROBLEM']);
  });
});

describe('warehouse contract helpers (pure)', () => {
  it('signs and verifies X-Warehouse-Signature over the raw body', () => {
    const body = '{"eventId":"e1"}';
    const sig = signWarehouseBody('secret', body);
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWarehouseSignature('secret', body, sig)).toBe(true);
    expect(verifyWarehouseSignature('secret', `${body} `, sig)).toBe(false);
    expect(verifyWarehouseSignature('other', body, sig)).toBe(false);
    expect(verifyWarehouseSignature('secret', body, undefined)).toBe(false);
    expect(verifyWarehouseSignature('secret', body, 'sha256=zz')).toBe(false);
  });

  it('builds the shipment request from the order (one item per SKU)', () => {
    const order = sampleOrder({
      lines: [
        { sku: 'A', name: 'a', quantity: 1, unitPrice: 100, taxRate: 23 },
        { sku: 'B', name: 'b', quantity: 2, unitPrice: 100, taxRate: 23 },
        { sku: 'A', name: 'a again', quantity: 3, unitPrice: 100, taxRate: 23 },
      ],
    });
    const req = shipmentRequestOf(order);
    expect(req.reference).toBe(order.orderId);
    expect(req.recipient).toEqual({ name: 'Jan Kowalski', email: 'jan@example.com', phone: '+48500100200' });
    expect(req.address).toEqual({ line1: 'ul. Prosta 1', line2: null, city: 'Warszawa', postalCode: '00-001', country: 'PL' });
    expect(req.items).toEqual([
      { sku: 'A', quantity: 4 },
      { sku: 'B', quantity: 2 },
    ]);
  });

  it('sandbox walks: happy, problem endings, stop-after', () => {
    expect(walkOf({})).toEqual(['ACCEPTED', 'PICKING', 'PACKED', 'HANDED_TO_CARRIER', 'IN_TRANSIT', 'DELIVERED']);
    expect(walkOf({ problem: 'LOST' }).at(-1)).toBe('LOST');
    expect(walkOf({ problem: 'ON_HOLD' })).toEqual(['ACCEPTED', 'PICKING', 'ON_HOLD']);
    expect(walkOf({ stopAfter: 'PACKED' })).toEqual(['ACCEPTED', 'PICKING', 'PACKED']);
  });

  it('a warehouse that reports only some statuses: the rest pass unreported, problems are always reported', () => {
    const carrierOnly = ['HANDED_TO_CARRIER', 'DELIVERED'] as const;
    expect(walkOf({}, carrierOnly)).toEqual(['HANDED_TO_CARRIER', 'DELIVERED']);
    expect(walkOf({ problem: 'LOST' }, carrierOnly)).toEqual(['HANDED_TO_CARRIER', 'LOST']);
    expect(walkOf({ problem: 'ON_HOLD' }, carrierOnly)).toEqual(['ON_HOLD']);
    expect(walkOf({ stopAfter: 'PACKED' }, carrierOnly)).toEqual([]);
  });
});
