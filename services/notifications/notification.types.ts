import { createHash } from 'node:crypto';
import type { NotifyCommand } from '../contracts/index.ts';

export type Severity = NotifyCommand['severity'];

/** Where notifications go besides the Postgres inbox. */
export type ChannelName = 'email' | 'webhook';

/** A notification as the service raises it (from a notify command or a dead letter). */
export interface NewNotification {
  kind: string;
  severity: Severity;
  code: string;
  orderId: string | null;
  externalId: string | null;
  message: string;
  /** The message id (or dead-letter row) that raised it: kept for tracing. */
  source: string;
}

/** A stored notification, as channels render it. */
export interface StoredNotification {
  id: string;
  kind: string;
  severity: Severity;
  code: string;
  orderId: string | null;
  externalId: string | null;
  message: string;
  occurrences: number;
  createdAt: string;
}

/** A notification as the admin API and console show it. */
export interface NotificationView extends StoredNotification {
  lastSeenAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  /** Per channel: pending | sending | sent | failed | skipped; empty when stored only. */
  delivery: Record<string, string>;
}

/**
 * The "same problem" key: a problem on an order is its code; a problem without an order is its kind,
 * code and message. While a notification with this key is unacknowledged, repeats only count up.
 */
export function dedupeKey(n: Pick<NewNotification, 'kind' | 'code' | 'orderId' | 'message'>): string {
  if (n.orderId !== null) return `order:${n.orderId}:${n.code}`;
  return `global:${n.kind}:${n.code}:${createHash('sha256').update(n.message).digest('hex').slice(0, 32)}`;
}
