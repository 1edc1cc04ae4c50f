// mflow ui: the page over the JSON API (/api/...). Routes live in the URL's hash:
//   #/                      runs, with filters
//   #/run/FLOW/RUN          a run: its graph, timeline, tasks, tags
//   #/task/FLOW/RUN/STEP/ID a task: attempts, artifacts, logs
// Every value from the API reaches the page as text nodes (never as HTML).
'use strict';

const SVGNS = 'http://www.w3.org/2000/svg';
let timer = null;      // the live refresh of the current view
let viewSeq = 0;       // a view's answers that arrive after the next view started are dropped

// The token of ?token= now lives in a cookie the server set: drop it from the address bar.
if (location.search.includes('token=')) history.replaceState(null, '', location.pathname + location.hash);

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}
function sv(tag, attrs, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : String(k));
  return e;
}
// Stored text: a string, or {"type": "str", "hex"} when it is not UTF-8 (sdk/DATASTORE.md 10).
function txt(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object' && v.hex !== undefined) return '\\x' + (v.hex.match(/../g) || []).join('\\x');
  return String(v);
}
function when(t) { return t > 0 ? new Date(t * 1000).toLocaleString() : '-'; }
function dur(s) {
  if (s === null || s === undefined || s < 0) return '-';
  if (s < 1) return Math.round(s * 1000) + 'ms';
  if (s < 60) return s.toFixed(1) + 's';
  return Math.floor(s / 60) + 'm' + String(Math.round(s % 60)).padStart(2, '0') + 's';
}
function badge(st) { return el('span', { class: 'status s-' + st }, st); }
function link(href, text) { return el('a', { href }, text); }
function esc(s) { return encodeURIComponent(s); }

async function api(path) {
  const r = await fetch(path, { headers: { Accept: 'application/json' } });
  let body;
  try { body = await r.json(); } catch (e) { body = { error: 'not JSON (' + r.status + ')' }; }
  if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
  return body;
}

function setCrumbs(...parts) {
  const c = document.getElementById('crumbs');
  c.replaceChildren(...parts.flatMap(p => [' / ', p]));
}
function setLive(on) { document.getElementById('live').textContent = on ? 'live: updating every second' : ''; }
function show(...nodes) { document.getElementById('app').replaceChildren(...nodes); }
function fail(e) { show(el('p', { class: 'error', id: 'error' }, e.message)); }

// ---- runs -------------------------------------------------------------------------------

async function runsView(params) {
  setCrumbs('runs');
  const seq = viewSeq;
  const q = new URLSearchParams(params);
  const limit = 50, offset = Number(q.get('offset') || 0);
  const flows = await api('/api/flows');
  const form = el('form', { class: 'filters', id: 'filters' });
  const field = (name, label, input) => { input.name = name; input.value = q.get(name) || ''; form.append(el('label', {}, label, input)); };
  const flowSel = el('select', {}, el('option', { value: '' }, 'all'), flows.flows.map(f => el('option', { value: txt(f) }, txt(f))));
  field('flow', 'flow', flowSel);
  field('status', 'status', el('select', {}, ['', 'running', 'succeeded', 'failed', 'cancelled', 'pending'].map(s => el('option', { value: s }, s || 'any'))));
  field('user', 'user', el('input', { size: 10 }));
  field('namespace', 'namespace', el('input', { size: 14 }));
  field('tag', 'tag', el('input', { size: 14 }));
  form.append(el('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
    location.hash = '#/?' + p.toString();
  });
  const table = el('table', { id: 'runs' });
  const pager = el('p', { id: 'pager' });
  show(el('h2', {}, 'Runs'), form, table, pager);
  async function load() {
    const p = new URLSearchParams(q); p.set('limit', limit); p.set('offset', offset);
    const d = await api('/api/runs?' + p.toString());
    if (seq !== viewSeq) return;
    table.replaceChildren(el('tr', {}, ['run', 'status', 'user', 'namespace', 'started', 'duration', 'tags'].map(h => el('th', {}, h))),
      ...d.runs.map(r => el('tr', {},
        el('td', {}, link('#/run/' + esc(r.flow) + '/' + r.run_id, txt(r.pathspec))),
        el('td', {}, badge(r.status), r.dead ? ' (dead)' : ''),
        el('td', {}, txt(r.user)), el('td', {}, txt(r.namespace)),
        el('td', {}, when(r.start_time)), el('td', {}, dur(r.duration)),
        el('td', {}, r.tags.map(t => el('span', { class: 'tag' }, txt(t)))))));
    const nav = (o, label) => { const p2 = new URLSearchParams(q); p2.set('offset', o); return link('#/?' + p2.toString(), label); };
    pager.replaceChildren(`${d.total ? offset + 1 : 0}–${offset + d.runs.length} of ${d.total} `,
      offset > 0 ? nav(Math.max(0, offset - limit), '« newer') : '', ' ',
      offset + limit < d.total ? nav(offset + limit, 'older »') : '');
    const live = d.runs.some(r => r.status === 'running' && !r.dead);
    setLive(live);
    return live;
  }
  await load();
  timer = setInterval(() => load().catch(() => {}), 1000);
}

// ---- a run ------------------------------------------------------------------------------

// Layered layout: a step's layer is the longest path to it from a step without parents.
function drawGraph(g) {
  const names = g.steps.map(s => s.name);
  const layer = Object.fromEntries(names.map(n => [n, 0]));
  for (let pass = 0; pass < names.length; pass++)
    for (const e of g.edges) if (layer[e.to] !== undefined && layer[e.from] !== undefined && layer[e.to] < layer[e.from] + 1) layer[e.to] = layer[e.from] + 1;
  const layers = [];
  for (const n of names) (layers[layer[n]] = layers[layer[n]] || []).push(n);
  const W = 150, H = 44, GX = 60, GY = 18;
  const pos = {};
  const rows = Math.max(...layers.map(l => (l || []).length), 1);
  layers.forEach((l, i) => (l || []).forEach((n, j) => {
    pos[n] = { x: 10 + i * (W + GX), y: 10 + (rows - l.length) * (H + GY) / 2 + j * (H + GY) };
  }));
  const svg = sv('svg', { id: 'dag', width: 20 + layers.length * (W + GX) - GX, height: 20 + rows * (H + GY) - GY });
  svg.append(sv('defs', {}, sv('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' }, sv('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#556' }))));
  for (const e of g.edges) {
    const a = pos[e.from], b = pos[e.to];
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
    svg.append(sv('path', { class: 'edge', d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, 'marker-end': 'url(#arrow)' }));
  }
  for (const s of g.steps) {
    const p = pos[s.name];
    const c = s.counts || {};
    const node = sv('g', { class: 'node n-' + s.status, 'data-step': txt(s.name), transform: `translate(${p.x},${p.y})` },
      sv('rect', { width: W, height: H }),
      sv('text', { x: 8, y: 17 }, txt(s.name) + (s.foreach ? ' (foreach)' : s.join ? ' (join)' : '')),
      sv('text', { x: 8, y: 34, class: 'muted' }, `${s.tasks} task${s.tasks === 1 ? '' : 's'} · ${c.succeeded || 0} ok${c.failed ? ' · ' + c.failed + ' failed' : ''}${c.running ? ' · ' + c.running + ' running' : ''}`));
    node.append(sv('title', {}, s.status));
    svg.append(node);
  }
  return svg;
}

function drawTimeline(tasks, href) {
  const ts = tasks.filter(t => t.start_time > 0).sort((a, b) => a.start_time - b.start_time || a.task_id - b.task_id);
  if (!ts.length) return el('p', { class: 'muted' }, 'No task has started yet.');
  const now = Date.now() / 1000;
  const t0 = Math.min(...ts.map(t => t.start_time));
  const t1 = Math.max(...ts.map(t => t.end_time > 0 ? t.end_time : now), t0 + 0.001);
  const L = 260, W = 620, RH = 20;
  const svg = sv('svg', { id: 'timeline', width: L + W + 80, height: 24 + ts.length * RH });
  svg.append(sv('text', { x: L, y: 12, class: 'muted' }, '0'), sv('text', { x: L + W - 40, y: 12, class: 'muted' }, dur(t1 - t0)));
  ts.forEach((t, i) => {
    const y = 20 + i * RH;
    const end = t.end_time > 0 ? t.end_time : now;
    const x = L + (t.start_time - t0) / (t1 - t0) * W;
    const w = Math.max(2, (end - t.start_time) / (t1 - t0) * W);
    const a = sv('a', { href: href(t) });
    a.append(sv('text', { x: 4, y: y + 13 }, `${txt(t.step)}/${t.task_id}${t.host ? ' @ ' + txt(t.host) : ''}`));
    const bar = sv('rect', { class: 'bar b-' + t.status, 'data-task': txt(t.pathspec), x, y: y + 3, width: w, height: RH - 6 });
    bar.append(sv('title', {}, `${txt(t.pathspec)}: ${t.status}, ${dur(end - t.start_time)}, host ${txt(t.host) || '?'}`));
    a.append(bar);
    svg.append(a);
  });
  return svg;
}

async function runView(flow, run) {
  const seq = viewSeq;
  const base = '/api/runs/' + esc(flow) + '/' + esc(run);
  setCrumbs(link('#/?flow=' + esc(flow), flow), run);
  const head = el('div'), dag = el('div', { class: 'panel' }), tl = el('div', { class: 'panel' }), tasks = el('table', { id: 'tasks' });
  show(head, el('h3', {}, 'Graph'), dag, el('h3', {}, 'Timeline'), tl, el('h3', {}, 'Tasks'), tasks);
  const taskHref = t => '#/task/' + esc(flow) + '/' + run + '/' + esc(txt(t.step)) + '/' + t.task_id;
  async function load() {
    const [r, g, tl2] = await Promise.all([api(base), api(base + '/graph'), api(base + '/tasks')]);
    if (seq !== viewSeq) return false;
    head.replaceChildren(el('h2', { id: 'run-title' }, txt(r.pathspec), ' ', badge(r.status), r.dead ? ' (dead: its orchestrator is gone)' : ''),
      el('dl', { class: 'meta' },
        el('dt', {}, 'user'), el('dd', {}, txt(r.user)),
        el('dt', {}, 'namespace'), el('dd', {}, txt(r.namespace)),
        el('dt', {}, 'started'), el('dd', {}, when(r.start_time)),
        el('dt', {}, 'ended'), el('dd', {}, when(r.end_time)),
        el('dt', {}, 'duration'), el('dd', {}, dur(r.duration)),
        el('dt', {}, 'tags'), el('dd', { id: 'tags' }, r.tags.map(t => el('span', { class: 'tag' }, txt(t)))),
        el('dt', {}, 'parameters'), el('dd', {}, r.params.map(p => el('span', { class: 'tag' }, txt(p.name) + '=' + JSON.stringify(p.value))))));
    dag.replaceChildren(drawGraph(g));
    tl.replaceChildren(drawTimeline(tl2.tasks, taskHref));
    tasks.replaceChildren(el('tr', {}, ['task', 'status', 'attempt', 'host', 'started', 'duration', 'item'].map(h => el('th', {}, h))),
      ...tl2.tasks.map(t => el('tr', { 'data-task': txt(t.pathspec), 'data-status': t.status },
        el('td', {}, link(taskHref(t), txt(t.step) + '/' + t.task_id)),
        el('td', {}, badge(t.status), t.dead ? ' (dead)' : ''), el('td', {}, t.attempt), el('td', {}, txt(t.host)),
        el('td', {}, when(t.start_time)),
        el('td', {}, t.end_time > 0 ? dur(t.end_time - t.start_time) : t.start_time > 0 && !t.dead ? 'running' : '-'),
        el('td', {}, t.foreach ? `${t.foreach.index + 1} of ${t.foreach.count}` : ''))));
    const live = (r.status === 'running' || r.status === 'pending') && !r.dead;
    setLive(live);
    return live;
  }
  if (await load()) timer = setInterval(async () => {
    try { if (!(await load())) { clearInterval(timer); timer = null; } } catch (e) { /* keep the last view */ }
  }, 1000);
}

// ---- a task -----------------------------------------------------------------------------

async function taskView(flow, run, step, id) {
  const seq = viewSeq;
  const base = '/api/tasks/' + esc(flow) + '/' + esc(run) + '/' + esc(step) + '/' + esc(id);
  setCrumbs(link('#/?flow=' + esc(flow), flow), link('#/run/' + esc(flow) + '/' + esc(run), run), step + '/' + id);
  const t = await api(base);
  if (seq !== viewSeq) return;
  const logBox = el('pre', { class: 'log', id: 'log' });
  const logInfo = el('p', { class: 'muted', id: 'log-info' });
  const more = el('button', { id: 'log-more' }, 'Load more');
  let stream = 'stdout', attempt = t.attempt, next = 0;
  async function loadLog(reset) {
    if (reset) { logBox.textContent = ''; next = 0; }
    const d = await api(`${base}/logs?stream=${stream}&attempt=${attempt}&offset=${next}&limit=65536`);
    logBox.append(txt(d.data));
    next = d.next_offset;
    logInfo.textContent = `${stream} of attempt ${d.attempt}: ${d.next_offset} of ${d.total} bytes`;
    more.hidden = d.next_offset >= d.total;
  }
  more.addEventListener('click', () => loadLog(false).catch(fail));
  const tab = (name) => el('button', { class: name === stream ? 'on' : '', id: 'tab-' + name, onclick: ev => {
    stream = name;
    for (const b of ev.target.parentNode.children) b.className = b === ev.target ? 'on' : '';
    loadLog(true).catch(fail);
  } }, name);
  const artifacts = el('table', { id: 'artifacts' }, el('tr', {}, ['name', 'type', 'size', 'value', ''].map(h => el('th', {}, h))),
    t.artifacts.map(a => el('tr', { 'data-artifact': txt(a.name) },
      el('td', {}, txt(a.name)), el('td', {}, a.type), el('td', {}, a.size + ' B'),
      el('td', {}, a.value_shown ? el('pre', { class: 'value' }, JSON.stringify(a.value, null, 1)) : el('span', { class: 'muted' }, 'too large to show: download it')),
      el('td', {}, el('a', { href: base + '/artifacts/' + esc(txt(a.name)), download: '' }, 'download')))));
  show(el('h2', { id: 'task-title' }, txt(t.pathspec), ' ', badge(t.status), t.dead ? ' (dead: its orchestrator is gone)' : ''),
    el('dl', { class: 'meta' },
      el('dt', {}, 'host'), el('dd', { id: 'task-host' }, txt(t.host)),
      el('dt', {}, 'started'), el('dd', {}, when(t.start_time)),
      el('dt', {}, 'ended'), el('dd', {}, when(t.end_time)),
      el('dt', {}, 'inputs'), el('dd', {}, t.inputs.map(i => el('span', { class: 'tag' }, txt(i)))),
      t.message ? [el('dt', {}, 'message'), el('dd', { class: 'error' }, txt(t.message))] : []),
    el('h3', {}, 'Attempts'),
    el('table', { id: 'attempts' }, el('tr', {}, ['attempt', 'status', 'host', 'started', 'duration', 'exit', 'message'].map(h => el('th', {}, h))),
      t.attempts.map(a => el('tr', {}, el('td', {}, a.attempt), el('td', {}, badge(a.status)), el('td', {}, txt(a.host)),
        el('td', {}, when(a.start_time)), el('td', {}, a.end_time > 0 ? dur(a.end_time - a.start_time) : '-'),
        el('td', {}, a.exit_code), el('td', {}, txt(a.message))))),
    el('h3', {}, 'Artifacts'), artifacts,
    el('h3', {}, 'Logs'), el('div', { class: 'tabs' }, tab('stdout'), tab('stderr')), logInfo, logBox, more);
  await loadLog(true);
  // A task that runs (or waits for its retry) has no record yet: look again every second,
  // and show it anew once it ended or moved to another attempt.
  if (!t.ended && !t.dead && (t.status === 'running' || t.status === 'pending')) {
    setLive(true);
    timer = setInterval(async () => {
      try {
        const u = await api(base);
        if (seq !== viewSeq) return;
        if (u.ended || u.dead || u.status !== t.status || u.attempt !== t.attempt) {
          clearInterval(timer); timer = null;
          await taskView(flow, run, step, id);
        }
      } catch (e) { /* keep the last view */ }
    }, 1000);
  }
}

// ---- routing ----------------------------------------------------------------------------

async function route() {
  if (timer) { clearInterval(timer); timer = null; }
  viewSeq++;
  setLive(false);
  const h = location.hash.replace(/^#/, '') || '/';
  const [path, query] = h.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === 'run' && parts.length === 3) await runView(parts[1], parts[2]);
    else if (parts[0] === 'task' && parts.length === 5) await taskView(parts[1], parts[2], parts[3], parts[4]);
    else await runsView(query || '');
  } catch (e) { fail(e); }
}
window.addEventListener('hashchange', route);
route();
