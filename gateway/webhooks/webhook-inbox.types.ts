/** The webhook inbox's vocabulary, shared by its store (`webhook-inbox.store.ts`) and receive/replay (`webhook-inbox.ts`). */
import type { Sql, SqlFragment } from '../../infra/db/postgres.ts';

/** `unchecked`: the body was not JSON, so no provider's signature check was run on it. */
export type SignatureVerdict = 'valid' | 'invalid' | 'unchecked';

/**
 * accepted: led to an event/command (a payment is forwarded to its order, which alone judges it: see
 * the webhook's `orderAnswers`); recorded: valid but nothing to do (other event types, pending
 * statuses); invalid: bad signature; unmatched: no such order; malformed: the body was not JSON
 * (stored, answered 400). `mismatch` is only found on rows stored before the order judged payments
 * (the gateway used to compare the amount itself).
 */
export type WebhookVerdict = 'accepted' | 'recorded' | 'invalid' | 'unmatched' | 'mismatch' | 'malformed';
export const WEBHOOK_VERDICTS: readonly WebhookVerdict[] = ['accepted', 'recorded', 'invalid', 'unmatched', 'mismatch', 'malformed'];

export type Headers = Record<string, string | string[] | undefined>;

/** One message a webhook leads to; the inbox wraps it in an envelope (id: see `webhook-inbox.ts`). */
export interface WebhookMessage {
  subject: string;
  type: string;
  orderId: string | null;
  payload: unknown;
  /** Explicit message id; default `<dedupeKey>` / `<dedupeKey>#<n>`. */
  id?: string;
  actor?: string;
  /** When the sender says it happened (default: now). */
  occurredAt?: string;
}

/** What is known about a request before it is stored: the row's columns (all plain data). */
export interface WebhookDecision {
  dedupeKey: string;
  signature: SignatureVerdict;
  verdict: WebhookVerdict;
  eventType?: string | null | undefined;
  orderId?: string | null | undefined;
  externalRef?: string | null | undefined;
  detail?: string | null | undefined;
}

/** A request to store: the decision plus who sent it and its exact bytes. */
export interface WebhookReceipt extends WebhookDecision {
  provider: string;
  headers: Headers;
  body: Buffer;
  /**
   * A row for another owner's table, written in the same statement as a new inbox row by the
   * provider's registered `AlongsideWriter` (the warehouse log for warehouse statuses).
   */
  alongside?: unknown;
}

/**
 * Another table's owner writes its rows in the inbox's own insert statement, as a CTE after
 * `new_inbox_rows(id, dedupe_key)` (the rows this statement inserted). `write` gets the values of
 * one batch and returns a data-modifying statement `returning dedupe_key` of the rows it wrote.
 */
export interface AlongsideWriter<T> {
  write(sql: Sql, values: readonly T[]): SqlFragment;
  /**
   * The values whose webhook this very statement completes (`write` logs it and nothing is published
   * for it afterwards), as a SELECT of their `dedupe_key` on the statement's snapshot, or null when
   * none can: their inbox rows are inserted already marked published, instead of being marked by a
   * second write. Must select only keys `write` writes when their inbox row is new.
   */
  settled?(sql: Sql, values: readonly T[]): SqlFragment | null;
}

/** A stored (or found) row, as `inbox.store` answers: the webhook id, and whether its messages are still to publish. */
export interface StoredReceipt {
  id: string;
  dedupeKey: string;
  provider: string;
  /** False when the dedupe key was already stored (a provider retry or replay). */
  isNew: boolean;
  verdict: WebhookVerdict;
  /**
   * True for a new row that is not `invalid`, and for a repeat whose first attempt stored the row
   * with the same verdict but never marked it published (crash, NATS down): finish its work.
   */
  toPublish: boolean;
  /** What was published for it so far. */
  messageIds: string[];
  /** A new row whose `alongside` row was written with it (false for repeats and rows without one). */
  alongside: boolean;
  /** A new row its insert already marked published: the alongside row was all its work (`AlongsideWriter.settled`). */
  settled: boolean;
}

/** A stored webhook, as the admin API and the console read it. */
export interface StoredWebhook {
  id: string;
  provider: string;
  dedupeKey: string;
  eventType: string | null;
  signature: SignatureVerdict;
  verdict: WebhookVerdict;
  detail: string | null;
  orderId: string | null;
  externalRef: string | null;
  headers: Record<string, string>;
  body: Buffer;
  messageIds: string[];
  receivedAt: string;
  publishedAt: string | null;
  replayCount: number;
  replayedAt: string | null;
  replayedBy: string | null;
  /** The admin's note on the last replay. */
  replayNote: string | null;
  /** Replayed by force at least once despite a signature that failed on arrival. */
  replayForced: boolean;
}

export interface ListFilter {
  verdict?: WebhookVerdict | undefined;
  provider?: string | undefined;
  orderId?: string | undefined;
  limit: number;
  /** Rows with id below this (newest first). */
  before?: string | undefined;
}

/** The bytes a provider's processor decides on (a live request, or a stored one on replay). */
export interface WebhookInput {
  headers: Record<string, string>;
  body: Buffer;
  /** True on an admin replay of stored bytes. */
  replay: boolean;
  /** On a replay: when the stored request arrived (a signature's timestamp is judged against it, not now). */
  receivedAt?: Date;
  /**
   * On a forced replay: an admin vouches for a request whose signature failed on arrival; it is decided
   * as if signed (the row keeps `signature: invalid`, the detail says it was forced and why).
   */
  force?: boolean;
}

/**
 * One provider's webhook logic, in two pure-data steps: `decide` what the bytes are (before the row
 * exists), then, once the row is stored and its id known, which `messages` it leads to. The route
 * calls both around `inbox.store`; an admin replay calls both for a stored row.
 */
export interface WebhookProcessor<D extends WebhookDecision = WebhookDecision> {
  decide(input: WebhookInput): Promise<D>;
  /** Never called for an `invalid` decision. */
  messages(decision: D, webhookId: string): WebhookMessage[];
  /**
   * What a redelivery of a webhook whose event never reached its order publishes (default `messages`):
   * the messages that reach the order under their own ids, so its inbox drops a second copy.
   */
  redelivery?(decision: D, webhookId: string): WebhookMessage[];
}
