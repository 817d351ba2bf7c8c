// Hand-written SVG charts. Labels are text nodes; colours come from CSS variables so both
// themes read well.

import { s, h, fmtNum } from './dom.js';

const PALETTE = ['var(--accent)', 'var(--ok)', 'var(--warn)', 'var(--bad)', 'var(--info)', 'var(--ring0)', 'var(--ring3)'];

/** Horizontal bars: data = [{label, value, color?}]. */
export function barChart(data, opts = {}) {
  const w = opts.width || 560;
  const barH = 20; const gap = 8; const labelW = opts.labelWidth || 120; const pad = 6;
  const hgt = Math.max(1, data.length) * (barH + gap) + pad;
  const max = Math.max(1, ...data.map((d) => d.value));
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': opts.title || 'bar chart', 'data-chart': opts.id });
  if (data.length === 0) {
    svg.appendChild(s('text', { x: 4, y: 16, class: 'muted-text' }, 'no data'));
    return svg;
  }
  const room = w - labelW - 60;
  data.forEach((d, k) => {
    const y = pad + k * (barH + gap);
    const bw = d.value > 0 ? Math.max(2, (d.value / max) * room) : 0;
    svg.appendChild(s('text', { x: labelW - 8, y: y + barH / 2 + 4, 'text-anchor': 'end' }, d.label));
    svg.appendChild(s('rect', { x: labelW, y, width: room, height: barH, rx: 4, class: 'bg' }));
    svg.appendChild(s('rect', { x: labelW, y, width: bw, height: barH, rx: 4, fill: d.color || PALETTE[k % PALETTE.length] },
      s('title', {}, `${d.label}: ${d.value}`)));
    svg.appendChild(s('text', { x: labelW + bw + 6, y: y + barH / 2 + 4, 'data-bar': d.key ?? d.label }, fmtNum(d.value, opts.digits || 0)));
  });
  return svg;
}

/** A line chart of several series over the same x points: series = [{label, color, values}]. */
export function lineChart(series, opts = {}) {
  const w = opts.width || 520; const hgt = opts.height || 150; const padL = 40; const padB = 18; const padT = 8;
  const n = Math.max(2, ...series.map((x) => x.values.length));
  const max = Math.max(1, ...series.flatMap((x) => x.values));
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': opts.title || 'line chart' });
  const X = (k) => padL + (k / (n - 1)) * (w - padL - 6);
  const Y = (v) => padT + (1 - v / max) * (hgt - padT - padB);
  for (const frac of [0, 0.5, 1]) {
    const v = max * frac;
    svg.appendChild(s('line', { x1: padL, x2: w - 6, y1: Y(v), y2: Y(v), class: 'grid-line' }));
    svg.appendChild(s('text', { x: padL - 6, y: Y(v) + 4, 'text-anchor': 'end', class: 'muted-text' }, v >= 10 ? fmtNum(v) : v.toFixed(1)));
  }
  svg.appendChild(s('text', { x: padL, y: hgt - 4, class: 'muted-text' }, opts.xLabel || ''));
  for (const ser of series) {
    if (ser.values.length < 2) continue;
    const d = ser.values.map((v, k) => `${k === 0 ? 'M' : 'L'}${X(k + n - ser.values.length).toFixed(1)},${Y(v).toFixed(1)}`).join(' ');
    svg.appendChild(s('path', { d, fill: 'none', stroke: ser.color, 'stroke-width': 2 }));
  }
  return svg;
}

export function legend(items) {
  return h('div', { class: 'legend' }, items.map(([label, color]) => h('span', {}, h('i', { style: `background:${color}` }), label)));
}

/**
 * A directed graph on a circle: nodes = [{id, label, color, slashed}], edges = [{from, to, label, active}].
 * Parallel edges between the same pair are merged by the caller.
 */
export function circleGraph(nodes, edges, opts = {}) {
  const w = opts.width || 760; const hgt = opts.height || 440;
  const cx = w / 2; const cy = hgt / 2; const R = Math.min(w, hgt) / 2 - 50;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': opts.title || 'graph', 'data-chart': opts.id });
  const defs = s('defs', {},
    s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', fill: 'var(--accent)' })),
    s('marker', { id: 'arrow-muted', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', fill: 'var(--muted)' })));
  svg.appendChild(defs);
  if (nodes.length === 0) {
    svg.appendChild(s('text', { x: 10, y: 20, class: 'muted-text' }, 'no bonds yet'));
    return svg;
  }
  const pos = new Map();
  nodes.forEach((n, k) => {
    const a = (2 * Math.PI * k) / nodes.length - Math.PI / 2;
    pos.set(n.id, { x: cx + R * Math.cos(a), y: cy + R * Math.sin(a), a });
  });
  const nodeR = 9;
  for (const e of edges) {
    const p = pos.get(e.from); const q = pos.get(e.to);
    if (!p || !q) continue;
    const dx = q.x - p.x; const dy = q.y - p.y; const len = Math.hypot(dx, dy) || 1;
    // Curve slightly so A→B and B→A do not overlap.
    const mx = (p.x + q.x) / 2 - (dy / len) * 18; const my = (p.y + q.y) / 2 + (dx / len) * 18;
    const sx = p.x + (dx / len) * nodeR; const sy = p.y + (dy / len) * nodeR;
    const ex = q.x - (dx / len) * (nodeR + 2); const ey = q.y - (dy / len) * (nodeR + 2);
    svg.appendChild(s('path', {
      d: `M${sx.toFixed(1)},${sy.toFixed(1)} Q${mx.toFixed(1)},${my.toFixed(1)} ${ex.toFixed(1)},${ey.toFixed(1)}`,
      class: `edge ${e.active ? 'active' : 'released'}`, 'stroke-width': e.active ? 1.5 + Math.min(4, e.weight || 0) : 1.2,
      'marker-end': e.active ? 'url(#arrow)' : 'url(#arrow-muted)', 'data-edge': `${e.from}→${e.to}`,
    }, s('title', {}, `${e.from} → ${e.to}: ${e.label}`)));
    svg.appendChild(s('text', { x: mx, y: my, 'text-anchor': 'middle', class: 'muted-text' }, e.label));
  }
  for (const n of nodes) {
    const p = pos.get(n.id);
    const right = Math.cos(p.a) >= 0;
    const g = s('g', { class: `node ${n.slashed ? 'slashed' : ''}`, 'data-node': n.id });
    g.appendChild(s('circle', { cx: p.x, cy: p.y, r: nodeR, fill: n.color || 'var(--accent)' }, s('title', {}, n.title || n.id)));
    const label = n.label.length > 26 ? `${n.label.slice(0, 25)}…` : n.label;
    g.appendChild(s('text', { x: p.x + (right ? 14 : -14), y: p.y + 4, 'text-anchor': right ? 'start' : 'end' }, label));
    svg.appendChild(g);
  }
  return svg;
}
