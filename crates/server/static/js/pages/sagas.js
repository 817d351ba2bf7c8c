import { h, clear, table, pager, fmtTime, fmtNum, link, stateBadge, panel, fill } from '../dom.js';
import { api, enc } from '../api.js';
import { barChart } from '../svg.js';

const PAGE = 50;
const STATES = ['running', 'compensating', 'completed', 'compensated', 'failed', 'escalated'];

export default async function render(root, _params, ctx) {
  let state = new URLSearchParams(location.search).get('state') || '';
  let page = 0; let all = [];
  const chart = panel('Sagas by state');
  const chips = h('div', { class: 'toolbar' });
  const body = h('div');
  root.append(h('h1', {}, 'Sagas'), h('p', { class: 'sub' }, 'Multi-step work with compensation, newest last.'),
    chart, panel(null, chips, body));

  function draw() {
    const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
    for (const g of all) counts[g.state] = (counts[g.state] || 0) + 1;
    fill(chart, h('h2', {}, 'Sagas by state'), barChart(Object.entries(counts).map(([k, v]) => ({ label: k, key: k, value: v })), { id: 'sagas-by-state' }));
    fill(chips, ...['', ...STATES].map((s) => h('button', {
      type: 'button', class: s === state ? '' : 'ghost', 'data-state': s || 'all',
      onclick: () => { state = s; page = 0; history.replaceState(null, '', s ? `/sagas?state=${s}` : '/sagas'); draw(); },
    }, `${s || 'all'} (${s ? counts[s] || 0 : all.length})`)));
    const rows = all.filter((g) => !state || g.state === state);
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    if (page >= pages) page = pages - 1;
    fill(body, table(['Saga', 'Name', 'Session', 'State', 'Steps', 'Created', 'Error'],
      rows.slice(page * PAGE, (page + 1) * PAGE).map((g) => [
        link(`/sagas/${enc(g.saga_id)}`, g.saga_id, { class: 'mono' }), g.name || '–',
        link(`/sessions/${enc(g.session_id)}`, g.session_id, { class: 'mono small' }), stateBadge(g.state),
        `${g.steps.filter((x) => x.state === 'committed').length}/${g.steps.length}`, fmtTime(g.created_at),
        h('span', { class: 'small' }, g.error || '')]), { 'data-testid': 'sagas-table' }),
    pager(rows.length, page, PAGE, (p) => { page = p; draw(); }));
    void fmtNum;
  }
  async function refresh() {
    all = await api('/api/v1/sagas');
    if (ctx.alive) draw();
  }
  await refresh();
  ctx.every(3000, refresh);
}
