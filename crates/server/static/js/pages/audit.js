import { h, clear, table, fmtNum, panel, badge, fill } from '../dom.js';
import { api } from '../api.js';
import { parseCheckpoint, verifyConsistency, verifyNoteSignature, hexToBytes, bytesToHex } from '../merkle.js';

export default async function render(root, _params, ctx) {
  const keyP = panel('Signing key'); const cpP = panel('Signed checkpoints'); const verP = panel('Verify consistency');
  root.append(h('h1', {}, 'Audit'), h('p', { class: 'sub' }, 'Signed checkpoints of the hypervisor log (C2SP signed notes), checked in this page.'),
    keyP, verP, cpP);
  const [key] = await Promise.all([api('/api/v1/audit/public-key')]);
  fill(keyP, h('h2', {}, 'Signing key'), h('dl', { class: 'kv' },
    h('dt', {}, 'Origin'), h('dd', { class: 'mono' }, key.origin),
    h('dt', {}, 'Verifier key'), h('dd', { class: 'mono', 'data-testid': 'vkey' }, key.vkey),
    h('dt', {}, 'Ed25519 public key'), h('dd', { class: 'mono' }, key.public_key_hex)));

  const oldSel = h('select', { 'aria-label': 'Older checkpoint', 'data-testid': 'old-checkpoint' });
  const newSel = h('select', { 'aria-label': 'Newer checkpoint', 'data-testid': 'new-checkpoint' });
  const result = h('div', { 'data-testid': 'consistency-result', class: 'row-flex' });
  let cps = [];
  const verifyBtn = h('button', { type: 'button', 'data-testid': 'verify-consistency', onclick: async () => {
    const a = cps[Number(oldSel.value)]; const b = cps[Number(newSel.value)];
    fill(result, 'checking…');
    try {
      const [old, neu] = a.size <= b.size ? [a, b] : [b, a];
      const p = await api(`/api/v1/audit/consistency?old=${old.size}&new=${neu.size}`);
      const r = await verifyConsistency(old.size, neu.size, p.proof.map(hexToBytes), old.root, neu.root);
      fill(result, h('span', { class: `check ${r.ok ? 'ok' : 'bad'}`, 'data-result': r.ok ? 'ok' : 'bad' }, r.ok ? '✓ consistent' : '✗ NOT consistent'),
        h('span', { class: 'small muted' }, `tree ${old.size} → ${neu.size}, ${p.proof.length} proof hashes: ${r.why}. Roots are taken from the signed notes, not from the proof response.`));
    } catch (e) {
      fill(result, h('span', { class: 'check bad', 'data-result': 'bad' }, `✗ ${e.message}`));
    }
  } }, 'Verify');
  const signBtn = h('button', { type: 'button', class: 'ghost', 'data-testid': 'sign-now', onclick: async () => {
    signBtn.disabled = true;
    try { await api('/api/v1/admin/checkpoint', { method: 'POST' }); await refresh(); } catch (e) { fill(result, h('span', { class: 'check bad' }, e.message)); } finally { signBtn.disabled = false; }
  } }, 'Sign a checkpoint now');
  fill(verP, h('h2', {}, 'Verify consistency'),
    h('p', { class: 'small muted' }, 'Fetches a consistency proof between two checkpoint sizes and checks it here (RFC 9162 §2.1.4.2) against the roots in the two signed notes.'),
    h('div', { class: 'toolbar' }, 'from', oldSel, 'to', newSel, verifyBtn, signBtn), result);

  let lastCount = -1;
  async function refresh() {
    const c = await api('/api/v1/audit/checkpoints');
    if (!ctx.alive || c.checkpoints.length === lastCount) return;
    lastCount = c.checkpoints.length;
    cps = c.checkpoints.map((x) => ({ ...parseCheckpoint(x.note), note: x.note }));
    const sigs = await Promise.all(cps.map((cp) => verifyNoteSignature(cp, key.public_key_hex)));
    const keepOld = oldSel.value; const keepNew = newSel.value;
    for (const sel of [oldSel, newSel]) fill(sel, ...cps.map((cp, i) => h('option', { value: String(i) }, `size ${cp.size}`)));
    if (cps.length) {
      oldSel.value = keepOld && Number(keepOld) < cps.length ? keepOld : '0';
      newSel.value = keepNew && Number(keepNew) < cps.length && Number(keepNew) !== cps.length - 2 ? keepNew : String(cps.length - 1);
    }
    verifyBtn.disabled = cps.length === 0;
    const rows = cps.map((cp, i) => [
      { v: fmtNum(cp.size), class: 'num' }, h('span', { class: 'mono small' }, bytesToHex(cp.root)),
      sigs[i] === null ? badge('Ed25519 unavailable in this browser', 'muted') : sigs[i] ? badge('signature ✓', 'ok') : badge('signature ✗', 'bad'),
      h('pre', { class: 'small' }, cp.note)]).reverse();
    fill(cpP, h('h2', {}, `Signed checkpoints (${cps.length}; log now ${fmtNum(c.tree_size)} entries)`),
      h('p', { class: 'small muted' }, 'Current root: ', h('span', { class: 'mono' }, c.root)),
      cps.length ? table([{ label: 'Size', class: 'num' }, 'Root', 'Signature', 'Note'], rows, { 'data-testid': 'checkpoints' }) : h('p', { class: 'muted' }, 'No checkpoint signed yet.'));
  }
  await refresh();
  ctx.every(3000, refresh);
}
