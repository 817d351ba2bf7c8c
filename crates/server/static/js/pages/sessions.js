import { h, clear, table, pager, fmtTime, fmtNum, link, stateBadge, panel, fill } from '../dom.js';
import { api, enc } from '../api.js';

const PAGE = 50;

export default async function render(root, _params, ctx) {
  const q = new URLSearchParams(location.search);
  let state = q.get('state') || '';
  let text = q.get('q') || '';
  let page = 0;
  let all = [];
  const stateSel = h('select', { 'aria-label': 'State', 'data-testid': 'state-filter' },
    ['', 'handshaking', 'active', 'terminating', 'archived'].map((s) => h('option', { value: s }, s || 'any state')));
  stateSel.value = state;
  const search = h('input', { type: 'search', placeholder: 'filter by id, creator, state…', value: text, 'aria-label': 'Filter', 'data-testid': 'text-filter' });
  const count = h('span', { class: 'muted', 'data-testid': 'count' });
  const body = h('div');
  root.append(h('h1', {}, 'Sessions'), h('p', { class: 'sub' }, 'Every session the hypervisor holds, in creation order.'),
    panel(null, h('div', { class: 'toolbar' }, stateSel, search, count), body));

  function syncUrl() {
    const p = new URLSearchParams();
    if (state) p.set('state', state);
    if (text) p.set('q', text);
    history.replaceState(null, '', `/sessions${p.toString() ? `?${p}` : ''}`);
  }

  function draw() {
    const t = text.trim().toLowerCase();
    const rows = all.filter((x) => (!state || x.state === state)
      && (!t || x.session_id.toLowerCase().includes(t) || String(x.state).includes(t) || String(x.consistency_mode).includes(t)));
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    if (page >= pages) page = pages - 1;
    count.textContent = `${fmtNum(rows.length)} of ${fmtNum(all.length)} sessions`;
    const shown = rows.slice(page * PAGE, (page + 1) * PAGE);
    fill(body, 
      table(['Session', 'State', { label: 'Participants', class: 'num' }, 'Consistency', 'Created'], shown.map((x) => [
        link(`/sessions/${enc(x.session_id)}`, x.session_id, { class: 'mono' }),
        stateBadge(x.state),
        { v: String(x.participant_count), class: 'num' },
        x.consistency_mode,
        fmtTime(x.created_at),
      ]), { 'data-testid': 'sessions-table' }),
      pager(rows.length, page, PAGE, (p) => { page = p; draw(); }));
  }

  stateSel.addEventListener('change', () => { state = stateSel.value; page = 0; syncUrl(); draw(); });
  search.addEventListener('input', () => { text = search.value; page = 0; syncUrl(); draw(); });

  async function refresh() {
    all = await api('/api/v1/sessions');
    if (ctx.alive) draw();
  }
  await refresh();
  ctx.every(5000, refresh);
}
