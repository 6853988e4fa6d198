import { createHash, timingSafeEqual } from 'node:crypto';
import type { PaymentNotice, ProviderEvent } from './payment.types.ts';

/**
 * PayU notifications (REST API 2.1): `OpenPayu-Signature: sender=checkout;signature=<hex>;algorithm=MD5;content=DOCUMENT`
 * where signature = hash(body + second key) and algorithm is MD5 or SHA256 (SHA-256).
 */

export type PayuVerification = { ok: true; event: ProviderEvent } | { ok: false; reason: string };

const ALGORITHMS: Record<string, string> = { MD5: 'md5', SHA256: 'sha256', 'SHA-256': 'sha256' };

export function parseSignatureHeader(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim().toLowerCase()] = part.slice(i + 1).trim();
  }
  return out;
}

/** The signature PayU sends for `body` (also used by tests and the sandbox to sign). */
export function payuSignature(body: Buffer | string, secondKey: string, algorithm: 'MD5' | 'SHA256' = 'MD5'): string {
  return createHash(ALGORITHMS[algorithm] ?? 'md5')
    .update(Buffer.concat([Buffer.isBuffer(body) ? body : Buffer.from(body), Buffer.from(secondKey)]))
    .digest('hex');
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/**
 * How the customer paid: PayU's `order.payMethod.type` — CARD_TOKEN is a card (`card`), PBL a
 * pay-by-link transfer (`pbl`), INSTALLMENTS and others lower-cased as sent. Absent: not said.
 */
function payuMethod(o: Obj): { method?: string } {
  const type = isObj(o['payMethod']) ? str(o['payMethod']['type']) : null;
  if (type === null) return {};
  return { method: type === 'CARD_TOKEN' ? 'card' : type.toLowerCase().slice(0, 50) };
}

/** Maps a (verified) PayU notification body to what it means for an order. Pure. */
export function mapPayuNotification(body: unknown): ProviderEvent | null {
  if (!isObj(body) || !isObj(body['order'])) return null;
  const o = body['order'];
  const payuOrderId = str(o['orderId']);
  const status = str(o['status']);
  if (payuOrderId === null || status === null) return null;
  const ref = str(o['extOrderId']);
  // The PayU order id is what a refund is addressed to (`POST /api/v2_1/orders/{orderId}/refunds`).
  const paymentId = payuOrderId;
  const amountRaw = o['totalAmount'];
  const amount = typeof amountRaw === 'number' ? amountRaw : typeof amountRaw === 'string' && /^\d+$/.test(amountRaw) ? Number(amountRaw) : -1;
  let notice: PaymentNotice;
  switch (status) {
    case 'COMPLETED':
      notice = { kind: 'confirmed', ref, paymentId, amount, currency: (str(o['currencyCode']) ?? '').toUpperCase(), ...payuMethod(o) };
      break;
    case 'CANCELED':
      notice = { kind: 'failed', ref, paymentId, reason: 'PayU order canceled' };
      break;
    default:
      notice = { kind: 'ignored', ref, reason: `PayU status ${status} is not a final payment outcome` };
  }
  // PayU sends one notification per status change (and repeats it until answered 200).
  return { eventId: `${payuOrderId}:${status}`, eventType: status, notice };
}

/** Verifies the signature header over the exact bytes with the second key, constant time. */
export function verifyPayuSignature(body: Buffer, header: string | undefined, secondKey: string | undefined): { ok: true } | { ok: false; reason: string } {
  if (secondKey === undefined) return { ok: false, reason: 'PAYU_SECOND_KEY is not configured' };
  if (!header) return { ok: false, reason: 'OpenPayu-Signature header is missing' };
  const parts = parseSignatureHeader(header);
  const algorithm = (parts['algorithm'] ?? 'MD5').toUpperCase();
  const alg = ALGORITHMS[algorithm];
  if (alg === undefined) return { ok: false, reason: `unsupported signature algorithm ${algorithm}` };
  const given = (parts['signature'] ?? '').toLowerCase();
  const expected = createHash(alg).update(Buffer.concat([body, Buffer.from(secondKey)])).digest('hex');
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: 'signature does not match' };
  return { ok: true };
}
