import type { Logger } from '../../infra/logger.ts';
import { isOrderpilotError, OrderpilotError, ShopUpdateSchema, validate, type Envelope, type NotifyCommand } from '../contracts/index.ts';
import type { ShopConnector, ShopLogPort } from './shop-connector.port.ts';
import { planShopCalls, type ShopMapping } from './shop-mapping.ts';

export interface ShopUpdateDeps {
  /** Connected shops by name, with their connector and mapping. */
  shops: ReadonlyMap<string, { connector: ShopConnector; mapping: ShopMapping }>;
  log: ShopLogPort;
  notifyAdmin(id: string, notice: NotifyCommand, cause: Envelope): Promise<void>;
  logger: Logger;
}

/** Which try of an update this is (shop-queue.ts counts them). */
export interface ShopAttempt {
  /** 1 on the first try. */
  attempt: number;
  /** The last allowed try: a transient failure now gives up (an admin is told; the order goes on). */
  lastAttempt: boolean;
}

/** `retry`: the shop was down, slow or rate-limiting; the update should be tried again later. */
export type ShopApplyResult = { kind: 'done' } | { kind: 'retry'; err: OrderpilotError };

/**
 * `shop-update` (one order's changes, on its partition, so one order's updates come in order):
 *
 * 1. skip it when the order's shop already has this version or a newer one (a redelivery, a stale
 *    update never overwrites a newer status);
 * 2. plan the calls from the connector's mapping (status, then note, per change);
 * 3. make each call not already logged ok (a redelivery after a crash does not add a note twice), and
 *    no status call that would set the status the shop already has;
 * 4. record the version as applied.
 *
 * A shop that is down or slow: `retry`, and shop-queue.ts parks the update to try it later; on the
 * last attempt, or when the shop refuses the call (SHOP_REJECTED), the update is given up: logged, an
 * admin notified, the version recorded so later updates go on. The order itself is never held up by its shop. An admin's
 * replay (`replayOf`) makes the calls the original did not make; behind a newer update, notes only.
 */
const DONE: ShopApplyResult = { kind: 'done' };

export function createShopUpdateHandler(deps: ShopUpdateDeps) {
  const log = deps.logger.child({ handler: 'shop-update' });
  return async function applyShopUpdate(env: Envelope, attempt: ShopAttempt): Promise<ShopApplyResult> {
    const u = validate(ShopUpdateSchema, env.payload, 'shop-update payload');
    const base = { shop: u.shop, orderId: u.orderId, externalId: u.externalId, version: u.version };
    const shop = deps.shops.get(u.shop);
    if (shop === undefined) {
      await deps.log.record({ ...base, callKey: null, kind: 'skipped-unknown-shop', ok: false, summary: `Shop "${u.shop}" is no longer configured: update not sent` });
      log.warn({ ...base }, 'update for a shop that is not configured');
      return DONE;
    }
    // 1.
    const state = await deps.log.state(u.shop, u.orderId);
    const replay = u.replayOf !== undefined;
    if (!replay && state !== null && state.lastVersion >= u.version) {
      await deps.log.record({ ...base, callKey: null, kind: 'skipped-stale', ok: true, summary: `Update ${u.version} skipped: the shop already has update ${state.lastVersion}` });
      return DONE;
    }
    // A replay behind what the shop already has adds its notes, never its (older) status.
    const notesOnly = replay && state !== null && state.lastVersion > u.version;
    // 2.
    // Numbered before any is left out, so a replay's call keys are the original's (calls made are not made again).
    const calls = u.changes
      .flatMap((c) => planShopCalls(shop.mapping, c))
      .map((c, i) => ({ c, i }))
      .filter(({ c }) => !(notesOnly && c.op !== 'note'));
    let lastStatus = state?.lastStatus ?? null;
    // 3.
    for (const { c, i } of calls) {
      const meta = { orderId: u.orderId, version: u.version, callKey: `${u.replayOf ?? env.id}:${i}` };
      if (await deps.log.isDone(meta.callKey)) {
        if (c.op === 'status') lastStatus = c.status;
        continue;
      }
      if (c.op === 'status' && c.status === lastStatus) continue;
      try {
        if (c.op === 'status') await shop.connector.pushStatus(u.externalId, c.status, meta);
        else if (c.op === 'note') await shop.connector.addNote(u.externalId, { text: c.text, customer: c.customer }, meta);
        else if (c.op === 'event') {
          if (!shop.connector.sendEvent) throw new OrderpilotError('SHOP_REJECTED', `the ${shop.connector.kind} connector sends no events (mapping of ${u.shop})`);
          await shop.connector.sendEvent(u.externalId, { type: c.type, status: c.status, change: c.change }, meta);
        } else {
          if (!shop.connector.act) throw new OrderpilotError('SHOP_REJECTED', `the ${shop.connector.kind} connector has no order actions (mapping of ${u.shop})`);
          await shop.connector.act(u.externalId, c, meta);
        }
      } catch (err) {
        if (!isOrderpilotError(err)) throw err; // database trouble: the caller retries
        if (err.retryable && !attempt.lastAttempt) return { kind: 'retry', err };
        const why = `${err.code}: ${err.message}`;
        // The update itself is kept with the verdict: an admin may replay it once the shop is fixed.
        await deps.log.record({ ...base, callKey: `gave-up:${env.id}`, kind: 'gave-up', ok: false, errorCode: err.code, request: JSON.stringify({ messageId: u.replayOf ?? env.id, update: u }), summary: `Gave up on update ${u.version} (${u.changes.map((x) => x.kind).join(', ')}) after ${attempt.attempt} attempt(s): ${why}` });
        await deps.notifyAdmin(
          `shop-update-failed:${env.id}`,
          {
            kind: 'shop.update-failed',
            severity: 'warning',
            code: err.retryable ? 'RETRIES_EXHAUSTED' : err.code,
            message: `Shop ${u.shop} did not take the update of order ${u.externalId} (${u.changes.map((x) => x.kind).join(', ')}): ${why}`.slice(0, 4000),
            orderId: u.orderId,
            externalId: u.externalId,
          },
          env,
        );
        await deps.log.advance({ ...base, lastStatus });
        log.warn({ ...base, code: err.code, err: err.message, attempt: attempt.attempt }, 'shop update given up; an admin is notified');
        return DONE;
      }
      if (c.op === 'status') lastStatus = c.status;
    }
    // 4.
    await deps.log.advance({ ...base, lastStatus });
    if (replay) await deps.log.record({ ...base, callKey: null, kind: 'replayed', ok: true, summary: `Replayed update ${u.version} (${u.changes.map((x) => x.kind).join(', ')})${notesOnly ? ': notes only, the shop has a newer status' : ''}` });
    log.debug({ ...base, calls: calls.length, replay }, 'shop updated');
    return DONE;
  };
}
