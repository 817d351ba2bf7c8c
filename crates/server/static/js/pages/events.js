import { h, clear, fmtTime, fmtNum, link, badge, panel, fill } from '../dom.js';
import { api, enc } from '../api.js';

/** Every event type the server publishes (SSE sends each as a named event). */
export const TYPES = ["session.created", "session.joined", "session.left", "session.activated", "session.terminated", "session.archived", "session.expired", "session.join_denied", "ring.assigned", "ring.elevation_requested", "ring.elevated", "ring.demoted", "ring.elevation_expired", "ring.elevation_revoked", "ring.breach_detected", "ring.breaker_tripped", "ring.breaker_reset", "liability.vouch_created", "liability.vouch_released", "liability.slash_executed", "liability.fault_attributed", "liability.quarantine_entered", "liability.quarantine_released", "saga.created", "saga.step_started", "saga.step_committed", "saga.step_failed", "saga.step_retry", "saga.compensating", "saga.step_compensated", "saga.completed", "saga.compensated", "saga.failed", "saga.escalated", "saga.fanout_started", "saga.fanout_resolved", "saga.checkpoint_saved", "vfs.write", "vfs.delete", "vfs.snapshot", "vfs.restore", "vfs.conflict", "vfs.acl_changed", "lock.acquired", "lock.released", "lock.waiting", "lock.deadlock", "governance.allowed", "governance.denied", "security.rate_limited", "security.agent_killed", "security.saga_handoff", "security.identity_verified", "audit.delta_captured", "audit.committed", "audit.checkpoint_signed", "audit.gc_collected", "verification.behavior_drift", "verification.history_verified"];
const KEEP = 10000; // events held in memory
const SHOW = 300; // rows in the DOM

function kind(t) {
  if (t.endsWith('denied') || t.includes('failed') || t.includes('breach') || t.includes('slash') || t.includes('killed') || t.includes('tripped') || t.includes('deadlock')) return 'bad';
  if (t.includes('compensat') || t.includes('quarantine') || t.includes('retry') || t.includes('conflict') || t.includes('rate_limited')) return 'warn';
  if (t.endsWith('allowed') || t.endsWith('committed') || t.endsWith('completed')) return 'ok';
  return 'info';
}

export default async function render(root, _params, ctx) {
  const q = new URLSearchParams(location.search);
  const f = { session_id: q.get('session_id') || '', agent_did: q.get('agent_did') || '', event_type: q.get('event_type') || '' };
  const sessionIn = h('input', { type: 'search', placeholder: 'session id', value: f.session_id, 'aria-label': 'Session filter', 'data-testid': 'filter-session' });
  const agentIn = h('input', { type: 'search', placeholder: 'agent DID', value: f.agent_did, 'aria-label': 'Agent filter', 'data-testid': 'filter-agent' });
  const typeSel = h('select', { 'aria-label': 'Type filter', 'data-testid': 'filter-type' }, h('option', { value: '' }, 'any type'), TYPES.map((t) => h('option', { value: t }, t)));
  typeSel.value = f.event_type;
  const pauseBtn = h('button', { type: 'button', 'data-testid': 'pause' }, 'Pause');
  const status = h('span', { class: 'muted small', 'data-testid': 'stream-status' }, 'connecting…');
  const count = h('span', { class: 'muted small', 'data-testid': 'event-count' });
  const tbody = h('tbody', { 'data-testid': 'events' });
  const list = h('div', { class: 'events-list table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, ['Seq', 'When', 'Type', 'Session', 'Agent', 'Payload'].map((c) => h('th', {}, c)))), tbody));
  root.append(h('h1', {}, 'Event stream'), h('p', { class: 'sub' }, 'Live from the server-sent event stream; filters apply on the server.'),
    panel(null, h('div', { class: 'toolbar' }, sessionIn, agentIn, typeSel, pauseBtn, status, count), list));

  let events = []; let seen = new Set(); let paused = false; let pending = 0; let es = null; let drawQueued = false;

  function row(e) {
    return h('tr', { 'data-seq': String(e.seq), 'data-type': e.event_type }, [
      h('td', { class: 'num' }, String(e.seq)), h('td', { class: 'small' }, fmtTime(e.timestamp).slice(11)),
      h('td', {}, badge(e.event_type, kind(e.event_type))),
      h('td', {}, e.session_id ? link(`/sessions/${enc(e.session_id)}`, e.session_id, { class: 'mono small' }) : '–'),
      h('td', { class: 'mono small wrap', 'data-field': 'agent' }, e.agent_did || '–'),
      h('td', { class: 'mono small wrap', 'data-field': 'payload' }, JSON.stringify(e.payload ?? null).slice(0, 220))]);
  }
  function draw() {
    drawQueued = false;
    if (paused) return;
    pending = 0;
    const shown = events.slice(-SHOW).reverse();
    fill(tbody, ...shown.map(row));
    count.textContent = `${fmtNum(events.length)} events held, newest ${Math.min(SHOW, events.length)} shown`;
  }
  function add(e) {
    if (seen.has(e.seq)) return;
    seen.add(e.seq);
    events.push(e);
    if (events.length > KEEP) { const old = events.splice(0, events.length - KEEP); for (const o of old) seen.delete(o.seq); }
    if (paused) { pending += 1; status.textContent = `paused · ${pending} new`; return; }
    if (!drawQueued) { drawQueued = true; requestAnimationFrame(draw); }
  }
  function qs() {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
    return p.toString();
  }
  async function connect() {
    if (es) es.close();
    events = []; seen = new Set(); pending = 0; draw();
    history.replaceState(null, '', `/events${qs() ? `?${qs()}` : ''}`);
    status.textContent = 'connecting…';
    const src = new EventSource(`/api/v1/events/stream${qs() ? `?${qs()}` : ''}`);
    es = src;
    const onEvent = (m) => { try { add(JSON.parse(m.data)); } catch { /* keep-alive or bad data */ } };
    for (const t of TYPES) src.addEventListener(t, onEvent);
    src.onmessage = onEvent;
    src.onopen = () => { if (es === src) status.textContent = paused ? `paused · ${pending} new` : 'live'; };
    src.onerror = async () => {
      if (es !== src) return;
      status.textContent = 'reconnecting…';
      // A 401 closes the stream for good; check whether we are still logged in.
      if (src.readyState === EventSource.CLOSED) { try { await api('/api/v1/dashboard/summary'); } catch { /* handled by api() */ } }
    };
    try {
      const backlog = await api(`/api/v1/events?limit=500${qs() ? `&${qs()}` : ''}`);
      if (es === src) for (const e of backlog.sort((a, b) => a.seq - b.seq)) add(e);
      events.sort((a, b) => a.seq - b.seq);
      draw();
    } catch (err) {
      if (err.status !== 401) status.textContent = `error: ${err.message}`;
    }
  }
  let timer = null;
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { f.session_id = sessionIn.value.trim(); f.agent_did = agentIn.value.trim(); f.event_type = typeSel.value; connect(); }, 350);
  };
  sessionIn.addEventListener('input', changed); agentIn.addEventListener('input', changed); typeSel.addEventListener('change', changed);
  pauseBtn.addEventListener('click', () => {
    paused = !paused;
    pauseBtn.textContent = paused ? 'Resume' : 'Pause';
    pauseBtn.className = paused ? 'ghost' : '';
    status.textContent = paused ? 'paused · 0 new' : 'live';
    if (!paused) draw();
  });
  ctx.onCleanup(() => { clearTimeout(timer); if (es) es.close(); es = null; });
  await connect();
}
