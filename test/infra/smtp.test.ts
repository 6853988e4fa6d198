import { randomBytes } from 'node:crypto';
import net from 'node:net';
import MailComposer, { type MailComposerOptions } from 'nodemailer/lib/mail-composer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { composeMail, createMailTransport, isRetryableSmtpError, sendComposed } from '../../infra/smtp.ts';
import { startSmtpSink, type SmtpSink } from '../../infra/sandbox/smtp-sink.ts';

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(async () => {
  await sink.close();
});

describe('SMTP transport and sink (real SMTP on loopback)', () => {
  it('delivers a mail with an attachment that the sink parses', async () => {
    const transport = createMailTransport(sink.url);
    await transport.sendMail({
      from: 'shop@example.com',
      to: 'jan@example.com',
      subject: 'Faktura FV/1/11/2026',
      text: 'W załączniku faktura.',
      attachments: [{ filename: 'FV-1.pdf', content: Buffer.from('%PDF-1.4 test'), contentType: 'application/pdf' }],
    });
    transport.close();
    expect(sink.mails).toHaveLength(1);
    expect(sink.mails[0]).toMatchObject({ to: ['jan@example.com'], subject: 'Faktura FV/1/11/2026' });
    expect(sink.mails[0]?.attachments[0]?.content.subarray(0, 5).toString()).toBe('%PDF-');
  });

  it('a mail composed with composeMail and sent raw arrives like the mail itself: envelope, headers, text, html, the PDF byte for byte', async () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(20_000)]);
    const transport = createMailTransport(sink.url);
    const info = await transport.sendMail(
      composeMail({
        from: 'orderpilot <orders@localhost>',
        to: { name: 'Łukasz Żółć', address: 'lukasz@example.com' },
        subject: 'Faktura FV/2/11/2026 do zamówienia COMPOSED-1',
        text: 'Dzień dobry,\n\n.w załączniku faktura.\n',
        html: '<p>Dzień dobry</p>',
        messageId: '<document-composed@orderpilot>',
        attachments: [{ filename: 'FV-2-11-2026.pdf', content: pdf, contentType: 'application/pdf' }],
      }),
    );
    transport.close();
    expect(info.messageId).toBe('<document-composed@orderpilot>');
    const mail = sink.mails.find((m) => m.subject.includes('COMPOSED-1'));
    expect(mail).toMatchObject({ from: 'orders@localhost', to: ['lukasz@example.com'], subject: 'Faktura FV/2/11/2026 do zamówienia COMPOSED-1' });
    expect(mail?.text).toBe('Dzień dobry,\n\n.w załączniku faktura.\n');
    expect(mail?.html).toBe('<p>Dzień dobry</p>');
    expect(mail?.headers['message-id']).toBe('<document-composed@orderpilot>');
    expect(mail?.raw?.to).toMatchObject({ value: [{ name: 'Łukasz Żółć', address: 'lukasz@example.com' }] });
    expect(mail?.attachments).toHaveLength(1);
    expect(mail?.attachments[0]).toMatchObject({ filename: 'FV-2-11-2026.pdf', contentType: 'application/pdf' });
    expect(mail?.attachments[0]?.content.equals(pdf)).toBe(true);
  });

  it('survives a client that resets its connection mid-message (a killed sender) and keeps accepting mail', async () => {
    const socket = net.connect(sink.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write('EHLO killed.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: half\r\n\r\nhalf a');
    await new Promise((r) => setTimeout(r, 100));
    socket.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 100));
    const before = sink.mails.length;
    const transport = createMailTransport(sink.url);
    await transport.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: 'after the reset', text: 'still here' });
    transport.close();
    expect(sink.mails.length).toBe(before + 1);
    expect(sink.mails.at(-1)?.subject).toBe('after the reset');
    expect(sink.mails.some((m) => m.subject === 'half')).toBe(false);
  });

  it('reports a down server as a retryable failure', async () => {
    sink.setDown(true);
    const transport = createMailTransport(sink.url);
    const err = await transport.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: 'x', text: 'y' }).catch((e: unknown) => e);
    transport.close();
    sink.setDown(false);
    expect(err).toBeInstanceOf(Error);
    expect(isRetryableSmtpError(err)).toBe(true);
  });

  it('SMTP_REQUIRE_TLS: a server without STARTTLS gets no mail in clear', async () => {
    const before = sink.mails.length;
    const transport = createMailTransport(sink.url, { requireTls: true });
    const err = await transport.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: 'secret', text: 'not in clear' }).then(
      () => null,
      (e: unknown) => e as { code?: string; message?: string },
    );
    transport.close();
    expect(err).not.toBeNull();
    expect(err?.message ?? '').toMatch(/STARTTLS/i);
    expect(sink.mails.length).toBe(before);
  });

  it('SMTP_MAX_CONNECTIONS: mails sent at once go over at most that many connections', async () => {
    // A TCP relay in front of the sink counts the connections the transport opens.
    let opened = 0;
    const relay = net.createServer((client) => {
      opened++;
      const upstream = net.connect(Number(new URL(sink.url).port), '127.0.0.1');
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const url = `smtp://127.0.0.1:${(relay.address() as net.AddressInfo).port}?ignoreTLS=true`;
    const sendEight = async (maxConnections: number) => {
      opened = 0;
      const transport = createMailTransport(url, { maxConnections });
      await Promise.all(Array.from({ length: 8 }, (_, i) => transport.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: `at once ${i}`, text: 'x' })));
      transport.close();
      return opened;
    };
    try {
      const few = await sendEight(2);
      expect(few).toBeGreaterThanOrEqual(1);
      expect(few).toBeLessThanOrEqual(2);
      expect(await sendEight(8)).toBeGreaterThan(2);
    } finally {
      relay.close();
    }
  });
});

describe('sendComposed (the pool without the mailer in front; real SMTP on loopback)', () => {
  const composed = (tag: string, to = 'lukasz@example.com') =>
    composeMail({
      from: 'orderpilot <orders@localhost>',
      to: { name: 'Łukasz Żółć', address: to },
      subject: `Faktura FV/3/11/2026 ${tag}`,
      text: 'Dzień dobry,\n\n.w załączniku faktura.\n',
      html: '<p>Dzień dobry</p>',
      messageId: `<document-${tag}@orderpilot>`,
      attachments: [{ filename: 'FV-3-11-2026.pdf', content: Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(30_000)]), contentType: 'application/pdf' }],
    });

  it('delivers what sendMail delivers, and answers the same info', async () => {
    const transport = createMailTransport(sink.url);
    const direct = composed('DIRECT-1');
    const viaMailer = composed('MAILER-1');
    const [a, b] = [await sendComposed(transport, direct), await transport.sendMail(viaMailer)];
    transport.close();
    for (const [info, mail, tag] of [[a, direct, 'DIRECT-1'], [b, viaMailer, 'MAILER-1']] as const) {
      expect(info).toMatchObject({ messageId: mail.messageId, envelope: { from: 'orders@localhost', to: ['lukasz@example.com'] }, accepted: ['lukasz@example.com'], rejected: [] });
      expect(info.response).toMatch(/^250/);
      const got = sink.mails.find((m) => m.subject.endsWith(tag));
      expect(got).toMatchObject({ from: 'orders@localhost', to: ['lukasz@example.com'], text: 'Dzień dobry,\n\n.w załączniku faktura.\n', html: '<p>Dzień dobry</p>' });
      expect(got?.headers['message-id']).toBe(mail.messageId);
      // The attachment as composed: the same bytes whichever way the mail went.
      const pdf = /filename=FV-3-11-2026\.pdf\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--/.exec(mail.raw.toString('latin1'))?.[1];
      expect(got?.attachments[0]?.content.equals(Buffer.from(pdf?.replace(/\r\n/g, '') ?? '', 'base64'))).toBe(true);
    }
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  });

  it('fails like sendMail: a refused recipient (550, not retryable) and a server that is down (421, retryable)', async () => {
    const strict = await startSmtpSink({ rejectRecipients: /^nobody@/ });
    const transport = createMailTransport(strict.url);
    try {
      const refused = await sendComposed(transport, composed('REFUSED', 'nobody@example.com')).catch((e: unknown) => e as { code?: string; responseCode?: number });
      const refusedByMailer = await transport.sendMail(composed('REFUSED-2', 'nobody@example.com')).catch((e: unknown) => e as { code?: string; responseCode?: number });
      expect(refused).toMatchObject({ code: 'EENVELOPE', responseCode: 550 });
      expect(refusedByMailer).toMatchObject({ code: refused.code, responseCode: refused.responseCode });
      expect(isRetryableSmtpError(refused)).toBe(false);
      strict.setDown(true);
      const down = await sendComposed(transport, composed('DOWN')).catch((e: unknown) => e);
      expect(down).toMatchObject({ responseCode: 421 });
      expect(isRetryableSmtpError(down)).toBe(true);
      strict.setDown(false);
      // The connection is still good after both: the next mail goes out.
      await sendComposed(transport, composed('AFTER'));
      expect(strict.mails.map((m) => m.subject)).toEqual(['Faktura FV/3/11/2026 AFTER']);
    } finally {
      transport.close();
      await strict.close();
    }
  });

  it('a pooled connection the server dropped between two mails: the next mail still goes out, once', async () => {
    // A TCP relay in front of the sink, to cut the pool's connection the way a server's idle timeout does.
    const sockets = new Set<net.Socket>();
    const relay = net.createServer((client) => {
      const upstream = net.connect(sink.port, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const transport = createMailTransport(`smtp://127.0.0.1:${(relay.address() as net.AddressInfo).port}?ignoreTLS=true`, { maxConnections: 1 });
    try {
      await sendComposed(transport, composed('BEFORE-DROP'));
      for (const s of sockets) s.destroy();
      await sendComposed(transport, composed('AFTER-DROP'));
      expect(sink.mails.filter((m) => m.subject.endsWith('AFTER-DROP'))).toHaveLength(1);
    } finally {
      transport.close();
      relay.close();
    }
  });

  it('a closed pool answers with an error (no promise left hanging); another transport gets sendMail', async () => {
    const transport = createMailTransport(sink.url);
    transport.close();
    await expect(sendComposed(transport, composed('CLOSED'))).rejects.toMatchObject({ code: 'ECONNECTION' });
    const stream = nodemailer.createTransport({ streamTransport: true, buffer: true });
    const info = await sendComposed(stream, composed('STREAM'));
    expect(info).toMatchObject({ messageId: '<document-STREAM@orderpilot>', envelope: { from: 'orders@localhost', to: ['lukasz@example.com'] } });
    expect(Buffer.isBuffer(info.message) && info.message.toString('latin1')).toContain('Subject: Faktura FV/3/11/2026 STREAM');
  });
});

describe('composeMail', () => {
  // Boundaries and generated Message-IDs are random: the same shape, not the same bytes.
  const comparable = (raw: Buffer) =>
    raw
      .toString('latin1')
      .replace(/_NmP-[0-9a-f]+-Part_\d+/g, '<boundary>')
      .replace(/^Message-ID: .*$/m, 'Message-ID: <generated>');
  const date = new Date('2026-11-30T10:00:00Z');
  const cases: Array<[string, MailComposerOptions]> = [
    ['plain ASCII text (7bit)', { from: 'a@example.com', to: 'b@example.com', subject: 'x', text: 'short ascii', date }],
    [
      'Polish text and html with long lines and a dot at a line start',
      { from: 'Sklep Ćma <a@example.com>', to: 'b@example.com', subject: 'Zażółć gęślą jaźń '.repeat(6), text: `${'long '.repeat(40)}\n.dot\nzażółć ${'ą'.repeat(300)}`, html: `<p>${'ę'.repeat(500)}</p>`, date },
    ],
    ...[0, 1, 57, 114, 20_001].map((n): [string, MailComposerOptions] => [
      `text, html and a ${n}-byte attachment`,
      { from: 'orderpilot <orders@localhost>', to: { name: 'Jan Kowalski', address: 'jan@example.com' }, subject: 'Faktura', text: 'W załączniku faktura.\n', html: '<p>faktura</p>', messageId: '<m@x>', date, attachments: [{ filename: 'ż.pdf', content: randomBytes(n), contentType: 'application/pdf' }] },
    ]),
  ];
  it.each(cases)('%s: byte for byte what nodemailer streams for the same mail', async (_name, mail) => {
    const streamed = await new MailComposer(mail).compile().build();
    expect(comparable(composeMail(mail).raw)).toBe(comparable(streamed));
  });

  it('takes the envelope from the headers, as sendMail would', () => {
    const { envelope, messageId } = composeMail({ from: 'Shop <shop@example.com>', to: [{ name: 'Jan', address: 'jan@example.com' }, 'ola@example.com'], subject: 's', text: 't', messageId: '<id@x>' });
    expect(envelope).toEqual({ from: 'shop@example.com', to: ['jan@example.com', 'ola@example.com'] });
    expect(messageId).toBe('<id@x>');
  });

  it('refuses content it would have to read from a stream, a file or a URL', () => {
    expect(() => composeMail({ from: 'a@example.com', to: 'b@example.com', text: 't', attachments: [{ filename: 'f.pdf', path: '/etc/hostname' }] })).toThrow(/in-memory content only/);
  });
});

/**
 * nodemailer's dot-stuffing stream as released (10.6.1), every byte tested in JavaScript: the oracle
 * for the patched one (infra/patches/nodemailer+10.6.1.patch), which jumps between line breaks.
 */
function stuffedAsReleased(chunks: readonly Buffer[]): Buffer {
  const out: Buffer[] = [];
  let lastByte: number | false = false;
  for (const chunk of chunks) {
    if (chunk.length === 0) continue;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      const prev = i ? chunk[i - 1] : lastByte;
      if (prev === 0x0d && byte !== 0x0a) out.push(Buffer.from(byte === 0x2e ? '\n.' : '\n'));
      else if (byte === 0x0a && prev !== 0x0d) out.push(Buffer.from('\r'));
      else if (byte === 0x2e && (prev === 0x0a || prev === false)) out.push(Buffer.from('.'));
      out.push(chunk.subarray(i, i + 1));
    }
    lastByte = chunk[chunk.length - 1] ?? lastByte;
  }
  out.push(Buffer.from(lastByte === 0x0a ? '.\r\n' : lastByte === 0x0d ? '\n.\r\n' : '\r\n.\r\n'));
  return Buffer.concat(out);
}

describe('SMTP DATA dot-stuffing (nodemailer patched to skip between line breaks)', () => {
  async function stuffed(chunks: readonly Buffer[]): Promise<Buffer> {
    const { default: DataStream } = (await import('nodemailer/lib/smtp-connection/data-stream.js')) as { default: new () => import('node:stream').Transform };
    const stream = new DataStream();
    const out: Buffer[] = [];
    stream.on('data', (b: Buffer) => out.push(b));
    const ended = new Promise((resolve) => stream.on('end', resolve));
    for (const c of chunks) stream.write(c);
    stream.end();
    await ended;
    return Buffer.concat(out);
  }

  it('the patch is applied', async () => {
    const { readFile } = await import('node:fs/promises');
    const { createRequire } = await import('node:module');
    const file = createRequire(import.meta.url).resolve('nodemailer/lib/smtp-connection/data-stream.js');
    expect(await readFile(file, 'utf8')).toContain('orderpilot patch');
  });

  it.each([
    ['a dot at the very start', ['.hello\r\n']],
    ['bare LF, bare CR, CR before a dot (no "\\r.\\r" end of data)', ['a\nb\rc\r.d\r\n.\r\n']],
    ['a line break split across chunks, a dot in the next chunk', ['line\r', '\n', '.', 'x\r', '.y\n', '\n..']],
    ['ends in CR, then in LF', ['x\r'], ['x\n']],
    ['no line break at all', ['plain text without breaks']],
  ].flatMap(([name, ...variants]) => (variants as string[][]).map((v) => [name as string, v] as const)))('%s: byte for byte as released', async (_name, parts) => {
    const chunks = parts.map((p) => Buffer.from(p, 'latin1'));
    expect((await stuffed(chunks)).toString('latin1')).toBe(stuffedAsReleased(chunks).toString('latin1'));
  });

  it('random text of dots, CRs, LFs and letters in random chunks: byte for byte as released (2,000 cases)', async () => {
    let seed = 16;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = Buffer.from('.\r\na.');
    for (let k = 0; k < 2000; k++) {
      const data = Buffer.from(Array.from({ length: rnd(60) }, () => alphabet[rnd(alphabet.length)] as number));
      const chunks: Buffer[] = [];
      for (let at = 0; at < data.length; ) {
        const n = 1 + rnd(12);
        chunks.push(data.subarray(at, at + n));
        at += n;
      }
      expect((await stuffed(chunks)).toString('latin1'), JSON.stringify(data.toString('latin1'))).toBe(stuffedAsReleased(chunks).toString('latin1'));
    }
  });

  it('a composed mail with a 40 kB PDF: byte for byte as released', async () => {
    const { raw } = composeMail({ from: 'a@example.com', to: 'b@example.com', subject: 'Faktura', text: 'Dzień dobry,\n.kropka\n', attachments: [{ filename: 'f.pdf', content: randomBytes(40_000) }] });
    const chunks = [raw.subarray(0, 1000), raw.subarray(1000, 17_000), raw.subarray(17_000)];
    expect((await stuffed(chunks)).equals(stuffedAsReleased(chunks))).toBe(true);
  });
});
