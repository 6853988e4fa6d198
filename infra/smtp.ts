import { Readable } from 'node:stream';
import nodemailer, { type SentMessageInfo, type Transporter } from 'nodemailer';
import MailComposer, { type MailComposerOptions } from 'nodemailer/lib/mail-composer';
import type MimeNode from 'nodemailer/lib/mime-node';
import SMTPPool from 'nodemailer/lib/smtp-pool';
import * as base64 from 'nodemailer/lib/base64';
import * as qp from 'nodemailer/lib/qp';
import { SMTP_TIMEOUTS_MS } from './config.ts';

export type MailTransport = Transporter;

/** A message composed ahead of the send: `sendComposed(transport, composeMail(mail))`. */
export interface ComposedMail {
  envelope: { from: string; to: string[] };
  raw: Buffer;
  messageId: string;
}

/**
 * Composes `mail` into one buffer with nodemailer's own composer (the same MIME tree, headers,
 * boundaries and encodings `sendMail(mail)` would produce), serialized at once instead of through
 * nodemailer's stream per MIME part: those streams cost more CPU than the rest of the send (an
 * AbortSignal per part, small chunks each written to the socket on its own). The envelope is the
 * one nodemailer derives from the headers. Only in-memory content (strings, Buffers); a stream,
 * path or URL throws. Compose errors throw here, where `sendMail` would have rejected.
 */
export function composeMail(mail: MailComposerOptions): ComposedMail {
  const root = new MailComposer(mail).compile();
  const parts: Buffer[] = [];
  serializeNode(root, parts);
  // nodemailer's LastNewline: the message ends with a line break.
  const last = parts.at(-1);
  if (last !== undefined && last.at(-1) !== 0x0a) parts.push(Buffer.from('\r\n'));
  const { from, to } = root.getEnvelope();
  if (typeof from !== 'string') throw Object.assign(new Error('No sender address for the mail envelope'), { code: 'EENVELOPE' });
  return { envelope: { from, to }, raw: Buffer.concat(parts), messageId: root.messageId() };
}

/**
 * Sends a composed mail. Over the pooled SMTP transport (`createMailTransport`) it goes to the pool
 * itself, through nodemailer's transport interface (`send(mail, callback)`), with the message as one
 * buffer: `sendMail` would first run it through nodemailer's mailer (its plugin steps, a MIME tree
 * around the raw message, a stream with two transforms over every byte) — 0.9–1.1 ms of CPU per
 * 46 KB mail against 0.5–0.6 (README, "Benchmark", twenty-fifth round). The pool's queue, connections,
 * limits, requeues and errors are nodemailer's as before; the envelope, Message-ID and the answer
 * (`info`) are what `sendMail` gives. Any other transport gets `sendMail`.
 */
export function sendComposed(transport: MailTransport, mail: ComposedMail): Promise<SentMessageInfo> {
  const pool: unknown = transport.transporter;
  if (!(pool instanceof SMTPPool)) return transport.sendMail(mail);
  // What the pool reads of a mail (nodemailer 10.6's SMTPPool and its PoolResource): `data` for the
  // abort signal and the DSN / REQUIRETLS options (none here), and of `message` the envelope, the
  // Message-ID (with and without its brackets) and a fresh stream of the bytes for each attempt.
  const message = {
    getEnvelope: () => ({ from: mail.envelope.from, to: [...mail.envelope.to] }),
    messageId: () => mail.messageId,
    getHeader: (key: string) => (key.toLowerCase() === 'message-id' ? mail.messageId : undefined),
    createReadStream: () => Readable.from([mail.raw], { objectMode: false }),
  };
  return new Promise((resolve, reject) => {
    pool.send({ data: {}, message } as unknown as Parameters<SMTPPool['send']>[0], (err, info) => (err ? reject(err) : resolve(info as SentMessageInfo)));
  });
}

const BASE64_LINE = 76;

/**
 * Base64 text in lines of 76 with CRLF between them and none after the last, byte for byte what
 * nodemailer's `base64.wrap` returns; copied line by line, where `wrap`'s regular expression over
 * the whole string cost a tenth of a PDF mail's CPU.
 */
function wrapBase64(b64: Buffer): Buffer {
  if (b64.length <= BASE64_LINE) return b64;
  const breaks = Math.ceil(b64.length / BASE64_LINE) - 1;
  const out = Buffer.allocUnsafe(b64.length + 2 * breaks);
  let to = 0;
  for (let from = 0; from < b64.length; from += BASE64_LINE) {
    if (from > 0) to = out.writeUInt16BE(0x0d0a, to);
    to += b64.copy(out, to, from, Math.min(from + BASE64_LINE, b64.length));
  }
  return out;
}

/** One node as `MimeNode.stream` writes it: headers, encoded content, then each child between boundaries. */
function serializeNode(node: MimeNode, out: Buffer[]): void {
  const transferEncoding = node.getTransferEncoding();
  out.push(Buffer.from(`${node.buildHeaders()}\r\n\r\n`));
  const content = node.content;
  if (content) {
    if (typeof content !== 'string' && !Buffer.isBuffer(content)) throw new Error('composeMail takes in-memory content only (a string or a Buffer)');
    if (transferEncoding === 'base64') out.push(wrapBase64(Buffer.from(base64.encode(content), 'latin1')));
    // A lone CR or LF is data only outside text/*, where nodemailer encodes it with its binary mode; not supported here.
    else if (transferEncoding === 'quoted-printable' && /^text\//i.test(node.contentType ?? '')) out.push(Buffer.from(qp.wrap(qp.encode(content), 76), 'latin1'));
    else if (transferEncoding === 'quoted-printable') throw new Error('composeMail: quoted-printable outside text/* is not supported');
    else out.push(typeof content === 'string' ? Buffer.from(content) : content);
  }
  if (node.multipart) {
    node.childNodes.forEach((child, i) => {
      out.push(Buffer.from(`${i > 0 ? '\r\n' : ''}--${String(node.boundary)}\r\n`));
      serializeNode(child, out);
    });
    out.push(Buffer.from(`\r\n--${String(node.boundary)}--\r\n`));
  }
}

/**
 * One nodemailer transport from `SMTP_URL` (smtp:// or smtps://). Pooled; callers own it and must
 * `close()` it on shutdown. Timeouts are short so a dead SMTP server is a fast, retryable failure.
 * `requireTls` (SMTP_REQUIRE_TLS): a server that does not offer STARTTLS is refused, mail is not sent in clear.
 */
export function createMailTransport(smtpUrl: string, opts: { requireTls?: boolean; maxConnections?: number } = {}): MailTransport {
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
    maxConnections: opts.maxConnections ?? 5,
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
