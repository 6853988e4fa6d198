/**
 * The console's stylesheet and script, served by the gateway itself (no CDN: the machines have no
 * internet). Small enough to live as strings; the page works without the script except for live
 * updates.
 */

export const CONSOLE_CSS = `
:root { --fg:#1d2330; --muted:#6b7280; --line:#d8dde6; --bg:#f6f7f9; --accent:#2456d3; --warn:#b45309; --crit:#b91c1c; --ok:#15803d; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header.top { display:flex; gap:1.5rem; align-items:center; padding:.6rem 1.2rem; background:#111827; color:#fff; }
header.top a { color:#e5e7eb; text-decoration:none; }
header.top a.here { color:#fff; font-weight:600; border-bottom:2px solid #60a5fa; }
header.top .who { margin-left:auto; color:#9ca3af; }
header.top form { display:inline; }
main { padding:1rem 1.2rem 3rem; max-width:1400px; }
h1 { font-size:1.3rem; margin:.2rem 0 1rem; } h2 { font-size:1.05rem; margin:1.4rem 0 .5rem; }
table { border-collapse:collapse; width:100%; background:#fff; border:1px solid var(--line); }
th, td { text-align:left; padding:.35rem .55rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#eef1f5; font-weight:600; font-size:.85rem; }
.badge { display:inline-block; padding:.05rem .45rem; border-radius:.6rem; font-size:.8rem; background:#e5e7eb; }
.badge.held, .badge.failed, .badge.critical { background:#fee2e2; color:var(--crit); }
.badge.warning { background:#fef3c7; color:var(--warn); }
.badge.closed, .badge.emailed, .badge.sent { background:#dcfce7; color:var(--ok); }
.badge.cancelled { background:#e5e7eb; color:var(--muted); }
.muted { color:var(--muted); } .mono { font-family: ui-monospace, monospace; font-size:.85rem; }
.flash { padding:.5rem .8rem; border-radius:.3rem; margin-bottom:1rem; background:#dbeafe; }
.flash.error { background:#fee2e2; color:var(--crit); }
.cards { display:flex; gap:.8rem; flex-wrap:wrap; margin-bottom:1rem; }
.card { background:#fff; border:1px solid var(--line); border-radius:.4rem; padding:.6rem .9rem; min-width:8rem; }
.card b { display:block; font-size:1.4rem; }
.card a { text-decoration:none; color:inherit; }
form.inline { display:inline; }
.actions form { display:flex; gap:.4rem; align-items:center; margin:.4rem 0; flex-wrap:wrap; }
.actions form.admin-event { border-top:1px solid #e5e7eb; padding-top:.4rem; }
form.admin-event fieldset { display:flex; flex-wrap:wrap; gap:.3rem .6rem; align-items:center; border:1px solid #e5e7eb; border-radius:.3rem; }
form.admin-event label { font-size:.85em; color:#374151; }
.field-error { color:var(--crit); font-size:.85em; }
input[aria-invalid=true] { border-color:var(--crit); outline:1px solid var(--crit); }
input[type=text], input[type=search], input[type=date], input[type=password], textarea, select { font:inherit; padding:.3rem .4rem; border:1px solid var(--line); border-radius:.25rem; }
button { font:inherit; padding:.3rem .8rem; border-radius:.25rem; border:1px solid #1e40af; background:var(--accent); color:#fff; cursor:pointer; }
button.secondary { background:#fff; color:var(--fg); border-color:var(--line); }
button.danger { background:var(--crit); border-color:#7f1d1d; }
.grid { display:grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap:1.2rem; }
@media (max-width: 1000px) { .grid { grid-template-columns: 1fr; } }
dl.facts { display:grid; grid-template-columns: 10rem 1fr; gap:.2rem .8rem; background:#fff; border:1px solid var(--line); padding:.7rem; margin:0; }
dl.facts dt { color:var(--muted); }
.timeline li { margin:.25rem 0; } .timeline { padding-left:1.1rem; }
.row-actions a { display:inline-block; margin:0 .5rem .25rem 0; font-size:.85rem; white-space:nowrap; }
.addresses { display:flex; gap:2rem; margin:1rem 0; }
.addresses h3 { margin:.2rem 0; font-size:.9rem; color:#6b7280; }
table.items td:nth-child(n+3) { text-align:right; }
.show-fx:not(:checked) ~ .statechart .fx { display:none; }
.statechart .st.terminal { border-style:double; border-width:3px; }
pre.raw { white-space:pre-wrap; word-break:break-all; background:#f3f4f6; padding:.3rem; margin:.2rem 0; max-height:16rem; overflow:auto; font-size:.8rem; }
.filters { display:flex; gap:.8rem; align-items:end; flex-wrap:wrap; margin-bottom:1rem; }
.timeline .raw { white-space:pre-wrap; word-break:break-all; background:#f3f4f6; padding:.3rem; margin:.2rem 0; max-height:12rem; overflow:auto; }
.toggle a { padding:.15rem .6rem; border:1px solid var(--line); border-radius:.25rem; text-decoration:none; color:var(--fg); background:#fff; }
.toggle a.on { background:var(--accent); color:#fff; border-color:var(--accent); }
.statechart { font-size:.8rem; overflow:auto; }
.st { border:1.5px solid #9ca3af; border-radius:.5rem; padding:.3rem .45rem; margin:.3rem; background:#fff; min-width:9rem; }
.st-compound > .children, .st-parallel > .children { display:flex; flex-wrap:wrap; align-items:flex-start; }
.st-parallel > .children.regions > .st { border-style:dashed; flex:1 1 0; }
.st.active { border-color:var(--accent); box-shadow:0 0 0 2px #93c5fd; }
.st.active > .st-head .st-name { color:var(--accent); }
.st.active.st-atomic { background:#dbeafe; }
.st.initial > .st-head::before { content:"● "; color:var(--muted); }
.st-head { font-weight:600; }
.st-kind { font-weight:400; color:var(--muted); }
.st .count { float:right; background:#111827; color:#fff; border-radius:.6rem; padding:0 .4rem; font-weight:400; }
.st .fx { color:#7c3aed; } .st ul.trs { margin:.15rem 0; padding-left:1rem; }
.st .ev { font-family: ui-monospace, monospace; } .st .guard { color:var(--warn); } .st .internal { color:var(--muted); }
.login { max-width:26rem; margin:5rem auto; background:#fff; border:1px solid var(--line); padding:1.5rem; border-radius:.5rem; }
.login input { width:100%; margin:.5rem 0 1rem; }
.live-dot { display:inline-block; width:.55rem; height:.55rem; border-radius:50%; background:#9ca3af; margin-right:.3rem; }
.live-dot.on { background:#22c55e; }
`;

export const CONSOLE_JS = `
(function () {
  // Times in the operator's own zone; the date filter's days are the operator's days too.
  function localise(root) {
    root.querySelectorAll('time[datetime]').forEach(function (t) {
      var d = new Date(t.getAttribute('datetime'));
      if (!isNaN(d.getTime())) { t.textContent = d.toLocaleString(); t.title = t.getAttribute('datetime'); }
    });
  }
  var tz = String(new Date().getTimezoneOffset());
  document.querySelectorAll('input[data-tz]').forEach(function (i) { i.value = tz; i.defaultValue = tz; });
  document.querySelectorAll('a[data-csv]').forEach(function (a) { var u = new URL(a.href); u.searchParams.set('tz', tz); a.href = u.toString(); });
  localise(document);
  new MutationObserver(function () { localise(document.getElementById('live') || document); }).observe(document.getElementById('live') || document.body, { childList: true });
})();
(function () {
  var body = document.body;
  var url = body.getAttribute('data-live');
  var dot = document.getElementById('live-dot');
  var banner = document.getElementById('live-pending');
  if (!url || !window.EventSource) return;
  var timer = null, busy = false, again = false, pending = 0;
  var live = function () { return document.getElementById('live'); };
  // Someone is doing something on the page: a field has focus, or holds input not sent yet. Then the
  // page is never replaced under them; the banner says how many changes wait.
  function editing() {
    var root = live();
    var a = document.activeElement;
    if (a && root.contains(a) && /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(a.tagName) && a.type !== 'submit') return true;
    return Array.prototype.some.call(root.querySelectorAll('input, textarea, select'), function (el) {
      if (el.type === 'hidden' || el.type === 'submit' || el.type === 'button') return false;
      if (el.type === 'checkbox' || el.type === 'radio') return el.checked !== el.defaultChecked;
      if (el.tagName === 'SELECT') {
        // With no option marked selected in the markup, the first one is the default.
        var d = Array.prototype.findIndex.call(el.options, function (o) { return o.defaultSelected; });
        return el.selectedIndex !== (d < 0 ? 0 : d);
      }
      return el.value !== el.defaultValue;
    });
  }
  function showPending() {
    if (!banner) return;
    banner.hidden = pending === 0;
    var n = banner.querySelector('[data-count]');
    if (n) n.textContent = pending === 1 ? '1 change' : pending + ' changes';
  }
  // A refresh replaces the page's markup: what the person opened (a transition's payload, a raw
  // message or webhook) is opened again in the new markup, found by its row's id.
  var ROW_IDS = ['data-transition', 'data-dead-letter', 'data-webhook'];
  var ROWS = ROW_IDS.map(function (a) { return '[' + a + ']'; }).join(',');
  function detailsKey(d) {
    var row = d.closest(ROWS);
    if (!row) return null;
    for (var i = 0; i < ROW_IDS.length; i++) if (row.hasAttribute(ROW_IDS[i])) return ROW_IDS[i] + '=' + row.getAttribute(ROW_IDS[i]);
    return null;
  }
  function replaceKeepingOpen(root, text) {
    var open = {};
    root.querySelectorAll('details[open]').forEach(function (d) { var k = detailsKey(d); if (k) open[k] = true; });
    root.innerHTML = text;
    root.querySelectorAll('details').forEach(function (d) { var k = detailsKey(d); if (k && open[k]) d.open = true; });
  }
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { headers: { 'x-console-partial': '1' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (text === null) return;
        // Input may have started while the request was out: then wait for the person instead.
        if (editing()) { pending = Math.max(pending, 1); showPending(); return; }
        replaceKeepingOpen(live(), text);
        pending = 0;
        showPending();
        body.setAttribute('data-refreshed', String(Date.now()));
      })
      .catch(function () {})
      .then(function () { busy = false; if (again) { again = false; changed(); } });
  }
  function changed() {
    if (editing()) { pending++; showPending(); return; }
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  }
  if (banner) banner.querySelector('button').addEventListener('click', function () { pending = 0; refresh(); });
  // When the person is done (focus leaves, nothing unsent), catch up with what waited.
  document.addEventListener('focusout', function () {
    setTimeout(function () { if (pending > 0 && !editing()) refresh(); }, 0);
  });
  // Hints are fire-and-forget: one lost (a host that had not heard a console listens yet) would leave
  // the page stale, so a page that heard nothing for 30 s refreshes once anyway.
  var lastHeard = Date.now();
  setInterval(function () { if (Date.now() - lastHeard >= 30000) { lastHeard = Date.now(); changed(); } }, 5000);
  var es = new EventSource(url);
  // Whatever changed between rendering this page and (re)connecting was not heard: catch up once.
  es.addEventListener('open', function () { if (dot) dot.classList.add('on'); changed(); });
  es.addEventListener('error', function () { if (dot) dot.classList.remove('on'); });
  es.addEventListener('changed', function () { lastHeard = Date.now(); changed(); });
})();
`;
