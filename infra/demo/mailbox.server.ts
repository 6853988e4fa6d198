import { createServer, type ServerResponse } from 'node:http';
import { listenHttp } from '../sandbox/http-listen.ts';
import type { SmtpSink } from '../sandbox/smtp-sink.ts';

/**
 * The demo's mailbox: a read-only page over the SMTP sink, so you can see what orderpilot e-mailed
 * (invoices to customers with their PDF, admin notices). `GET /` lists, `GET /mails/<n>` shows one,
 * `GET /mails/<n>/attachment/<i>` downloads an attachment, `GET /mails.json` for scripts.
 */
export interface Mailbox {
  readonly url: string;
  close(): Promise<void>;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

export async function startMailbox(o: { smtp: SmtpSink; port?: number; host?: string }): Promise<Mailbox> {
  const page = (res: ServerResponse, status: number, title: string, body: string) => {
    const html = `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;width:100%}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}pre{white-space:pre-wrap;background:#f6f6f6;padding:1rem}</style>
</head><body><h1>${esc(title)}</h1>${body}</body></html>`;
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  };
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://mailbox');
    const mails = o.smtp.mails;
    if (u.pathname === '/mails.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(mails.map((m, i) => ({ n: i, from: m.from, to: m.to, subject: m.subject, receivedAt: m.receivedAt, attachments: m.attachments.map((a) => a.filename ?? null) }))));
      return;
    }
    const att = /^\/mails\/(\d+)\/attachment\/(\d+)$/.exec(u.pathname);
    if (att) {
      const a = mails[Number(att[1])]?.attachments[Number(att[2])];
      if (!a) return page(res, 404, 'Not found', '<p><a href="/">back</a></p>');
      res.writeHead(200, { 'content-type': a.contentType, 'content-disposition': `inline; filename="${(a.filename ?? 'attachment').replace(/"/g, '')}"` });
      res.end(a.content);
      return;
    }
    const one = /^\/mails\/(\d+)$/.exec(u.pathname);
    if (one) {
      const n = Number(one[1]);
      const m = mails[n];
      if (!m) return page(res, 404, 'Not found', '<p><a href="/">back</a></p>');
      const files = m.attachments.map((a, i) => `<li><a href="/mails/${n}/attachment/${i}">${esc(a.filename ?? `attachment ${i}`)}</a> (${esc(a.contentType)}, ${a.content.length} bytes)</li>`).join('');
      return page(res, 200, m.subject || '(no subject)', `<p><a href="/">← mailbox</a></p><p>From ${esc(m.from)} to ${esc(m.to.join(', '))}, ${esc(m.receivedAt)}</p><ul>${files}</ul><pre>${esc(m.text)}</pre>`);
    }
    if (u.pathname !== '/') return page(res, 404, 'Not found', '<p><a href="/">back</a></p>');
    const rows = mails
      .map((m, i) => ({ m, i }))
      .reverse()
      .slice(0, 500)
      .map(({ m, i }) => `<tr><td>${esc(m.receivedAt.slice(11, 19))}</td><td>${esc(m.to.join(', '))}</td><td><a href="/mails/${i}">${esc(m.subject || '(no subject)')}</a></td><td>${m.attachments.length}</td></tr>`)
      .join('');
    return page(res, 200, `Demo mailbox (${mails.length})`, `<p>What the SMTP sink received since this demo started (newest first; kept in memory).</p><table><tr><th>time</th><th>to</th><th>subject</th><th>files</th></tr>${rows}</table>`);
  });
  const { url, close } = await listenHttp(server, o.port, o.host);
  return { url, close };
}
