import { h, clear, table, pager, fmtTime, fmtSigma, fmtNum, fmtDuration, link, stateBadge, ringBadge, badge, panel, fill } from '../dom.js';
import { api, enc } from '../api.js';
import { barChart } from '../svg.js';

const RING_COLORS = ['var(--ring0)', 'var(--ring1)', 'var(--ring2)', 'var(--ring3)'];
const RING_NAMES = ['0 Root', '1 Privileged', '2 Standard', '3 Sandbox'];
const PAGE = 50;

export default async function render(root, _params, ctx) {
  const dist = panel('Ring distribution');
  const breakers = panel('Breach detector');
  const elev = panel('Elevations');
  const parts = panel('Participants');
  root.append(h('h1', {}, 'Execution rings'), h('p', { class: 'sub' }, 'Active participants of live sessions, temporary elevations and the breach detector.'),
    h('div', { class: 'grid' }, dist, breakers), elev, parts);
  let data = null; let fetchedAt = 0; let page = 0;

  function drawElevations() {
    if (!data) return;
    const now = Date.now();
    const order = { active: 0, pending: 1 };
    const rows = data.elevations.slice().sort((a, b) => (order[a.status] ?? 9) - (order[b.status] ?? 9)).slice(0, 200);
    fill(elev, h('h2', {}, `Elevations (${data.elevations.filter((e) => e.status === 'active').length} active, ${data.elevations.filter((e) => e.status === 'pending').length} pending)`),
      rows.length ? table(['Elevation', 'Agent', 'Session', 'Ring', 'Status', 'Remaining TTL', 'Reason'], rows.map((e) => [
        h('span', { class: 'mono small' }, e.elevation_id), h('span', { class: 'mono small wrap' }, e.agent),
        link(`/sessions/${enc(e.session_id)}`, e.session_id, { class: 'mono small' }),
        h('span', {}, ringBadge(e.original_ring), ' → ', ringBadge(e.elevated_ring)), stateBadge(e.status),
        { v: e.status === 'active' ? fmtDuration(Math.max(0, e.remaining_ms - (now - fetchedAt))) : '–', class: 'num', dataset: { ttl: e.elevation_id } },
        h('span', { class: 'small' }, e.reason)]), { 'data-testid': 'elevations' })
        : h('p', { class: 'muted' }, 'No elevations.'));
  }

  function drawParts() {
    const rows = data.participants;
    const shown = rows.slice(page * PAGE, (page + 1) * PAGE);
    fill(parts, h('h2', {}, `Participants (${fmtNum(data.participants_total)})`),
      table(['Agent', 'Session', 'Ring', { label: 'σ_raw', class: 'num' }, { label: 'σ_eff', class: 'num' }, 'Status', { label: 'Calls (window / total)', class: 'num' }],
        shown.map((p) => [
          h('span', { class: 'mono small wrap' }, p.agent_did), link(`/sessions/${enc(p.session_id)}`, p.session_id, { class: 'mono small' }),
          h('span', {}, ringBadge(p.ring), p.effective_ring !== p.ring ? [' → ', ringBadge(p.effective_ring)] : null),
          { v: fmtSigma(p.sigma_raw), class: 'num' }, { v: fmtSigma(p.sigma_eff), class: 'num' },
          [p.quarantined ? badge('quarantined', 'bad') : null, p.elevated ? badge('elevated', 'info') : null, p.probation ? badge('probation', 'warn') : null, p.breaker_tripped ? badge('breaker tripped', 'bad') : null],
          { v: `${p.breach.window_calls} / ${p.breach.total_calls}`, class: 'num' }]), { 'data-testid': 'ring-participants' }),
      pager(rows.length, page, PAGE, (p) => { page = p; drawParts(); }));
  }

  async function refresh() {
    data = await api('/api/v1/dashboard/rings');
    fetchedAt = Date.now();
    if (!ctx.alive) return;
    fill(dist, h('h2', {}, 'Ring distribution'),
      barChart([0, 1, 2, 3].map((r) => ({ label: RING_NAMES[r], key: String(r), value: data.distribution[String(r)] || 0, color: RING_COLORS[r] })), { id: 'ring-distribution', title: 'Ring distribution' }));
    const tripped = data.participants.filter((p) => p.breaker_tripped);
    fill(breakers, h('h2', {}, 'Breach detector'),
      h('p', {}, `${fmtNum(data.breach_count)} breaches detected; ${tripped.length} breaker(s) tripped. Cooldown ${fmtDuration((data.breaker_policy.cooldown.secs || 0) * 1000)}, ${data.breaker_policy.auto_reset ? 'auto reset' : 'manual reset only'}.`),
      tripped.length ? table(['Agent', 'Session', 'Since'], tripped.map((p) => [h('span', { class: 'mono small wrap' }, p.agent_did), h('span', { class: 'mono small' }, p.session_id), fmtTime(p.breach.tripped_at)]), { 'data-testid': 'breakers' }) : null,
      data.breaches.length ? table(['When', 'Agent', 'Severity', 'Details'], data.breaches.slice(-10).reverse().map((b) => [
        fmtTime(b.timestamp), h('span', { class: 'mono small wrap' }, b.agent), badge(b.severity, 'bad'), h('span', { class: 'small' }, b.details)]))
        : h('p', { class: 'muted' }, 'No breach events.'));
    drawElevations();
    drawParts();
  }
  await refresh();
  ctx.every(3000, refresh);
  ctx.every(1000, async () => drawElevations());
}
