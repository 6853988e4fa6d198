import nodemailer, { type Transporter } from 'nodemailer';
import { SMTP_TIMEOUTS_MS } from './config.ts';

export type MailTransport = Transporter;

/**
 * One nodemailer transport from `SMTP_URL` (smtp:// or smtps://). Pooled; callers own it and must
 * `close()` it on shutdown. Timeouts are short so a dead SMTP server is a fast, retryable failure.
 * `requireTls` (SMTP_REQUIRE_TLS): a server that does not offer STARTTLS is refused, mail is not sent in clear.
 */
export function createMailTransport(smtpUrl: string, opts: { requireTls?: boolean } = {}): MailTransport {
  const u = new URL(smtpUrl);
  return nodemailer.createTransport({
    host: u.hostname,
    port: Number(u.port || (u.protocol === 'smtps:' ? 465 : 25)),
    secure: u.protocol === 'smtps:',
    auth: u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : undefined,
    // Loopback sandboxes and dev catchers speak plain SMTP; real servers upgrade with STARTTLS.
    ignoreTLS: !opts.requireTls && u.searchParams.get('ignoreTLS') === 'true',
    // SMTP_REQUIRE_TLS: never send over a connection that did not upgrade with STARTTLS.
    requireTLS: opts.requireTls === true,
    tls: { rejectUnauthorized: u.searchParams.get('rejectUnauthorized') !== 'false' },
    pool: true,
    maxConnections: 5,
    connectionTimeout: SMTP_TIMEOUTS_MS.connection,
    greetingTimeout: SMTP_TIMEOUTS_MS.greeting,
    socketTimeout: SMTP_TIMEOUTS_MS.socket,
  });
}

/** SMTP failures worth retrying: connection problems and 4xx replies. */
export function isRetryableSmtpError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; responseCode?: unknown };
  if (typeof e.responseCode === 'number') return e.responseCode >= 400 && e.responseCode < 500;
  return typeof e.code === 'string' && ['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'ECONNREFUSED', 'ECONNRESET', 'EDNS'].includes(e.code);
}

/**
 * A failure after which the mail may have been delivered: no SMTP reply, and the connection was up
 * and then broke — the socket went quiet (nodemailer's socket timeout) or was reset / cut mid-way.
 * Refused connections, DNS failures and connect or greeting timeouts are certain: nothing was sent.
 */
export function isUncertainSmtpError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; originalCode?: unknown; responseCode?: unknown; message?: unknown };
  if (typeof e.responseCode === 'number') return false;
  if (e.code === 'ETIMEDOUT') return e.message === 'Timeout';
  const cause = e.originalCode ?? e.code;
  return (e.code === 'ESOCKET' || e.code === 'ECONNECTION') && (cause === 'ECONNRESET' || cause === 'EPIPE' || e.message === 'Connection closed' || e.message === 'Connection closed unexpectedly');
}
