/**
 * The status page at `/`: plain HTML and a little script, no build step. It polls /api/status
 * every 2 s, shows connections, state stores, windows, schedules, endpoints, HTTP calls, triggers (with rates from counter deltas), services and the last
 * reload, and has suspend/resume and enable/disable buttons. A token given as ?token= is sent as
 * a Bearer header on every request.
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mqflow status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1b1f23; background: #fafbfc; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; } h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e1e4e8; vertical-align: top; }
  th { background: #f1f3f5; font-weight: 600; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
  .ok { color: #1a7f37; } .warn { color: #9a6700; } .bad { color: #cf222e; } .muted { color: #6e7781; }
  .err { color: #cf222e; font-size: .85em; } button { font: inherit; padding: .1rem .6rem; cursor: pointer; }
  #meta { color: #57606a; } #problem { color: #cf222e; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>mqflow</h1>
<div id="meta">loading…</div>
<div id="problem"></div>
<h2>Connections</h2>
<table id="connections"><thead><tr><th>Connection</th><th>State</th><th>Broker</th><th class="n">Publishes ok</th><th class="n">failed</th><th class="n">Reconnects</th><th class="n">Offline queue</th><th></th></tr></thead><tbody></tbody></table>
<h2>Stores</h2>
<table id="stores"><thead><tr><th>Store</th><th>Type</th><th>Where</th><th class="n">Entries</th><th class="n">Hits</th><th class="n">Misses</th><th class="n">Evictions</th><th class="n">Errors</th><th class="n">Keys held</th></tr></thead><tbody></tbody></table>
<h2>Windows</h2>
<table id="windows"><thead><tr><th>Window</th><th class="n">Open</th><th class="n">Messages held</th><th class="n">Emitted</th><th class="n">Failed</th><th class="n">Late</th></tr></thead><tbody></tbody></table>
<h2>Schedules</h2>
<table id="schedules"><thead><tr><th>Schedule</th><th>When</th><th>Service</th><th>Next</th><th>Last fire</th><th class="n">Fired</th><th class="n">Elsewhere</th><th class="n">Failed</th></tr></thead><tbody></tbody></table>
<h2>Endpoints</h2>
<table id="endpoints"><thead><tr><th>Endpoint</th><th>Listener</th><th>Route</th><th>Service</th><th class="n">Requests</th><th class="n">2xx</th><th class="n">4xx</th><th class="n">5xx</th><th class="n">In flight</th></tr></thead><tbody></tbody></table>
<h2>HTTP calls</h2>
<table id="http"><thead><tr><th>Host</th><th class="n">2xx</th><th class="n">3xx</th><th class="n">4xx</th><th class="n">5xx</th><th class="n">No response</th><th class="n">In flight</th></tr></thead><tbody></tbody></table>
<h2>Triggers</h2>
<table id="triggers"><thead><tr><th>Trigger</th><th>State</th><th>Topics</th><th>Service</th><th class="n">Received</th><th class="n">msg/s</th><th class="n">Processed</th><th class="n">Failed</th><th class="n">Routed</th><th class="n">In flight</th><th class="n">Queued</th><th></th></tr></thead><tbody></tbody></table>
<h2>Services</h2>
<table id="services"><thead><tr><th>Service</th><th class="n">Steps</th><th>Description</th></tr></thead><tbody></tbody></table>
<h2>Last reload</h2>
<div id="reload" class="muted">none</div>
<script>
  const token = new URLSearchParams(location.search).get('token');
  const headers = token ? { authorization: 'Bearer ' + token } : {};
  let previous = null;
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  const cls = (state) => (state === 'connected' || state === 'subscribed' ? 'ok' : state === 'suspended' || state === 'connecting' || state === 'reconnecting' ? 'warn' : state === 'disabled' || state === 'not running' ? 'muted' : 'bad');
  async function post(path) {
    const res = await fetch(path, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' });
    if (!res.ok) document.getElementById('problem').textContent = path + ': ' + res.status + ' ' + (await res.text());
    await refresh();
  }
  function rows(id, html) { document.querySelector('#' + id + ' tbody').innerHTML = html.join(''); }
  async function refresh() {
    let s;
    try {
      const res = await fetch('/api/status', { headers });
      if (!res.ok) throw new Error(res.status + ' ' + (await res.text()));
      s = await res.json();
      document.getElementById('problem').textContent = '';
    } catch (e) {
      document.getElementById('problem').textContent = 'status unavailable: ' + e.message;
      return;
    }
    const now = Date.now();
    document.getElementById('meta').textContent = 'mqflow ' + s.mqflow + ' · ' + s.folder + ' · flow version ' + s.flowVersion + ' · started ' + s.startedAt + ' · reloads applied ' + s.reloads.applied + ', failed ' + s.reloads.failed;
    rows('connections', s.connections.map((c) => '<tr data-connection="' + esc(c.name) + '"><td>' + esc(c.name) + '</td><td class="state ' + cls(c.state) + '">' + esc(c.state) + (c.reason ? '<div class="err">' + esc(c.reason) + '</div>' : '') + '</td><td>' + esc(c.urls.join(', ')) + '</td><td class="n">' + c.publishes.ok + '</td><td class="n">' + c.publishes.failed + '</td><td class="n">' + c.reconnects + '</td><td class="n">' + c.offlineQueue + '</td><td><button data-action="' + (c.enabled ? 'disable' : 'enable') + '">' + (c.enabled ? 'disable' : 'enable') + '</button></td></tr>'));
    rows('stores', s.stores.map((v) => '<tr><td>' + esc(v.name) + '</td><td>' + esc(v.type) + '</td><td>' + esc(v.location || '') + '</td><td class="n">' + (v.entries === undefined ? '–' : v.entries) + '</td><td class="n">' + v.hits + '</td><td class="n">' + v.misses + '</td><td class="n">' + v.evictions + '</td><td class="n' + (v.errors > 0 ? ' bad' : '') + '">' + v.errors + '</td><td class="n">' + v.keysHeld + '</td></tr>'));
    rows('windows', s.windows.map((w) => '<tr><td>' + esc(w.name) + '</td><td class="n">' + w.open + '</td><td class="n">' + w.held + '</td><td class="n">' + w.emitted + '</td><td class="n' + (w.failed > 0 ? ' bad' : '') + '">' + w.failed + '</td><td class="n">' + w.late + '</td></tr>'));
    const listenerAt = (name) => { const l = s.listeners.find((x) => x.name === name); return esc(name) + (l && l.url ? ' <span class="muted">' + esc(l.url) + '</span>' : l && l.error ? '<div class="err">' + esc(l.error) + '</div>' : ''); };
    rows('endpoints', s.endpoints.map((e) => '<tr data-endpoint="' + esc(e.name) + '"><td>' + esc(e.name) + (e.lastError ? '<div class="err">last error: ' + esc(e.lastError) + '</div>' : '') + '</td><td>' + listenerAt(e.listener) + '</td><td>' + esc(e.method + ' ' + e.path) + '</td><td>' + esc(e.service) + '</td><td class="n">' + e.counters.received + '</td><td class="n">' + e.answers['2xx'] + '</td><td class="n">' + e.answers['4xx'] + '</td><td class="n' + (e.answers['5xx'] > 0 ? ' bad' : '') + '">' + e.answers['5xx'] + '</td><td class="n">' + (e.inFlight + e.queueDepth) + '</td></tr>'));
    rows('schedules', s.schedules.map((x) => '<tr data-schedule="' + esc(x.name) + '"><td>' + esc(x.name) + (x.lastError ? '<div class="err">last error: ' + esc(x.lastError) + '</div>' : '') + '</td><td>' + esc(x.when) + '</td><td>' + esc(x.service) + '</td><td>' + esc(x.next || '–') + '</td><td>' + esc(x.lastFire || '–') + '</td><td class="n">' + x.fires.fired + '</td><td class="n">' + x.fires.elsewhere + '</td><td class="n' + (x.counters.failed > 0 ? ' bad' : '') + '">' + x.counters.failed + '</td></tr>'));
    rows('http', s.http.map((h) => '<tr><td>' + esc(h.host) + '</td><td class="n">' + h.requests['2xx'] + '</td><td class="n">' + h.requests['3xx'] + '</td><td class="n">' + h.requests['4xx'] + '</td><td class="n' + (h.requests['5xx'] > 0 ? ' bad' : '') + '">' + h.requests['5xx'] + '</td><td class="n' + (h.requests.error > 0 ? ' bad' : '') + '">' + h.requests.error + '</td><td class="n">' + h.inFlight + '</td></tr>'));
    rows('triggers', s.triggers.map((t) => {
      const before = previous && previous.triggers.find((p) => p.name === t.name);
      const rate = before ? ((t.counters.received - before.counters.received) / ((now - previous.at) / 1000)).toFixed(1) : '–';
      return '<tr data-trigger="' + esc(t.name) + '"><td>' + esc(t.name) + '</td><td class="state ' + cls(t.state) + '">' + esc(t.state) + (t.reason ? '<div class="err">' + esc(t.reason) + '</div>' : '') + (t.lastError ? '<div class="err">last error: ' + esc(t.lastError) + '</div>' : '') + '</td><td>' + esc(t.topics.join(', ')) + ' (qos ' + t.qos + ')</td><td>' + esc(t.service) + '</td><td class="n received">' + t.counters.received + '</td><td class="n">' + rate + '</td><td class="n">' + t.counters.processed + '</td><td class="n">' + t.counters.failed + '</td><td class="n">' + t.counters.routed + '</td><td class="n">' + t.inFlight + '</td><td class="n">' + t.queueDepth + '</td><td>' + (t.running ? '<button data-action="' + (t.suspended ? 'resume' : 'suspend') + '">' + (t.suspended ? 'resume' : 'suspend') + '</button>' : '') + '</td></tr>';
    }));
    rows('services', s.services.map((v) => '<tr><td>' + esc(v.name) + '</td><td class="n">' + v.steps + '</td><td>' + esc(v.description || '') + '</td></tr>'));
    const r = s.lastReload;
    document.getElementById('reload').innerHTML = r ? esc(r.at + ' ' + r.outcome + ' (' + r.reason + ', ' + r.ms + ' ms)') + (r.changes.length ? '<pre>' + esc(r.changes.join('\\n')) + '</pre>' : '') + (r.problems.length ? '<pre class="bad">' + esc(r.problems.join('\\n')) + '</pre>' : '') : 'none since start';
    previous = { at: now, triggers: s.triggers };
  }
  document.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (!button) return;
    const row = button.closest('tr');
    const action = button.dataset.action;
    if (row.dataset.trigger) void post('/api/triggers/' + encodeURIComponent(row.dataset.trigger) + '/' + action);
    else void post('/api/connections/' + encodeURIComponent(row.dataset.connection) + '/' + action);
  });
  void refresh();
  setInterval(refresh, 2000);
</script>
</body>
</html>
`;
