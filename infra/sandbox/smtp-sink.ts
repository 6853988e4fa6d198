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
  raw: ParsedMail;
}

export interface SmtpSink {
  readonly port: number;
  readonly url: string;
  readonly mails: SunkMail[];
  /** While down, the sink answers every message with a 421 (a transient failure). */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

/**
 * A real SMTP server on loopback that keeps what it receives (parsed with mailparser). Used by the
 * demo (the console shows its mails) and by tests — a real server, never a mock of SMTP.
 */
export async function startSmtpSink(opts: { port?: number; maxMails?: number } = {}): Promise<SmtpSink> {
  const mails: SunkMail[] = [];
  let down = false;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      if (down) {
        stream.resume();
        const err = Object.assign(new Error('Service temporarily unavailable'), { responseCode: 421 });
        stream.on('end', () => callback(err));
        return;
      }
      simpleParser(stream)
        .then((parsed) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of parsed.headers) headers[k] = typeof v === 'string' ? v : JSON.stringify(v);
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : null,
            attachments: parsed.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content })),
            headers,
            receivedAt: new Date().toISOString(),
            raw: parsed,
          });
          if (opts.maxMails !== undefined && mails.length > opts.maxMails) mails.splice(0, mails.length - opts.maxMails);
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
