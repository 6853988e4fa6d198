import type { GatewayRoute } from '../../gateway.types.ts';
import { WEBHOOK_VERDICTS } from '../../webhooks/webhook-inbox.ts';
import type { WebhookView } from '../admin-api.client.ts';
import { one, type Form } from '../console-form.ts';
import { adminApi, csrfOf, frame, sendPage } from '../console-render.ts';
import { badge, csrfField, orderLink } from '../console.pages.ts';
import { age, html, type Html } from '../html.ts';

const VERDICT_WORDS: Record<string, string> = {
  accepted: 'led to an event',
  recorded: 'recorded, nothing to do',
  invalid: 'rejected: signature',
  unmatched: 'no such order',
  mismatch: 'did not match the order',
  malformed: 'rejected: unreadable',
};

function webhooksView(d: { items: readonly WebhookView[]; verdict: string; provider: string; next: string | null; csrf: string }): Html {
  const nextUrl = d.next ? `/admin/webhooks?${new URLSearchParams({ verdict: d.verdict, provider: d.provider, cursor: d.next }).toString()}` : null;
  return html`<h1>Webhook inbox</h1>
<p class="muted">Every request payment providers and the warehouse sent, stored as it came (answered only once stored). Replay one after fixing its cause (the order now exists, a secret was wrong); one rejected on arrival is replayed only by force, with a note saying why it is genuine.</p>
<form method="get" action="/admin/webhooks" class="filters" data-key="wh-filter">
<label>Verdict <select name="verdict"><option value="">any</option>${WEBHOOK_VERDICTS.map((v) => html`<option value="${v}" ${d.verdict === v ? 'selected' : ''}>${v}</option>`)}</select></label>
<label>Provider <input type="text" name="provider" value="${d.provider}" maxlength="50"></label>
<button class="secondary" type="submit">Filter</button></form>
${
  d.items.length === 0
    ? html`<p class="muted">No webhooks.</p>`
    : html`<table class="webhooks"><thead><tr><th>#</th><th>Received</th><th>From</th><th>Verdict</th><th>Order</th><th>Detail</th><th>Replay</th></tr></thead><tbody>
${d.items.map((w) => {
  const rejected = w.signature === 'invalid';
  return html`<tr data-webhook="${w.id}">
<td>${w.id}</td><td title="${w.receivedAt}">${age(w.receivedAt)} ago</td>
<td>${w.provider}${w.eventType ? html`<br><span class="mono">${w.eventType}</span>` : ''}</td>
<td>${badge(w.verdict)}<br><span class="muted">${VERDICT_WORDS[w.verdict] ?? w.verdict}</span></td>
<td>${w.orderId ? orderLink(w.orderId, w.orderId) : (w.externalRef ?? '—')}</td>
<td>${w.detail ?? ''}<details><summary>raw (${w.bodyBytes} bytes)</summary><pre class="raw">${Object.entries(w.headers).map(([k, v]) => `${k}: ${v}\n`).join('')}\n${w.bodyPreview}</pre></details></td>
<td>${w.replayCount > 0 ? html`<span class="muted">replayed ×${w.replayCount} by ${w.replayedBy ?? '?'}${w.replayForced ? ' (forced)' : ''}${w.replayNote ? `: ${w.replayNote}` : ''}</span><br>` : ''}
<form method="post" action="/admin/webhooks/${w.id}/replay" data-key="wh-${w.id}">${csrfField(d.csrf)}
<input type="text" name="note" maxlength="2000" ${rejected ? 'required' : ''} placeholder="${rejected ? 'why it is genuine (required)' : 'note (optional)'}" aria-label="replay note for webhook ${w.id}">
${rejected ? html`<label><input type="checkbox" name="force" value="1" required> force (rejected on arrival)</label>` : ''}
<button type="submit" onclick="return confirm('Replay webhook ${w.id}? What it leads to is published again.')">Replay</button></form></td></tr>`;
})}</tbody></table>`
}
${nextUrl ? html`<p><a href="${nextUrl}">Older →</a></p>` : ''}`;
}

/** `/admin/webhooks` — the webhook inbox with filters, raw view, and replay (force + note for rejected ones). */
export const webhooksPage: GatewayRoute = async (app) => {
  app.get('/admin/webhooks', { schema: { hide: true } }, async (request, reply) => {
    const q = request.query as Form;
    const verdictIn = one(q['verdict']);
    const verdict = (WEBHOOK_VERDICTS as readonly string[]).includes(verdictIn) ? verdictIn : '';
    const provider = one(q['provider']).slice(0, 50);
    const cursor = one(q['cursor']);
    const res = await adminApi(app, request).listWebhooks({ verdict, provider, cursor: /^\d{1,18}$/.test(cursor) ? cursor : undefined, limit: 50 });
    const f = frame(request, { title: 'Webhooks', nav: 'webhooks', live: null, ...(res.ok ? {} : { flash: { kind: 'error' as const, text: res.error.message } }) });
    const data = res.ok ? res.value : { items: [], nextCursor: null };
    return sendPage(request, reply, f, webhooksView({ items: data.items, verdict, provider, next: data.nextCursor, csrf: csrfOf(request) }));
  });

  app.post('/admin/webhooks/:id/replay', { schema: { hide: true } }, async (request, reply) => {
    const id = (request.params as { id: string }).id;
    const body = (request.body ?? {}) as Form;
    const note = one(body['note']);
    const force = one(body['force']) === '1';
    if (!/^\d{1,18}$/.test(id)) return reply.redirect(`/admin/webhooks?error=${encodeURIComponent('No such webhook.')}`, 303);
    const res = await adminApi(app, request).replayWebhook(id, { ...(force ? { force: true } : {}), ...(note ? { note } : {}) });
    request.log.info({ admin: request.consoleSession?.name, webhookId: id, force, ok: res.ok }, 'webhook replay from the console');
    const flash = res.ok ? `ok=${encodeURIComponent(`Webhook ${id} replayed: ${res.value.webhook.verdict}.`)}` : `error=${encodeURIComponent(res.error.message)}`;
    return reply.redirect(`/admin/webhooks?${flash}`, 303);
  });
};
