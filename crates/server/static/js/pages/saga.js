import { h, s, clear, table, fmtTime, fmtDuration, link, stateBadge, badge, panel, notFound, toMs, fill } from '../dom.js';
import { api, enc } from '../api.js';
import { legend } from '../svg.js';

const FINISHED = new Set(['completed', 'compensated', 'failed', 'escalated']);
const COLORS = { ok: 'var(--ok)', error: 'var(--bad)', timeout: 'var(--warn)', flight: 'var(--info)', undo: 'var(--ring0)' };

function outcomeColor(a, undo) {
  if (!a.outcome) return COLORS.flight;
  if (a.outcome.kind === 'ok') return undo ? COLORS.undo : COLORS.ok;
  return a.outcome.kind === 'timeout' ? COLORS.timeout : COLORS.error;
}

/** The steps as a timeline: one row per step, a bar per attempt; fan-out branches bracketed. */
function timeline(g, nowMs) {
  const rowH = 30; const labelW = 230; const w = 980; const top = 26;
  const groupOf = new Map();
  for (const f of g.fan_outs || []) for (const b of f.branches) groupOf.set(b, f);
  const steps = g.steps;
  const starts = steps.flatMap((x) => [...x.attempts, ...x.compensation_attempts].map((a) => a.started_at));
  const t0 = Math.min(toMs(g.created_at), ...starts);
  const ends = steps.flatMap((x) => [...x.attempts, ...x.compensation_attempts].map((a) => a.ended_at ?? nowMs));
  const t1 = Math.max(t0 + 1000, FINISHED.has(g.state) ? Math.max(t0, ...ends, toMs(g.completed_at) || 0) : nowMs);
  const X = (t) => labelW + ((t - t0) / (t1 - t0)) * (w - labelW - 20);
  const hgt = top + steps.length * rowH + 10;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': 'saga timeline', 'data-chart': 'saga-timeline' });
  for (const frac of [0, 0.25, 0.5, 0.75, 1]) {
    const x = labelW + frac * (w - labelW - 20);
    svg.appendChild(s('line', { x1: x, x2: x, y1: top - 6, y2: hgt - 6, class: 'grid-line' }));
    svg.appendChild(s('text', { x, y: 12, 'text-anchor': 'middle', class: 'muted-text' }, `+${fmtDuration(frac * (t1 - t0))}`));
  }
  steps.forEach((st, k) => {
    const y = top + k * rowH;
    const grp = groupOf.get(st.step_id);
    const label = st.step_id.length > 26 ? `${st.step_id.slice(0, 25)}…` : st.step_id;
    svg.appendChild(s('text', { x: grp ? 22 : 6, y: y + 17, 'data-step-label': st.step_id }, label));
    svg.appendChild(s('text', { x: labelW - 8, y: y + 17, 'text-anchor': 'end', class: 'muted-text', 'data-step-state': st.step_id }, st.state));
    svg.appendChild(s('rect', { x: labelW, y: y + 4, width: w - labelW - 20, height: rowH - 8, rx: 4, class: 'bg' }));
    const bars = [...st.attempts.map((a) => [a, false]), ...st.compensation_attempts.map((a) => [a, true])];
    for (const [a, undo] of bars) {
      const x = X(a.started_at); const x2 = X(a.ended_at ?? nowMs);
      svg.appendChild(s('rect', { x, y: y + (undo ? 17 : 6), width: Math.max(3, x2 - x), height: undo ? 9 : 11, rx: 2, fill: outcomeColor(a, undo) },
        s('title', {}, `${undo ? 'undo' : 'attempt'} ${a.number} by ${a.agent}: ${a.outcome ? a.outcome.kind : 'in flight'}${a.outcome && a.outcome.message ? ` — ${a.outcome.message}` : ''} (${fmtDuration((a.ended_at ?? nowMs) - a.started_at)})`)));
    }
  });
  // Fan-out brackets.
  for (const f of g.fan_outs || []) {
    const rows = f.branches.map((b) => steps.findIndex((x) => x.step_id === b)).filter((i) => i >= 0);
    if (!rows.length) continue;
    const y1 = top + Math.min(...rows) * rowH + 4; const y2 = top + Math.max(...rows) * rowH + rowH - 4;
    svg.appendChild(s('path', { d: `M14,${y1} L8,${y1} L8,${y2} L14,${y2}`, fill: 'none', stroke: 'var(--accent)', 'stroke-width': 2 },
      s('title', {}, `fan-out ${f.group_id} (${f.policy})`)));
  }
  return svg;
}

export default async function render(root, [id], ctx) {
  let g;
  const load = () => api(`/api/v1/dashboard/sagas/${enc(id)}`);
  try {
    g = await load();
  } catch (e) {
    if (e.status === 404 || e.status === 400) return notFound(root, 'Saga', id);
    throw e;
  }
  const head = h('div'); const tl = panel('Timeline'); const stepsP = panel('Steps'); const comp = panel('Compensation');
  root.append(head, tl, stepsP, comp);

  function draw() {
    fill(head, 
      h('h1', {}, 'Saga ', h('span', { class: 'mono id', 'data-testid': 'saga-id' }, g.saga_id), h('span', { 'data-testid': 'saga-state' }, stateBadge(g.state))),
      h('p', { class: 'sub' }, g.name ? `${g.name} · ` : '', 'session ', link(`/sessions/${enc(g.session_id)}`, g.session_id, { class: 'mono' }),
        ` · created ${fmtTime(g.created_at)}`, g.completed_at ? ` · finished ${fmtTime(g.completed_at)}` : '',
        FINISHED.has(g.state) ? '' : ' · live'),
      g.error ? h('div', { class: 'flash' }, g.error) : null);
    fill(tl, h('h2', {}, 'Timeline'), timeline(g, g.now_ms || Date.now()),
      legend([['committed', COLORS.ok], ['failed', COLORS.error], ['timed out', COLORS.timeout], ['in flight', COLORS.flight], ['undo (thin)', COLORS.undo]]),
      (g.fan_outs || []).length ? h('p', { class: 'small muted' }, 'Bracketed rows are fan-out branches: ',
        g.fan_outs.map((f) => {
          const r = (g.fan_out_results || []).find((x) => x.group_id === f.group_id);
          return badge(`${f.group_id}: ${f.policy}${r ? (r.satisfied ? ' ✓' : ' ✗') : ''}`, r ? (r.satisfied ? 'ok' : 'bad') : 'info');
        })) : null);
    fill(stepsP, h('h2', {}, `Steps (${g.steps.length})`),
      table(['Step', 'Action', 'Agent', 'State', 'Attempts', 'Undo attempts', 'Error', 'API'], g.steps.map((st) => h('tr', { 'data-step': st.step_id }, [
        h('td', { class: 'mono small' }, st.step_id), h('td', { class: 'small' }, st.action_id), h('td', { class: 'mono small wrap' }, st.agent_did),
        h('td', { 'data-testid': 'step-state' }, stateBadge(st.state)), h('td', { class: 'num' }, String(st.attempts.length)),
        h('td', { class: 'num' }, String(st.compensation_attempts.length)), h('td', { class: 'small wrap' }, st.error || ''),
        h('td', { class: 'mono small wrap' }, st.execute_api, st.undo_api ? [h('br'), `undo: ${st.undo_api}`] : null)])), { 'data-testid': 'steps' }));
    fill(comp, h('h2', {}, 'Compensation order'), g.compensation_order.length
      ? h('ol', { 'data-testid': 'compensation-order' }, g.compensation_order.map((x) => h('li', { class: 'mono' }, x)))
      : h('p', { class: 'muted' }, 'Nothing compensated.'));
  }
  draw();
  ctx.every(1000, async () => {
    if (FINISHED.has(g.state)) { ctx.setLive('finished'); return; }
    g = await load();
    if (!ctx.alive) return;
    draw();
    ctx.setLive(`live · ${fmtTime(Date.now()).slice(11)}`);
  });
}
