import { eventually } from '../support/context.ts';
import { KSEF_TEST_ENV } from '../support/ksef.ts';
import { startSystemWorld } from '../support/system-world.ts';

/** Customers whose mailbox refuses mail (550 at RCPT TO) have addresses starting so. */
export const BOUNCING_MAILBOX = 'bounce-';

/**
 * The whole system on loopback for the model-based suite (the system world: gateway, order host,
 * invoicing, mailer, logistics and payments services, the Fakturownia, warehouse, Stripe and PayU
 * sandboxes and an SMTP sink), with KSeF on. Sandbox doors hold requests (creates, submits, cancels)
 * until a step answers them, so the clients wait long (120 s) instead of timing out.
 */
export async function startModelWorld(o: { paymentTimeoutMs?: number; ksefGiveUpMs?: number } = {}) {
  const world = await startSystemWorld({
    invoicing: { ksef: 'on' },
    rejectRecipients: new RegExp(`^${BOUNCING_MAILBOX}`),
    env: {
      // Companies' documents go through KSeF; the sandbox holds each verdict until a step gives it.
      ...KSEF_TEST_ENV,
      FAKTUROWNIA_TIMEOUT_MS: '120000',
      WAREHOUSE_TIMEOUT_MS: '120000',
      // Held requests occupy a consumer slot each while they wait.
      INVOICING_CONCURRENCY: '128',
      LOGISTICS_CONCURRENCY: '128',
      ...(o.paymentTimeoutMs !== undefined ? { PAYMENT_TIMEOUT_MS: String(o.paymentTimeoutMs) } : {}),
      ...(o.ksefGiveUpMs !== undefined ? { KSEF_GIVE_UP_MS: String(o.ksefGiveUpMs) } : {}),
    },
  });
  return { ...world, eventually };
}

export type ModelWorld = Awaited<ReturnType<typeof startModelWorld>>;
