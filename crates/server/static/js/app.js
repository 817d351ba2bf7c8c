// The dashboard shell: client-side routing over the page paths the server serves, theme
// switching, logout, and a per-page context whose timers and streams stop on navigation.

import { clear, h } from './dom.js';
import { setUnauthorizedHandler, flash, logout, rememberNext, forgetCsrf } from './api.js';

const ROUTES = [
  [/^\/login$/, () => import('./pages/login.js')],
  [/^\/$/, () => import('./pages/overview.js')],
  [/^\/sessions$/, () => import('./pages/sessions.js')],
  [/^\/sessions\/([^/]+)$/, () => import('./pages/session.js')],
  [/^\/rings$/, () => import('./pages/rings.js')],
  [/^\/sagas$/, () => import('./pages/sagas.js')],
  [/^\/sagas\/([^/]+)$/, () => import('./pages/saga.js')],
  [/^\/liability$/, () => import('./pages/liability.js')],
  [/^\/events$/, () => import('./pages/events.js')],
  [/^\/audit$/, () => import('./pages/audit.js')],
];

const main = document.getElementById('main');
const top = document.getElementById('top');
let current = null;
let generation = 0;

/** What a page gets: timers and cleanups tied to its lifetime. */
function makeContext() {
  const cleanups = [];
  const ctx = {
    alive: true,
    every(ms, fn) {
      let busy = false;
      const id = setInterval(async () => {
        if (busy || !ctx.alive) return;
        busy = true;
        try { await fn(); } catch (e) { if (e.status !== 401) console.warn(e); } finally { busy = false; }
      }, ms);
      cleanups.push(() => clearInterval(id));
    },
    onCleanup(fn) { cleanups.push(fn); },
    setLive(text) { document.getElementById('live').textContent = text || ''; },
    dispose() { ctx.alive = false; for (const f of cleanups.splice(0)) { try { f(); } catch { /* ignore */ } } },
  };
  return ctx;
}

export function navigate(path, replace = false) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

async function render() {
  const gen = ++generation;
  if (current) current.dispose();
  const ctx = makeContext();
  current = ctx;
  ctx.setLive('');
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const isLogin = path === '/login';
  top.hidden = isLogin;
  for (const a of document.querySelectorAll('[data-nav]')) {
    const n = a.dataset.nav;
    a.classList.toggle('active', n === '/' ? path === '/' : path === n || path.startsWith(`${n}/`));
  }
  const route = ROUTES.find(([re]) => re.test(path));
  if (!route) {
    clear(main).appendChild(h('div', { class: 'notfound', 'data-testid': 'not-found' }, h('div', { class: 'big' }, '404'), h('h1', {}, 'Page not found')));
    return;
  }
  const params = route[0].exec(path).slice(1).map(decodeURIComponent);
  try {
    const mod = await route[1]();
    if (gen !== generation) return;
    clear(main);
    await mod.default(main, params, ctx);
  } catch (e) {
    if (gen !== generation || e.status === 401) return;
    console.error(e);
    clear(main).appendChild(h('div', { class: 'flash', role: 'alert' }, `Could not load this page: ${e.message}`));
  }
}

setUnauthorizedHandler((detail) => {
  if (location.pathname === '/login') return;
  forgetCsrf();
  flash(`Please log in again: ${detail || 'not logged in'}.`);
  rememberNext(location.pathname + location.search);
  navigate('/login', true);
});

document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[data-link]');
  if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', render);

function applyTheme(t) {
  if (t === 'light' || t === 'dark') document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
}
applyTheme(localStorage.getItem('ahv.theme'));
document.getElementById('theme').addEventListener('click', () => {
  const cur = document.documentElement.dataset.theme
    || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
  const next = cur === 'dark' ? 'light' : 'dark';
  localStorage.setItem('ahv.theme', next);
  applyTheme(next);
});
document.getElementById('logout').addEventListener('click', async () => {
  await logout();
  flash('You are logged out.');
  sessionStorage.setItem('ahv.flashKind', 'info');
  navigate('/login');
});

render();
