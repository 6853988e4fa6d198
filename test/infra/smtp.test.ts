import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMailTransport, isRetryableSmtpError } from '../../infra/smtp.ts';
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
});
