/**
 * The status page at `/`: plain HTML and a little script, no build step. It polls /api/status
 * every 2 s, shows the integration (the `mqflow graph` picture from /api/graph, drawn as SVG by
 * the page's own script, with live counts), connections, state stores, windows, schedules,
 * endpoints, HTTP calls, triggers (with rates from counter deltas, and each trigger's rate and
 * p50/p99 over the last 5 minutes), services and the last reload, has suspend/resume and
 * enable/disable buttons, and a live view of messages (the tap, /api/tap) while "watch" is on.
 * A token given as ?token= is sent as a Bearer header on every request (and in the tap's URL:
 * EventSource sends no headers). It loads nothing else: STATUS_PAGE_CSP allows its own inline
 * style and script (by hash) and requests to the server itself, nothing more.
 */
import { createHash } from 'node:crypto';

const STYLE = `  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1b1f23; background: #fafbfc; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; } h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e1e4e8; vertical-align: top; }
  th { background: #f1f3f5; font-weight: 600; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
  .ok { color: #1a7f37; } .warn { color: #9a6700; } .bad { color: #cf222e; } .muted { color: #6e7781; }
  .err { color: #cf222e; font-size: .85em; } button { font: inherit; padding: .1rem .6rem; cursor: pointer; }
  #meta { color: #57606a; } #problem { color: #cf222e; white-space: pre-wrap; }
  #graph { background: #fff; border: 1px solid #e1e4e8; overflow-x: auto; }
  #graph svg { display: block; font: 12px system-ui, sans-serif; }
  #graph .node rect { fill: #fff; stroke: #57606a; } #graph .node.trigger rect { fill: #ddf4ff; stroke: #0969da; }
  #graph .node.topic rect { fill: #fff8c5; stroke: #9a6700; } #graph .node.service rect { fill: #f6f8fa; }
  #graph .node.api rect { fill: #fbefff; stroke: #8250df; } #graph .node.disabled { opacity: .45; }
  #graph .node .count { fill: #1a7f37; font-variant-numeric: tabular-nums; } #graph .node .count.bad { fill: #cf222e; }
  #graph .group { fill: none; stroke: #afb8c1; stroke-dasharray: 4 3; } #graph .group-label { fill: #57606a; font-size: 11px; }
  #graph .edge { fill: none; stroke: #8c959f; } #graph .edge.error { stroke: #cf222e; stroke-dasharray: 4 3; }
  svg.spark polyline { fill: none; stroke: #0969da; }
  #tap-controls { margin: .25rem 0 .5rem; } #tap-controls input, #tap-controls select { font: inherit; }
  #tap td { font: 12px/1.3 ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
  #tap tr.failed td, #tap tr.dropped td { color: #cf222e; }
`;

const SCRIPT = `  const token = new URLSearchParams(location.search).get('token');
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
    document.getElementById('meta').textContent = 'mqflow ' + s.mqflow + ' · ' + s.folder + ' · flow version ' + s.flowVersion + (s.revision ? ' · commit ' + s.revision.commit.slice(0, 12) + (s.revision.dirty ? ' (with uncommitted changes)' : '') : '') + ' · started ' + s.startedAt + ' · reloads applied ' + s.reloads.applied + ', failed ' + s.reloads.failed;
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
    rows('recent', s.triggers.filter((t) => t.recent).map((t) => {
      const r = t.recent;
      const failed = r.failed.reduce((a, b) => a + b, 0);
      return '<tr data-recent="' + esc(t.name) + '"><td>' + esc(t.name) + '</td><td class="n rate">' + r.perSecond.toFixed(2) + '</td><td class="n' + (failed > 0 ? ' bad' : '') + '">' + failed + '</td><td class="n p50">' + ms(r.p50Ms) + '</td><td class="n p99">' + ms(r.p99Ms) + '</td><td>' + spark(r.counts) + '</td></tr>';
    }));
    fillTapTriggers(s);
    if (graphVersion !== s.flowVersion) void loadGraph(s.flowVersion);
    liveCounts(s);
  }
  const ms = (v) => (v === undefined ? '–' : v < 10 ? v.toFixed(2) + ' ms' : v < 1000 ? v.toFixed(0) + ' ms' : (v / 1000).toFixed(2) + ' s');
  function spark(counts) {
    const max = Math.max(1, ...counts);
    const points = counts.map((c, i) => (i * 4) + ',' + (20 - Math.round((c / max) * 18) - 1)).join(' ');
    return '<svg class="spark" width="120" height="20" viewBox="0 0 120 20"><polyline points="' + points + '"/></svg>';
  }

  // The integration, as mqflow graph draws it: topics → triggers → services → topics, laid out in columns.
  const SVG = 'http://www.w3.org/2000/svg';
  let graphVersion = null;
  let graphNodes = [];
  function el(name, attrs, parent) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (parent) parent.appendChild(e);
    return e;
  }
  const cut = (text, n) => (text.length > n ? text.slice(0, n - 1) + '…' : text);
  async function loadGraph(version) {
    graphVersion = version;
    let g;
    try {
      const res = await fetch('/api/graph', { headers });
      if (!res.ok) throw new Error(res.status + ' ' + (await res.text()));
      g = await res.json();
    } catch (e) {
      graphVersion = null;
      document.getElementById('problem').textContent = 'graph unavailable: ' + e.message;
      return;
    }
    drawGraph(g);
  }
  function drawGraph(g) {
    const svg = document.getElementById('graph-svg');
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    // Rank: the longest path from a source along non-error edges (bounded, so a loop cannot run away).
    const rank = new Map(g.nodes.map((n) => [n.id, n.kind === 'trigger' ? 1 : 0]));
    const flow = g.edges.filter((e) => e.kind !== 'error');
    for (let round = 0; round < 12; round++) {
      let changed = false;
      for (const e of flow) {
        const r = Math.min(rank.get(e.from) + 1, 12);
        if (r > rank.get(e.to)) { rank.set(e.to, r); changed = true; }
      }
      if (!changed) break;
    }
    const W = 200, GAP = 70, PAD = 24;
    const columns = new Map();
    for (const n of g.nodes) {
      const r = rank.get(n.id);
      if (!columns.has(r)) columns.set(r, []);
      columns.get(r).push(n);
    }
    const ranks = [...columns.keys()].sort((a, b) => a - b);
    const at = new Map();
    let height = 0;
    ranks.forEach((r, x) => {
      let y = PAD + 14;
      for (const n of columns.get(r)) {
        const h = 18 + 15 * (n.lines.length + (n.kind === 'trigger' || n.kind === 'service' ? 1 : 0));
        at.set(n.id, { x: PAD + x * (W + GAP), y, h });
        y += h + 18;
      }
      height = Math.max(height, y);
    });
    const width = PAD * 2 + ranks.length * (W + GAP) - GAP;
    svg.setAttribute('width', String(Math.max(width, 200)));
    svg.setAttribute('height', String(height + PAD));
    for (const grp of g.groups) {
      const members = g.nodes.filter((n) => n.group === grp.id).map((n) => at.get(n.id));
      if (members.length === 0) continue;
      const x = Math.min(...members.map((m) => m.x)) - 8, y = Math.min(...members.map((m) => m.y)) - 16;
      const x2 = Math.max(...members.map((m) => m.x + W)) + 8, y2 = Math.max(...members.map((m) => m.y + m.h)) + 6;
      el('rect', { class: 'group', x, y, width: x2 - x, height: y2 - y, rx: 6 }, svg);
      el('text', { class: 'group-label', x: x + 6, y: y + 11 }, svg).textContent = cut(grp.label, 34);
    }
    for (const e of g.edges) {
      const a = at.get(e.from), b = at.get(e.to);
      if (!a || !b) continue;
      const x1 = a.x + W, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2;
      const bend = Math.max(30, Math.abs(x2 - x1) / 2);
      const path = el('path', { class: 'edge ' + e.kind, d: 'M' + x1 + ',' + y1 + ' C' + (x1 + bend) + ',' + y1 + ' ' + (x2 - bend) + ',' + y2 + ' ' + x2 + ',' + y2, 'marker-end': 'url(#arrow)' }, svg);
      if (e.label) el('title', {}, path).textContent = e.label;
    }
    const defs = el('defs', {}, svg);
    const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' }, defs);
    el('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#8c959f' }, marker);
    graphNodes = [];
    for (const n of g.nodes) {
      const p = at.get(n.id);
      const node = el('g', { class: 'node ' + n.kind + (n.disabled ? ' disabled' : ''), 'data-node': n.id, 'data-kind': n.kind, 'data-name': n.lines[0] }, svg);
      el('title', {}, node).textContent = n.lines.join('\\n');
      el('rect', { x: p.x, y: p.y, width: W, height: p.h, rx: n.kind === 'trigger' ? 14 : 3 }, node);
      n.lines.forEach((line, i) => { el('text', { x: p.x + 10, y: p.y + 20 + i * 15 }, node).textContent = cut(line, 30); });
      if (n.kind === 'trigger' || n.kind === 'service') {
        const count = el('text', { class: 'count', x: p.x + 10, y: p.y + 20 + n.lines.length * 15 }, node);
        graphNodes.push({ kind: n.kind, group: n.group, name: n.lines[0], count });
      }
    }
    if (previous) liveCounts({ triggers: previous.triggers, endpoints: [], schedules: [] });
  }
  function liveCounts(s) {
    const runners = [...s.triggers, ...(s.endpoints || []), ...(s.schedules || [])];
    for (const n of graphNodes) {
      if (n.kind === 'trigger') {
        const t = runners.find((x) => x.name === n.name);
        if (!t) { n.count.textContent = ''; continue; }
        const rate = t.recent ? ' · ' + t.recent.perSecond.toFixed(1) + '/s' : '';
        n.count.textContent = t.counters.received + ' in' + rate + (t.counters.failed > 0 ? ' · ' + t.counters.failed + ' failed' : '');
        n.count.setAttribute('class', 'count' + (t.counters.failed > 0 ? ' bad' : ''));
      } else {
        const runs = runners.filter((x) => x.service === n.name);
        n.count.textContent = runs.length === 0 ? '' : runs.reduce((a, x) => a + x.counters.processed, 0) + ' done';
      }
    }
  }

  // Live messages: the tap (GET /api/tap, Server-Sent Events), only while "watch" is on.
  let source = null;
  const tapRows = document.querySelector('#tap tbody');
  function fillTapTriggers(s) {
    const select = document.getElementById('tap-trigger');
    const names = s.triggers.map((t) => t.name);
    const have = [...select.options].slice(1).map((o) => o.value);
    if (names.join('\\n') === have.join('\\n')) return;
    const chosen = select.value;
    while (select.options.length > 1) select.remove(1);
    for (const name of names) { const o = document.createElement('option'); o.value = name; o.textContent = name; select.appendChild(o); }
    select.value = names.includes(chosen) ? chosen : '';
  }
  const payloadText = (p) => (p.text !== undefined ? p.text : 'base64:' + p.base64) + (p.truncated ? ' … (' + p.size + ' bytes)' : '');
  function describe(e) {
    switch (e.type) {
      case 'received': return e.trigger + ' ← ' + e.topic + ' (qos ' + e.qos + ', ' + e.payload.size + ' B) ' + payloadText(e.payload);
      case 'step': return e.step + ' ' + e.kind + (e.name ? ' "' + e.name + '"' : '') + ' → ' + e.outcome + ' (' + e.ms + ' ms)';
      case 'publish': return 'via ' + e.connection + ' → ' + e.topic + ' (qos ' + e.qos + (e.retain ? ', retain' : '') + ', ' + e.payload.size + ' B) ' + payloadText(e.payload);
      case 'failed': return e.code + ': ' + e.reason + (e.step ? ' at ' + e.step : '') + ' (attempt ' + e.attempts + ')';
      case 'done': return e.outcome + ' in ' + e.ms + ' ms' + (e.omitted ? ' (' + e.omitted + ' events left out)' : '');
      case 'dropped': return e.dropped + ' events dropped: this page did not keep up (' + e.total + ' in all)';
      default: return '';
    }
  }
  function addTapRow(e) {
    const tr = document.createElement('tr');
    tr.className = e.type;
    const time = e.at ? e.at.slice(11, 23) : new Date().toISOString().slice(11, 23);
    for (const text of [time, e.id === undefined ? '' : '#' + e.id, e.type, describe(e)]) { const td = document.createElement('td'); td.textContent = text; tr.appendChild(td); }
    tapRows.insertBefore(tr, tapRows.firstChild);
    while (tapRows.children.length > 200) tapRows.removeChild(tapRows.lastChild);
  }
  function stopTap(why) {
    if (source) source.close();
    source = null;
    document.getElementById('tap-toggle').textContent = 'watch';
    document.getElementById('tap-state').textContent = why;
  }
  document.getElementById('tap-toggle').addEventListener('click', () => {
    if (source) { stopTap('stopped'); return; }
    const q = new URLSearchParams();
    const trigger = document.getElementById('tap-trigger').value;
    const topic = document.getElementById('tap-topic').value.trim();
    if (trigger) q.set('trigger', trigger);
    if (topic) q.set('topic', topic);
    q.set('rate', document.getElementById('tap-rate').value || '10');
    if (token) q.set('token', token);
    source = new EventSource('/api/tap?' + q.toString());
    document.getElementById('tap-toggle').textContent = 'stop';
    document.getElementById('tap-state').textContent = 'connecting…';
    source.addEventListener('hello', (m) => { const h = JSON.parse(m.data); document.getElementById('tap-state').textContent = 'watching: at most ' + h.rate + ' messages a second, payloads cut at ' + h.payloadBytes + ' bytes'; });
    for (const type of ['received', 'step', 'publish', 'failed', 'done', 'dropped']) source.addEventListener(type, (m) => addTapRow(JSON.parse(m.data)));
    source.onerror = () => { if (source && source.readyState === EventSource.CLOSED) stopTap('the tap was refused or ended (at most a few may watch at once)'); };
  });
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
`;

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The page's Content-Security-Policy: its own inline style and script only, requests to its own server only. */
export const STATUS_PAGE_CSP = `default-src 'none'; script-src ${hash(SCRIPT)}; style-src ${hash(STYLE)}; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mqflow status</title>
<style>${STYLE}</style>
</head>
<body>
<h1>mqflow</h1>
<div id="meta">loading…</div>
<div id="problem"></div>
<h2>Integration</h2>
<div id="graph"><svg id="graph-svg" xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg></div>
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
<h2>Last 5 minutes</h2>
<table id="recent"><thead><tr><th>Trigger</th><th class="n">msg/s</th><th class="n">Failed</th><th class="n">p50</th><th class="n">p99</th><th>Messages per 10 s</th></tr></thead><tbody></tbody></table>
<h2>Live messages</h2>
<div id="tap-controls"><label>trigger <select id="tap-trigger"><option value="">all</option></select></label> <label>topic <input id="tap-topic" size="24" placeholder="plant/#"></label> <label>at most <input id="tap-rate" type="number" min="1" max="1000" value="10" size="4"> msg/s</label> <button id="tap-toggle">watch</button> <span id="tap-state" class="muted">not watching (watching costs mqflow a little; it stops when you leave)</span></div>
<table id="tap"><thead><tr><th>Time</th><th>#</th><th>Event</th><th>Detail</th></tr></thead><tbody></tbody></table>
<h2>Services</h2>
<table id="services"><thead><tr><th>Service</th><th class="n">Steps</th><th>Description</th></tr></thead><tbody></tbody></table>
<h2>Last reload</h2>
<div id="reload" class="muted">none</div>
<script>${SCRIPT}</script>
</body>
</html>
`;
