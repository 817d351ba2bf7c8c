// Calls to the server's API with the dashboard session cookie (sent by the browser; the token
// itself is only ever sent once, in the login POST body). State-changing calls carry the CSRF
// token the login gave us. A 401 sends the page back to the login with a message.

const CSRF_KEY = 'ahv.csrf';
const FLASH_KEY = 'ahv.flash';
const NEXT_KEY = 'ahv.next';

export class HttpError extends Error {
  constructor(status, code, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export function flash(msg) {
  if (msg === undefined) {
    const m = sessionStorage.getItem(FLASH_KEY);
    sessionStorage.removeItem(FLASH_KEY);
    return m;
  }
  sessionStorage.setItem(FLASH_KEY, msg);
  return msg;
}

export function rememberNext(path) { sessionStorage.setItem(NEXT_KEY, path); }
export function takeNext() {
  const p = sessionStorage.getItem(NEXT_KEY);
  sessionStorage.removeItem(NEXT_KEY);
  return p && p.startsWith('/') && !p.startsWith('//') && p !== '/login' ? p : '/';
}

async function csrfToken() {
  let t = sessionStorage.getItem(CSRF_KEY);
  if (!t) {
    const r = await fetch('/api/v1/dashboard/session', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (r.ok) {
      t = (await r.json()).csrf;
      sessionStorage.setItem(CSRF_KEY, t);
    }
  }
  return t || '';
}

async function errorOf(r) {
  let code = 'error';
  let detail = `HTTP ${r.status}`;
  try {
    const b = await r.json();
    code = b.code || code;
    detail = b.detail || detail;
  } catch { /* not JSON */ }
  return new HttpError(r.status, code, detail);
}

/** GET (or another method with a JSON body) → parsed JSON; `{text: true}` → the raw text. */
export async function api(path, opts = {}) {
  const method = opts.method || 'GET';
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-AHV-CSRF'] = await csrfToken();
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const r = await fetch(path, { method, headers, body, credentials: 'same-origin', signal: opts.signal, cache: 'no-store' });
  if (r.status === 401) {
    const e = await errorOf(r);
    onUnauthorized(e.message);
    throw e;
  }
  if (!r.ok) throw await errorOf(r);
  return opts.text ? r.text() : r.json();
}

export async function login(token) {
  const r = await fetch('/api/v1/dashboard/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ token }),
  });
  if (!r.ok) throw await errorOf(r);
  const b = await r.json();
  sessionStorage.setItem(CSRF_KEY, b.csrf);
  return b;
}

export async function logout() {
  sessionStorage.removeItem(CSRF_KEY);
  await fetch('/api/v1/dashboard/logout', { method: 'POST', credentials: 'same-origin' }).catch(() => {});
}

export function forgetCsrf() { sessionStorage.removeItem(CSRF_KEY); }

/** Path segment encoding for ids and DIDs (`/` inside a DID becomes %2F). */
export const enc = encodeURIComponent;
