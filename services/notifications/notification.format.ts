import type { StoredNotification } from './notification.types.ts';

/** How many notifications a digest lists one by one; the rest are counted. */
const DIGEST_LIST_LIMIT = 200;

export interface RenderedBatch {
  subject: string;
  text: string;
}

export interface FormatOptions {
  /** Base URL of the admin console (e.g. http://127.0.0.1:3000/admin), for links. */
  consoleUrl: string | null;
}

function who(n: StoredNotification): string {
  return n.externalId ?? n.orderId ?? '—';
}

function line(n: StoredNotification, o: FormatOptions): string {
  const repeats = n.occurrences > 1 ? ` (×${n.occurrences})` : '';
  const link = o.consoleUrl && n.orderId ? `\n    ${o.consoleUrl}/orders/${encodeURIComponent(n.orderId)}` : '';
  return `- [${n.severity}] ${n.code} · order ${who(n)}: ${n.message}${repeats}${link}`;
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/**
 * Pure rendering of a batch (one notification or a digest of many) into a subject and a plain-text
 * body; the same text is the webhook's Slack-style `text`.
 */
export function renderBatch(batch: readonly StoredNotification[], o: FormatOptions): RenderedBatch {
  const footer = o.consoleUrl ? `\n\nAcknowledge in the admin console: ${o.consoleUrl}` : '';
  if (batch.length === 1) {
    const n = batch[0] as StoredNotification;
    return {
      subject: clip(`[orderpilot] ${n.severity}: ${n.message}`, 200),
      text: `${n.message}\n\nkind: ${n.kind}\ncode: ${n.code}\norder: ${who(n)}\nseverity: ${n.severity}\nat: ${n.createdAt}${o.consoleUrl && n.orderId ? `\n\n${o.consoleUrl}/orders/${encodeURIComponent(n.orderId)}` : ''}${footer}`,
    };
  }
  const byKind = new Map<string, number>();
  for (const n of batch) byKind.set(n.kind, (byKind.get(n.kind) ?? 0) + 1);
  const summary = [...byKind.entries()].sort((a, b) => b[1] - a[1]).map(([k, c]) => `${c} ${k}`).join(', ');
  const critical = batch.filter((n) => n.severity === 'critical').length;
  const listed = [...batch].sort((a, b) => rank(b) - rank(a)).slice(0, DIGEST_LIST_LIMIT);
  const more = batch.length - listed.length;
  return {
    subject: clip(`[orderpilot] ${batch.length} notifications${critical ? ` (${critical} critical)` : ''}: ${summary}`, 200),
    text:
      `${batch.length} notifications need attention: ${summary}.\n\n` +
      listed.map((n) => line(n, o)).join('\n') +
      (more > 0 ? `\n… and ${more} more in the console.` : '') +
      footer,
  };
}

function rank(n: StoredNotification): number {
  return n.severity === 'critical' ? 2 : n.severity === 'warning' ? 1 : 0;
}
