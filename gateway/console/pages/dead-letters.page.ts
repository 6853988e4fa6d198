import type { GatewayRoute } from '../../gateway.types.ts';
import type { DeadLetterView } from '../admin-api.client.ts';
import { one, type Form } from '../console-form.ts';
import { adminApi, csrfOf, frame, sendPage } from '../console-render.ts';
import { badge, csrfField, orderLink } from '../console.pages.ts';
import { age, html, type Html } from '../html.ts';

/** Who gave up, in words: `<prefix>_orders_p3` → "the order host (partition 3)", `<prefix>_invoicing` → "invoicing". */
export function consumerInWords(consumer: string): string {
  const partition = /_orders_p(\d+)$/.exec(consumer);
  if (partition) return `the order host (partition ${partition[1]})`;
  const service = /_(invoicing|mail|logistics|notify|payments|shops)$/.exec(consumer)?.[1];
  const names: Record<string, string> = { invoicing: 'invoicing', mail: 'the mailer', logistics: 'logistics', notify: 'notifications', payments: 'payments', shops: 'shop connectors' };
  return service ? (names[service] ?? service) : consumer;
}

function deadLettersView(d: { items: readonly DeadLetterView[]; status: 'open' | 'all'; consumer: string; code: string; next: string | null; csrf: string }): Html {
  const tab = (s: 'open' | 'all', label: string) => html`<a href="/admin/dead-letters?status=${s}" class="${d.status === s ? 'on' : ''}">${label}</a>`;
  const nextUrl = d.next ? `/admin/dead-letters?${new URLSearchParams({ status: d.status, consumer: d.consumer, code: d.code, cursor: d.next }).toString()}` : null;
  return html`<h1>Dead letters</h1>
<p class="muted">Messages a service gave up on (a permanent failure, or retries exhausted). Fix the cause, then replay: the message goes back to the service that failed it; one it already handled changes nothing.</p>
<p class="toggle">${tab('open', 'Not replayed')} ${tab('all', 'All')}</p>
<form method="get" action="/admin/dead-letters" class="filters" data-key="dl-filter"><input type="hidden" name="status" value="${d.status}">
<label>Consumer <input type="text" name="consumer" value="${d.consumer}" maxlength="200"></label>
<label>Error code <input type="text" name="code" value="${d.code}" maxlength="100"></label>
<button class="secondary" type="submit">Filter</button></form>
${
  d.items.length === 0
    ? html`<p class="muted">No dead letters.</p>`
    : html`<table class="dead-letters"><thead><tr><th>#</th><th>When</th><th>What happened</th><th>Order</th><th>Message</th><th>Replay</th></tr></thead><tbody>
${d.items.map(
  (r) => html`<tr data-dead-letter="${r.id}">
<td>${r.id}</td><td title="${r.created_at}">${age(r.created_at)} ago</td>
<td>${badge('critical')} ${consumerInWords(r.consumer)} gave up after ${r.deliveries} ${r.deliveries === 1 ? 'delivery' : 'deliveries'}: <span class="mono">${r.error_code}</span><br>${r.error_message}</td>
<td>${r.order_id ? orderLink(r.order_id, r.order_id) : '—'}</td>
<td><span class="mono">${r.subject}</span><details><summary>raw message</summary><pre class="raw">${r.data}</pre></details></td>
<td>${
    r.replayed_at
      ? html`replayed by ${r.replayed_by ?? '?'} ${age(r.replayed_at)} ago${r.replay_note ? html`<br><span class="muted">${r.replay_note}</span>` : ''}`
      : html`<form method="post" action="/admin/dead-letters/${r.id}/replay" data-key="dl-${r.id}">${csrfField(d.csrf)}
<input type="text" name="note" required maxlength="2000" placeholder="what was fixed (required)" aria-label="replay note for dead letter ${r.id}">
<button type="submit" onclick="return confirm('Replay dead letter ${r.id}? The message goes back to ${consumerInWords(r.consumer)}.')">Replay</button></form>`
  }</td></tr>`,
)}</tbody></table>`
}
${nextUrl ? html`<p><a href="${nextUrl}">Older →</a></p>` : ''}`;
}

/** `/admin/dead-letters` — filters, the raw message, and replay with a note (asked to confirm, recorded). */
export const deadLettersPage: GatewayRoute = async (app) => {
  app.get('/admin/dead-letters', { schema: { hide: true } }, async (request, reply) => {
    const q = request.query as Form;
    const status = one(q['status']) === 'all' ? 'all' : 'open';
    const consumer = one(q['consumer']).trim();
    const code = one(q['code']).trim();
    const cursor = one(q['cursor']);
    const res = await adminApi(app, request).listDeadLetters({ status, consumer, code, cursor: /^\d{1,18}$/.test(cursor) ? cursor : undefined, limit: 50 });
    const f = frame(request, { title: 'Dead letters', nav: 'dead-letters', live: null, ...(res.ok ? {} : { flash: { kind: 'error' as const, text: res.error.message } }) });
    const data = res.ok ? res.value : { items: [], nextCursor: null };
    return sendPage(request, reply, f, deadLettersView({ items: data.items, status, consumer, code, next: data.nextCursor, csrf: csrfOf(request) }));
  });

  app.post('/admin/dead-letters/:id/replay', { schema: { hide: true } }, async (request, reply) => {
    const id = (request.params as { id: string }).id;
    const note = one(((request.body ?? {}) as Form)['note']).trim();
    if (!/^\d{1,18}$/.test(id)) return reply.redirect(`/admin/dead-letters?error=${encodeURIComponent('No such dead letter.')}`, 303);
    if (note === '') return reply.redirect(`/admin/dead-letters?error=${encodeURIComponent('Say what was fixed: a replay needs a note.')}`, 303);
    const res = await adminApi(app, request).replayDeadLetter(id, note);
    request.log.info({ admin: request.consoleSession?.name, deadLetterId: id, ok: res.ok }, 'dead letter replay from the console');
    const flash = res.ok ? `ok=${encodeURIComponent(`Dead letter ${id} replayed.`)}` : `error=${encodeURIComponent(res.error.message)}`;
    return reply.redirect(`/admin/dead-letters?status=all&${flash}`, 303);
  });
};
