import { describe, expect, it } from 'vitest';
import { createLogger } from '../../infra/logger.ts';
import { makeEnvelope, OrderpilotError, type ShopUpdate } from '../contracts/index.ts';
import type { ShopCall, ShopConnector, ShopExchange, ShopLogPort } from './shop-connector.port.ts';
import { DEFAULT_MAPPINGS } from './shop-mapping.ts';
import { createShopUpdateHandler } from './shop-update.handler.ts';

/** The handler's rules on its ports (pure logic; the Postgres log and a real shop are in test/shops/shops-e2e.test.ts). */
function world(fail: (c: ShopCall) => OrderpilotError | null = () => null) {
  const entries: ShopExchange[] = [];
  const done = new Set<string>();
  const state = new Map<string, { lastVersion: number; lastStatus: string | null }>();
  const sent: string[] = [];
  const notices: string[] = [];
  const log: ShopLogPort = {
    record: async (e) => {
      entries.push(e);
    },
    isDone: async (k) => done.has(k),
    state: async (shop, orderId) => state.get(`${shop}/${orderId}`) ?? null,
    advance: async (s) => {
      const cur = state.get(`${s.shop}/${s.orderId}`);
      if (!cur || cur.lastVersion < s.version) state.set(`${s.shop}/${s.orderId}`, { lastVersion: s.version, lastStatus: s.lastStatus });
    },
  };
  const call = async (c: ShopCall, key: string) => {
    const err = fail(c);
    if (err) throw err;
    done.add(key);
    sent.push(c.op === 'status' ? `status:${c.status}` : c.op === 'note' ? `note:${c.text}` : c.op);
  };
  const connector: ShopConnector = {
    kind: 'woocommerce',
    shop: 'woo',
    pushStatus: (_x, status, m) => call({ op: 'status', status }, m.callKey),
    addNote: (_x, n, m) => call({ op: 'note', ...n }, m.callKey),
  };
  const handle = createShopUpdateHandler({
    shops: new Map([['woo', { connector, mapping: DEFAULT_MAPPINGS.woocommerce }]]),
    log,
    logger: createLogger({ level: 'silent', name: 'test' }),
    notifyAdmin: async (_id, n) => {
      notices.push(n.code);
    },
  });
  const update = (version: number, changes: ShopUpdate['changes'], extra: Partial<ShopUpdate> = {}) =>
    makeEnvelope<ShopUpdate>({ id: `shop-update:o1:${version}`, type: 'shop-update', orderId: 'o1', payload: { shop: 'woo', orderId: 'o1', externalId: '1000', version, changes, ...extra } });
  return { handle, update, sent, notices, entries, state, first: { attempt: 1, lastAttempt: false }, last: { attempt: 8, lastAttempt: true } };
}

describe('shop-update handler', () => {
  it('applies status then note; skips a status the shop already has from us; a stale update changes nothing', async () => {
    const w = world();
    await w.handle(w.update(2, [{ kind: 'paid' }]), w.first);
    await w.handle(w.update(5, [{ kind: 'held', code: 'X', message: 'm' }]), w.first);
    await w.handle(w.update(4, [{ kind: 'released' }]), w.first);
    await w.handle(w.update(5, [{ kind: 'held', code: 'X', message: 'm' }]), w.first);
    expect(w.sent).toEqual(['status:processing', 'status:on-hold', 'note:On hold: m (X)']);
    expect(w.entries.filter((e) => e.kind === 'skipped-stale')).toHaveLength(2);
  });

  it('a shop that is down: to be retried until the last attempt, then given up with a notice, and later updates go on', async () => {
    let down = true;
    const w = world(() => (down ? new OrderpilotError('PROVIDER_UNAVAILABLE', '503') : null));
    const env = w.update(3, [{ kind: 'paid' }]);
    expect(await w.handle(env, w.first)).toMatchObject({ kind: 'retry', err: { code: 'PROVIDER_UNAVAILABLE' } });
    expect(w.notices).toEqual([]);
    expect(await w.handle(env, w.last)).toEqual({ kind: 'done' });
    expect(w.notices).toEqual(['RETRIES_EXHAUSTED']);
    expect(w.state.get('woo/o1')?.lastVersion).toBe(3);
    down = false;
    await w.handle(w.update(6, [{ kind: 'closed' }]), w.first);
    expect(w.sent).toEqual(['status:completed', 'note:Delivered to the customer.']);
  });

  it('a refusal (SHOP_REJECTED) is given up at once', async () => {
    const w = world(() => new OrderpilotError('SHOP_REJECTED', '400 rest_invalid_param'));
    await w.handle(w.update(2, [{ kind: 'paid' }]), w.first);
    expect(w.notices).toEqual(['SHOP_REJECTED']);
  });

  it('a replay behind a newer update adds its notes only; the calls the original made are not made again', async () => {
    let failNotes = true;
    const w = world((c) => (failNotes && c.op === 'note' ? new OrderpilotError('SHOP_REJECTED', 'no') : null));
    const held = w.update(3, [{ kind: 'held', code: 'X', message: 'm' }]);
    await w.handle(held, w.first); // status made, note refused → given up
    failNotes = false;
    await w.handle(w.update(5, [{ kind: 'released' }]), w.first);
    await w.handle(w.update(3, [{ kind: 'held', code: 'X', message: 'm' }], { replayOf: held.id }), w.first);
    expect(w.sent).toEqual(['status:on-hold', 'status:processing', 'note:Hold released; the order goes on.', 'note:On hold: m (X)']);
    expect(w.state.get('woo/o1')).toEqual({ lastVersion: 5, lastStatus: 'processing' });
  });
});
