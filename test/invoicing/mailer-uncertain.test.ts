import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrdersService } from '../../services/orders/main.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';
import { startMailerService } from '../../services/mailer/main.ts';
import { createMailDeliveryStore } from '../../services/mailer/mail-delivery.store.ts';
import { startInvoicingSandbox, type InvoicingSandbox } from '../../infra/sandbox/invoicing-sandbox.ts';
import { loadConfig } from '../../infra/config.ts';
import { createSql } from '../../infra/db/postgres.ts';
import type { RunningService } from '../../infra/runtime/service.ts';
import { createTestContext, eventually, type TestContext } from '../support/context.ts';
import { sampleOrder } from '../support/orders.ts';
import { history, orderRow, placeAndPay } from './support.ts';

/**
 * A real (minimal) SMTP server on loopback that takes the whole message and then, for the first
 * `breakAfterData` messages, cuts the connection instead of answering 250 — the server may have
 * accepted the mail, the client cannot know. Later messages get a normal 250.
 */
async function startBrokenAfterDataSmtp(breakAfterData: number) {
  const received: string[] = [];
  const server = net.createServer((socket) => {
    socket.setEncoding('latin1');
    socket.on('error', () => {});
    let inData = false;
    let buf = '';
    const say = (line: string) => socket.write(`${line}\r\n`);
    say('220 broken.example ESMTP');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          received.push(buf.slice(0, end));
          buf = buf.slice(end + 5);
          inData = false;
          if (received.length <= breakAfterData) {
            socket.destroy(); // the message is here; the answer never leaves
            return;
          }
          say('250 2.0.0 queued');
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') say('250 broken.example');
        else if (verb === 'MAIL' || verb === 'RCPT' || verb === 'RSET' || verb === 'NOOP') say('250 2.1.0 ok');
        else if (verb === 'DATA') {
          inData = true;
          say('354 go ahead');
        } else if (verb === 'QUIT') {
          say('221 bye');
          socket.end();
          return;
        } else say('502 5.5.2 not implemented');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `smtp://127.0.0.1:${port}?ignoreTLS=true`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const messageIdOf = (raw: string) => /^message-id:\s*(\S+)/im.exec(raw)?.[1];

async function world(policy: 'resend' | 'notify') {
  const sandbox = await startInvoicingSandbox();
  const smtp = await startBrokenAfterDataSmtp(1);
  const t = await createTestContext({
    FAKTUROWNIA_URL: sandbox.url,
    FAKTUROWNIA_API_TOKEN: sandbox.apiToken,
    SMTP_URL: smtp.url,
    MAIL_RETRY_BASE_MS: '100',
    MAIL_UNCERTAIN: policy,
  });
  const services: RunningService[] = [await startOrdersService(t), await startInvoicingService(t), await startMailerService(t)];
  return {
    t,
    smtp,
    async close() {
      for (const s of services.reverse()) await s.stop();
      await t.cleanup();
      await sandbox.close();
      await smtp.close();
    },
  };
}

const delivery = async (t: TestContext, orderId: string) =>
  (await t.sql<Array<{ status: string; uncertain_sends: number; attempts: number }>>`select status, uncertain_sends, attempts from mail_deliveries where order_id = ${orderId}`)[0];

describe('an SMTP connection that breaks after the message was handed over', () => {
  describe('MAIL_UNCERTAIN=notify', () => {
    let w: Awaited<ReturnType<typeof world>>;
    beforeAll(async () => {
      w = await world('notify');
    }, 120_000);
    afterAll(async () => w?.close());

    it('is recorded as sent-unknown, not resent, and reported DOCUMENT_FAILED MAIL_UNCERTAIN (admin notified)', async () => {
      const order = sampleOrder();
      await placeAndPay(w.t.nc, w.t.names, order);
      await eventually(async () => (await orderRow(w.t.sql, order.orderId))?.document_state === 'failed', 'document failed', 60_000);
      const row = await orderRow(w.t.sql, order.orderId);
      expect(row?.snapshot.context.documentFailure).toMatchObject({ code: 'MAIL_UNCERTAIN' });
      expect(await delivery(w.t, order.orderId)).toMatchObject({ status: 'sent-unknown', uncertain_sends: 1, attempts: 1 });
      expect(w.smtp.received).toHaveLength(1);
      const types = (await history(w.t.sql, order.orderId)).map((h) => h.type);
      expect(types).toContain('DOCUMENT_FAILED');
      expect(types).not.toContain('DOCUMENT_EMAILED');
    });
  });

  describe('MAIL_UNCERTAIN=resend (the default)', () => {
    let w: Awaited<ReturnType<typeof world>>;
    beforeAll(async () => {
      w = await world('resend');
    }, 120_000);
    afterAll(async () => w?.close());

    it('is resent with the same Message-ID, then recorded as sent', async () => {
      const order = sampleOrder();
      await placeAndPay(w.t.nc, w.t.names, order);
      await eventually(async () => (await orderRow(w.t.sql, order.orderId))?.document_state === 'emailed', 'document emailed', 60_000);
      expect(await delivery(w.t, order.orderId)).toMatchObject({ status: 'sent', uncertain_sends: 1, attempts: 2 });
      expect(w.smtp.received).toHaveLength(2);
      const ids = w.smtp.received.map(messageIdOf);
      expect(ids[0]).toBeDefined();
      expect(ids[1]).toBe(ids[0]);
    });
  });
});

describe('mail claims are fenced', () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext();
  });
  afterAll(async () => t?.cleanup());

  it('a sender whose lease expired cannot renew, mark sent or release the claim another sender now holds', async () => {
    const store = createMailDeliveryStore(t.sql, 60);
    const key = `document:test:${Date.now()}`;
    const a = await store.claim(key, 'ord_fence', 'jan@example.com');
    expect(a.kind).toBe('claimed');
    expect(await store.claim(key, 'ord_fence', 'jan@example.com')).toMatchObject({ kind: 'busy' });
    // A's sender stalls past its lease.
    await t.sql`update mail_deliveries set claimed_at = now() - interval '61 seconds' where idempotency_key = ${key}`;
    const b = await store.claim(key, 'ord_fence', 'jan@example.com');
    expect(b.kind).toBe('claimed');
    if (a.kind !== 'claimed' || b.kind !== 'claimed') return;
    expect(await store.renew(key, a.claimId)).toBe(false);
    expect(await store.markSent(key, a.claimId, '<a@x>')).toBe(false);
    await store.release(key, a.claimId, 'late failure of A');
    expect((await t.sql`select status, claim_id, message_id from mail_deliveries where idempotency_key = ${key}`)[0]).toMatchObject({ status: 'sending', claim_id: b.claimId, message_id: null });
    expect(await store.renew(key, b.claimId)).toBe(true);
    expect(await store.markSent(key, b.claimId, '<b@x>')).toBe(true);
    expect(await store.claim(key, 'ord_fence', 'jan@example.com')).toEqual({ kind: 'sent', recipient: 'jan@example.com', messageId: '<b@x>' });
  });

  it('claims and marks made at once share statements, each decided on its own row as alone', async () => {
    const store = createMailDeliveryStore(t.sql, 60);
    const seen: string[] = [];
    const tracedSql = createSql(t.databaseUrl, { onStatement: (query) => void seen.push(query.trim().split(/\s+/).slice(0, 2).join(' ')) });
    const traced = createMailDeliveryStore(tracedSql, 60);
    try {
      const keys = Array.from({ length: 6 }, (_, i) => `document:group:${Date.now()}:${i}`);
      // The first goes alone; the other five, and a second claim of the first's document, meet.
      const claims = await Promise.all([...keys, keys[0] as string].map((k) => traced.claim(k, 'ord_group', 'jan@example.com')));
      expect(claims.slice(0, 6).map((c) => c.kind)).toEqual(Array(6).fill('claimed'));
      expect(claims[6]).toMatchObject({ kind: 'busy' });
      const inserts = seen.filter((s) => s === 'insert into').length;
      expect(inserts).toBeGreaterThan(1);
      expect(inserts).toBeLessThan(7);
      const ids = claims.map((c) => (c.kind === 'claimed' ? c.claimId : 'none'));
      // Marks at once, one of them with a claim that is not the holder's: only that one is refused.
      const marked = await Promise.all(keys.map((k, i) => traced.markSent(k, i === 3 ? 'not-the-claim' : (ids[i] as string), `<m${i}@x>`)));
      expect(marked).toEqual([true, true, true, false, true, true]);
      expect(seen.filter((s) => s === 'update mail_deliveries').length).toBeLessThan(6);
      expect(await store.claim(keys[3] as string, 'ord_group', 'jan@example.com')).toMatchObject({ kind: 'busy' });
      expect(await store.claim(keys[5] as string, 'ord_group', 'jan@example.com')).toEqual({ kind: 'sent', recipient: 'jan@example.com', messageId: '<m5@x>' });
    } finally {
      await tracedSql.end();
    }
  });

  it('configuration refuses a claim lease shorter than the timeouts one send must cover', () => {
    expect(() => loadConfig({ MAIL_CLAIM_LEASE_MS: '20000' })).toThrow(/MAIL_CLAIM_LEASE_MS: must be at least 40000/);
    expect(() => loadConfig({ MAIL_CLAIM_LEASE_MS: '26000', FAKTUROWNIA_TIMEOUT_MS: '1000' })).not.toThrow();
    expect(() => loadConfig({ MAIL_UNCERTAIN: 'maybe' })).toThrow(/MAIL_UNCERTAIN/);
  });
});
