import { h, clear, card, panel, table, fmtNum, fmtTime, link, badge, fill } from '../dom.js';
import { api, enc } from '../api.js';
import { barChart, lineChart, legend } from '../svg.js';

const RING_COLORS = ['var(--ring0)', 'var(--ring1)', 'var(--ring2)', 'var(--ring3)'];
const RING_NAMES = ['0 Root', '1 Privileged', '2 Standard', '3 Sandbox'];
const POINTS = 60;

export default async function render(root, _params, ctx) {
  const cards = h('div', { class: 'cards' });
  const charts = h('div', { class: 'grid' });
  const ratePanel = panel('Decisions per second');
  const denialsPanel = panel('Recent denials');
  root.append(h('h1', {}, 'Overview'), h('p', { class: 'sub' }, 'Live state of the hypervisor, refreshed every 2 seconds.'),
    cards, charts, h('div', { class: 'grid wide' }, ratePanel, denialsPanel));

  const allowed = []; const denied = [];
  let prev = null;

  async function refresh() {
    const [sum, denials] = await Promise.all([
      api('/api/v1/dashboard/summary'),
      api('/api/v1/events?event_type=governance.denied&limit=25'),
    ]);
    if (!ctx.alive) return;
    if (prev && sum.now_ms > prev.now_ms) {
      const dt = (sum.now_ms - prev.now_ms) / 1000;
      allowed.push(Math.max(0, (sum.decisions.allowed - prev.decisions.allowed) / dt));
      denied.push(Math.max(0, (sum.decisions.denied - prev.decisions.denied) / dt));
      if (allowed.length > POINTS) { allowed.shift(); denied.shift(); }
    }
    prev = sum;
    const active = sum.sessions_by_state.active || 0;
    const agents = Object.values(sum.agents_by_ring).reduce((a, b) => a + b, 0);
    fill(cards, 
      card('Sessions', fmtNum(sum.sessions_total), { stat: 'sessions_total' }),
      card('Active sessions', fmtNum(active), { stat: 'sessions_active' }),
      card('Agents in sessions', fmtNum(agents), { stat: 'agents_total' }),
      card('Sagas', fmtNum(sum.sagas_total), { stat: 'sagas_total' }),
      card('Allowed', fmtNum(sum.decisions.allowed), { stat: 'allowed', kind: 'ok' }),
      card('Denied', fmtNum(sum.decisions.denied), { stat: 'denied', kind: 'bad' }),
      card('Active bonds', fmtNum(sum.active_vouches), { stat: 'active_vouches' }),
      card('Events', fmtNum(sum.events_total), { stat: 'events_total' }));
    const states = ['handshaking', 'active', 'terminating', 'archived'];
    const other = Object.keys(sum.sessions_by_state).filter((k) => !states.includes(k));
    fill(charts, 
      panel('Sessions by state', barChart([...states, ...other].map((k) => ({ label: k, key: k, value: sum.sessions_by_state[k] || 0 })), { id: 'sessions-by-state', title: 'Sessions by state' })),
      panel('Agents by ring', barChart([0, 1, 2, 3].map((r) => ({ label: RING_NAMES[r], key: String(r), value: sum.agents_by_ring[String(r)] || 0, color: RING_COLORS[r] })), { id: 'agents-by-ring', title: 'Agents by ring' })),
      panel('Sagas by state', barChart(Object.entries(sum.sagas_by_state).map(([k, v]) => ({ label: k, key: k, value: v })), { id: 'sagas-by-state', title: 'Sagas by state' })));
    const last = (a) => (a.length ? a[a.length - 1] : 0);
    fill(ratePanel, h('h2', {}, 'Decisions per second'),
      h('p', { class: 'small muted' }, `now: ${last(allowed).toFixed(2)} allowed/s, ${last(denied).toFixed(2)} denied/s · totals ${fmtNum(sum.decisions.allowed)} / ${fmtNum(sum.decisions.denied)}`),
      lineChart([{ label: 'allowed', color: 'var(--ok)', values: allowed }, { label: 'denied', color: 'var(--bad)', values: denied }], { xLabel: `last ${POINTS} readings (2 s apart)`, title: 'decisions per second' }),
      legend([['allowed', 'var(--ok)'], ['denied', 'var(--bad)']]),
      Object.keys(sum.decisions.denied_by_reason).length
        ? h('p', { class: 'small' }, 'Denied by reason: ', Object.entries(sum.decisions.denied_by_reason).map(([k, v]) => badge(`${k}: ${v}`, 'bad')))
        : null);
    const rows = denials.slice().reverse().map((e) => [
      h('span', { class: 'small nowrap', title: fmtTime(e.timestamp) }, fmtTime(e.timestamp).slice(11)),
      e.session_id ? link(`/sessions/${enc(e.session_id)}`, e.session_id, { class: 'mono small' }) : '–',
      h('span', { class: 'mono small agent' }, e.agent_did || '–'),
      badge((e.payload && e.payload.code) || 'denied', 'bad'),
      h('span', { class: 'small' }, (e.payload && (e.payload.reason || e.payload.kind)) || ''),
    ]);
    fill(denialsPanel, h('h2', {}, 'Recent denials'),
      rows.length ? table(['When', 'Session', 'Agent', 'Code', 'Reason'], rows, { 'data-testid': 'denials' }) : h('p', { class: 'muted' }, 'No denials yet.'));
    ctx.setLive(`updated ${fmtTime(Date.now()).slice(11)}`);
  }
  await refresh();
  ctx.every(2000, refresh);
}
