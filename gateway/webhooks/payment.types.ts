/**
 * What a payment provider's notification means for orderpilot, decided by the provider's adapter
 * (pure: no I/O). `ref` is the order reference the provider carries (our order id or the shop's
 * externalId).
 */
export type PaymentNotice =
  | { kind: 'confirmed'; ref: string | null; paymentId: string; amount: number; currency: string; /** How the customer paid (card, blik, …), when the provider says. */ method?: string }
  | { kind: 'failed'; ref: string | null; paymentId: string | null; reason: string }
  | { kind: 'ignored'; ref: string | null; reason: string };

/** A provider event: its id (for de-duplication), its type/status and what it means. */
export interface ProviderEvent {
  eventId: string;
  eventType: string;
  notice: PaymentNotice;
}
