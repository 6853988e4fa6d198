import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

export interface SunkMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string | null;
  attachments: Array<{ filename: string | undefined; contentType: string; content: Buffer }>;
  headers: Record<string, string>;
  receivedAt: string;
  /** The full parse (absent when the sink was started with `parse: 'headers'`). */
  raw?: ParsedMail;
}

export interface SmtpSink {
  readonly port: number;
  readonly url: string;
  readonly mails: SunkMail[];
  /** While down, the sink answers every message with a 421 (a transient failure). */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

/** The header block of a raw message, unfolded, names lower-cased (first occurrence wins). */
function headerBlock(raw: string): Record<string, string> {
  const end = raw.search(/\r?\n\r?\n/);
  const block = (end < 0 ? raw : raw.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of block.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    if (!(name in headers)) headers[name] = line.slice(i + 1).trim();
  }
  return headers;
}

/**
 * A real SMTP server on loopback that keeps what it receives. Used by the demo (the console shows
 * its mails) and by tests — a real server, never a mock of SMTP. `parse: 'full'` (default) parses
 * each message with mailparser (text, attachments decoded); `parse: 'headers'` keeps only the
 * header block (subject as sent, possibly RFC 2047-encoded; no body, no attachments), for a bench
 * that must not spend its CPU decoding PDFs it never looks at.
 */
export async function startSmtpSink(
  opts: {
    port?: number;
    maxMails?: number;
    parse?: 'full' | 'headers';
    /** Recipients refused permanently at RCPT TO (`550 5.1.1 No such user here`), like a mailbox that does not exist. */
    rejectRecipients?: RegExp;
  } = {},
): Promise<SmtpSink> {
  const mails: SunkMail[] = [];
  let down = false;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (opts.rejectRecipients?.test(address.address)) return callback(Object.assign(new Error('5.1.1 No such user here'), { responseCode: 550 }));
      callback();
    },
    onData(stream, session, callback) {
      if (down) {
        stream.resume();
        const err = Object.assign(new Error('Service temporarily unavailable'), { responseCode: 421 });
        stream.on('end', () => callback(err));
        return;
      }
      const keep = (mail: SunkMail) => {
        mails.push(mail);
        if (opts.maxMails !== undefined && mails.length > opts.maxMails) mails.splice(0, mails.length - opts.maxMails);
      };
      const envelope = () => ({
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        to: session.envelope.rcptTo.map((r) => r.address),
      });
      if (opts.parse === 'headers') {
        // Only the first chunks hold the headers; the rest of the message is read and dropped.
        let head = '';
        stream.on('data', (c: Buffer) => {
          if (head.length < 16_384) head += c.toString('latin1');
        });
        stream.on('end', () => {
          const headers = headerBlock(head);
          keep({ ...envelope(), subject: headers['subject'] ?? '', text: '', html: null, attachments: [], headers, receivedAt: new Date().toISOString() });
          callback();
        });
        stream.on('error', (err: Error) => callback(err));
        return;
      }
      simpleParser(stream)
        .then((parsed) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of parsed.headers) headers[k] = typeof v === 'string' ? v : JSON.stringify(v);
          keep({
            ...envelope(),
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : null,
            attachments: parsed.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content })),
            headers,
            receivedAt: new Date().toISOString(),
            raw: parsed,
          });
          callback();
        })
        .catch((err: Error) => callback(err));
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A client that dies mid-session (a SIGKILLed mailer) resets its connection: that is the
  // client's problem, never a reason for the SMTP server (and the process hosting it) to crash.
  server.on('error', () => {});
  const addr = server.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    url: `smtp://127.0.0.1:${port}?ignoreTLS=true`,
    mails,
    setDown(d) {
      down = d;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
