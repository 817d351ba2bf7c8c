// DOM helpers. Data only ever reaches the page as text nodes or attribute values set with
// setAttribute/textContent (never innerHTML), so markup inside agent DIDs, paths or payloads
// is shown literally and cannot run.

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    // Styles go through the CSSOM (allowed by the CSP, unlike style attributes).
    else if (k === 'style') el.style.cssText = v;
    else if ((k === 'fill' || k === 'stroke') && String(v).includes('var(')) el.style[k] = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

/** An HTML element: h('td', {class: 'num'}, 'text', child, …). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replaces the children of `el` (null/false children are skipped, unlike Element.append). */
export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

export function fmtNum(x, digits = 0) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return Number(x).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtSigma(x) {
  return x === null || x === undefined ? '–' : Number(x).toFixed(3);
}

/** A time from RFC 3339 text or epoch milliseconds, as local `YYYY-MM-DD HH:MM:SS`. */
export function fmtTime(t) {
  if (t === null || t === undefined) return '–';
  const d = typeof t === 'number' ? new Date(t) : new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function toMs(t) {
  if (t === null || t === undefined) return null;
  if (typeof t === 'number') return t;
  const v = Date.parse(t);
  return Number.isNaN(v) ? null : v;
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

export function badge(text, kind = 'muted', title) {
  return h('span', { class: `badge ${kind}`, title }, text);
}

export function ringBadge(r) {
  const n = Number(r);
  return h('span', { class: `ring r${n}`, title: ['Root', 'Privileged', 'Standard', 'Sandbox'][n] || '' }, String(n));
}

const STATE_KIND = {
  active: 'ok', handshaking: 'info', created: 'info', terminating: 'warn', archived: 'muted',
  running: 'info', completed: 'ok', compensating: 'warn', compensated: 'warn', failed: 'bad', escalated: 'bad',
  pending: 'muted', executing: 'info', committed: 'ok', compensation_failed: 'bad', skipped: 'muted',
  allowed: 'ok', denied: 'bad', revoked: 'muted', expired: 'muted',
};

export function stateBadge(st) {
  return badge(String(st), STATE_KIND[st] || 'muted');
}

/** A table with a header row; `rows` are arrays of cells (strings, nodes or {class, v}). */
export function table(columns, rows, attrs = {}) {
  const thead = h('thead', {}, h('tr', {}, columns.map((c) => (typeof c === 'string' ? h('th', {}, c) : h('th', { class: c.class }, c.label)))));
  const tbody = h('tbody', {}, rows.map((r) => (r instanceof Node ? r : h('tr', {}, r.map((cell) => {
    if (cell && typeof cell === 'object' && !(cell instanceof Node) && !Array.isArray(cell) && 'v' in cell) {
      return h('td', { class: cell.class, title: cell.title, dataset: cell.dataset }, cell.v);
    }
    return h('td', {}, cell);
  })))));
  return h('div', { class: 'table-wrap' }, h('table', attrs, thead, tbody));
}

/** Page controls: calls onPage(newPage). Pages are 0-based. */
export function pager(total, page, size, onPage) {
  const pages = Math.max(1, Math.ceil(total / size));
  const first = total === 0 ? 0 : page * size + 1;
  const last = Math.min(total, (page + 1) * size);
  return h('div', { class: 'pager' },
    h('button', { type: 'button', class: 'ghost', disabled: page <= 0, onclick: () => onPage(page - 1), 'data-testid': 'prev' }, '‹ Prev'),
    h('span', { 'data-testid': 'page-info' }, `${first}–${last} of ${fmtNum(total)} · page ${page + 1}/${pages}`),
    h('button', { type: 'button', class: 'ghost', disabled: page >= pages - 1, onclick: () => onPage(page + 1), 'data-testid': 'next' }, 'Next ›'));
}

export function panel(title, ...children) {
  return h('section', { class: 'panel' }, title ? h('h2', {}, title) : null, ...children);
}

export function card(label, value, attrs = {}) {
  return h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: `value ${attrs.kind || ''}`, 'data-stat': attrs.stat }, value));
}

export function link(href, text, attrs = {}) {
  return h('a', { href, 'data-link': '', ...attrs }, text);
}

export function notFound(root, what, id) {
  fill(root, h('div', { class: 'notfound', 'data-testid': 'not-found' },
    h('div', { class: 'big' }, '404'),
    h('h1', { style: null }, `${what} not found`),
    h('p', { class: 'muted break' }, `No ${what.toLowerCase()} with id “${id}” exists (it may have been archived and evicted).`),
    link(what === 'Saga' ? '/sagas' : '/sessions', `Back to ${what.toLowerCase()}s`)));
}
