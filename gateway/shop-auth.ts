/**
 * Shop authentication for order intake: `Authorization: Bearer <key>` checked against SHOP_KEYS
 * (`shop:key`, several keys per shop while one is rotated). Keys are compared in constant time over
 * every configured key (digests of equal length, no early exit), so timing tells nothing about which
 * key matched. No header or a wrong key → 401 UNAUTHENTICATED (an intake client has nothing else to
 * try: it must be given a key); right → `request.shop` is the shop's name, recorded on the order.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { onRequestHookHandler } from 'fastify';
import type { ShopKey } from '../infra/config.ts';
import { OrderpilotError } from '../services/contracts/index.ts';
import { bearerToken } from './admin-auth.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated shop's name (set by shopAuthHook), else undefined. */
    shop?: string;
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** A matcher over the configured keys: the shop whose key equals `presented`, or null. */
export function createShopKeyMatcher(keys: readonly ShopKey[]): (presented: string) => string | null {
  const digests = keys.map((k) => ({ shop: k.shop, digest: digest(k.key) }));
  return (presented) => {
    const p = digest(presented);
    let found: string | null = null;
    for (const k of digests) {
      if (timingSafeEqual(p, k.digest) && found === null) found = k.shop;
    }
    return found;
  };
}

/**
 * An onRequest hook that requires a valid shop key and sets `request.shop`. Callback style: it runs
 * on every order, and an accepted one then costs no promise.
 */
export function shopAuthHook(keys: readonly ShopKey[]): onRequestHookHandler {
  const match = createShopKeyMatcher(keys);
  return (request, reply, done) => {
    const key = bearerToken(request);
    const shop = key === null ? null : match(key);
    if (shop === null) {
      reply.header('www-authenticate', 'Bearer realm="orderpilot-intake"');
      if (key !== null) request.log.warn({ ip: request.ip }, 'order intake: unknown shop key');
      return done(
        new OrderpilotError(
          'UNAUTHENTICATED',
          keys.length === 0 ? 'order intake is closed: no shop keys are configured (SHOP_KEYS)' : 'order intake needs "Authorization: Bearer <shop key>" with a key from SHOP_KEYS',
        ),
      );
    }
    request.shop = shop;
    done();
  };
}
