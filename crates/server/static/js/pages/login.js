import { h, clear } from '../dom.js';
import { login, flash, takeNext } from '../api.js';
import { navigate } from '../app.js';

export default async function render(root) {
  const msg = flash();
  const kind = sessionStorage.getItem('ahv.flashKind') || '';
  sessionStorage.removeItem('ahv.flashKind');
  const note = h('div', { class: `flash ${kind}`, role: 'alert', 'data-testid': 'login-message', hidden: !msg }, msg || '');
  const input = h('input', { type: 'password', name: 'token', id: 'token', autocomplete: 'off', spellcheck: 'false', placeholder: 'admin token', required: true, 'aria-label': 'Admin token' });
  const btn = h('button', { type: 'submit' }, 'Log in');
  const form = h('form', { method: 'post', action: '/login' }, input, btn);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    try {
      await login(input.value);
      input.value = '';
      navigate(takeNext(), true);
    } catch (e) {
      note.hidden = false;
      note.className = 'flash';
      note.textContent = e.status === 401 ? `Login refused: ${e.message}.` : `Login failed: ${e.message}`;
      btn.disabled = false;
      input.select();
    }
  });
  clear(root).appendChild(h('div', { class: 'login panel' },
    h('h1', {}, h('img', { src: '/assets/icon.svg', alt: '', width: 26, height: 26 }), 'agent-hypervisor'),
    h('p', { class: 'sub' }, 'Enter the admin token to open the dashboard. It is sent once, in the body of this form, and exchanged for a session cookie.'),
    note, form));
  input.focus();
}
