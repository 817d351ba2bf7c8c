import { h, clear, table, fmtTime, fmtSigma, fmtNum, link, badge, panel, fill } from '../dom.js';
import { api, enc } from '../api.js';
import { barChart, circleGraph, legend } from '../svg.js';

const MAX_NODES = 40;

export default async function render(root, _params, ctx) {
  const graph = panel('Vouching graph'); const expo = panel('Exposure per voucher');
  const slashes = panel('Slash history'); const risk = panel('Ledger risk profiles'); const bonds = panel('Bonds');
  root.append(h('h1', {}, 'Liability and trust'), h('p', { class: 'sub' }, 'Who vouches for whom, what it puts at stake, and what slashes did.'),
    h('div', { class: 'grid wide' }, graph, expo), slashes, h('div', { class: 'grid wide' }, risk, bonds));

  async function refresh() {
    const d = await api('/api/v1/dashboard/liability');
    if (!ctx.alive) return;
    const slashed = new Set(d.slashes.map((x) => x.vouchee));
    // Graph: active bonds first; parallel bonds between the same pair summed.
    const pairs = new Map();
    for (const v of d.vouches) {
      const k = `${v.voucher_did}\n${v.vouchee_did}`;
      const e = pairs.get(k) || { from: v.voucher_did, to: v.vouchee_did, amount: 0, active: false, n: 0 };
      if (v.is_active) { e.amount += v.bonded_amount; e.active = true; }
      e.n += 1;
      pairs.set(k, e);
    }
    const ids = [];
    for (const e of [...pairs.values()].sort((a, b) => b.active - a.active)) for (const x of [e.from, e.to]) if (!ids.includes(x)) ids.push(x);
    const nodes = ids.slice(0, MAX_NODES).map((x) => {
      const a = d.agents.find((p) => p.agent_did === x);
      const rec = a && a.risk_profile.recommendation;
      return { id: x, label: x, slashed: slashed.has(x), title: `${x} · σ ${fmtSigma(a && a.sigma_raw)} · risk ${a ? a.risk_profile.risk_score : '–'}`,
        color: rec === 'deny' ? 'var(--bad)' : rec === 'probation' ? 'var(--warn)' : 'var(--accent)' };
    });
    const edges = [...pairs.values()].map((e) => ({ ...e, label: e.active ? e.amount.toFixed(3) : 'released', weight: e.amount * 10 }));
    fill(graph, h('h2', {}, `Vouching graph (${nodes.length} agents, ${d.vouches.filter((v) => v.is_active).length} active bonds)`),
      circleGraph(nodes, edges, { id: 'vouch-graph', title: 'vouching graph' }),
      legend([['active bond (σ bonded)', 'var(--accent)'], ['released bond', 'var(--muted)'], ['slashed agent (red ring)', 'var(--bad)'], ['probation advice', 'var(--warn)']]),
      ids.length > MAX_NODES ? h('p', { class: 'small muted' }, `Showing ${MAX_NODES} of ${ids.length} agents.`) : null);
    fill(expo, h('h2', {}, 'Exposure per voucher'),
      barChart(d.exposure.slice().sort((a, b) => b.exposure - a.exposure).slice(0, 15).map((x) => ({ label: x.voucher_did.length > 24 ? `${x.voucher_did.slice(0, 23)}…` : x.voucher_did, key: x.voucher_did, value: Number(x.exposure.toFixed(4)) })), { id: 'exposure', labelWidth: 180, digits: 4 }),
      table(['Voucher', { label: 'Exposure', class: 'num' }, { label: 'Active / total bonds', class: 'num' }], d.exposure.map((x) => h('tr', { 'data-voucher': x.voucher_did }, [
        h('td', { class: 'mono small wrap' }, x.voucher_did), h('td', { class: 'num', 'data-field': 'exposure' }, x.exposure.toFixed(4)), h('td', { class: 'num' }, `${x.active_bonds} / ${x.bonds_total}`)])), { 'data-testid': 'exposure' }));
    const rows = d.slashes.slice().reverse().slice(0, 100).map((x) => h('tr', { 'data-slash': x.slash_id }, [
      h('td', { class: 'small' }, fmtTime(x.at)),
      h('td', { class: 'mono small wrap' }, x.cascade_depth ? `${'↳ '.repeat(x.cascade_depth)}` : '', x.vouchee),
      h('td', {}, x.cascade_depth ? badge(`cascade ${x.cascade_depth}`, 'warn') : badge('original', 'bad')),
      h('td', { class: 'num' }, `${fmtSigma(x.vouchee_sigma_before)} → ${fmtSigma(x.vouchee_sigma_after)}`),
      h('td', { class: 'small' }, x.clips.length ? x.clips.map((c) => h('div', { class: 'mono' }, `${c.voucher}: ${fmtSigma(c.before)} → ${fmtSigma(c.after)}`)) : '–'),
      h('td', { class: 'small wrap' }, x.reason),
      h('td', {}, link(`/sessions/${enc(x.session_id)}`, x.session_id, { class: 'mono small' }))]));
    fill(slashes, h('h2', {}, `Slash history (${fmtNum(d.slashes_total)})`),
      rows.length ? table(['When', 'Agent', 'Kind', 'σ', 'Vouchers clipped', 'Reason', 'Session'], rows, { 'data-testid': 'slashes' }) : h('p', { class: 'muted' }, 'No slashes.'));
    fill(risk, h('h2', {}, 'Ledger risk profiles'),
      table(['Agent', { label: 'σ held', class: 'num' }, { label: 'Risk', class: 'num' }, { label: 'Slashes', class: 'num' }, { label: 'Quarantines', class: 'num' }, { label: 'Clean', class: 'num' }, 'Advice'],
        d.agents.slice(0, 300).map((a) => h('tr', { 'data-agent': a.agent_did }, [
          h('td', { class: 'mono small wrap' }, a.agent_did), h('td', { class: 'num' }, fmtSigma(a.sigma_raw)), h('td', { class: 'num' }, String(a.risk_profile.risk_score)),
          h('td', { class: 'num' }, String(a.risk_profile.slash_count)), h('td', { class: 'num' }, String(a.risk_profile.quarantine_count)),
          h('td', { class: 'num' }, String(a.risk_profile.clean_session_count)),
          h('td', {}, badge(a.risk_profile.recommendation, a.risk_profile.recommendation === 'admit' ? 'ok' : a.risk_profile.recommendation === 'deny' ? 'bad' : 'warn'))])), { 'data-testid': 'risk' }));
    fill(bonds, h('h2', {}, `Bonds (${fmtNum(d.vouches_total)})`),
      table(['Voucher → vouchee', { label: 'Bonded σ', class: 'num' }, 'State', 'Created'], d.vouches.slice().reverse().slice(0, 200).map((v) => h('tr', { 'data-vouch': v.vouch_id }, [
        h('td', { class: 'mono small wrap' }, `${v.voucher_did} → ${v.vouchee_did}`), h('td', { class: 'num' }, v.bonded_amount.toFixed(4)),
        h('td', {}, v.is_active ? badge('active', 'ok') : badge('released', 'muted')), h('td', { class: 'small' }, fmtTime(v.created_at))])), { 'data-testid': 'bonds' }));
  }
  await refresh();
  ctx.every(4000, refresh);
}
