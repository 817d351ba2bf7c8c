import { h, clear, table, pager, fmtTime, fmtSigma, fmtNum, link, stateBadge, ringBadge, badge, panel, notFound, toMs, fmtDuration, fill } from '../dom.js';
import { api, enc } from '../api.js';
import { parseLossless, toPlain } from '../canonical.js';
import { entryLeafHash, rootFromInclusion, hexToBytes, bytesToHex, eq } from '../merkle.js';

const AUDIT_PAGE = 50;

function participantBadges(p) {
  return [
    p.is_active ? null : badge('left', 'muted'),
    p.quarantined ? badge('quarantined', 'bad') : null,
    p.elevated ? badge('elevated', 'info') : null,
    p.probation ? badge('probation', 'warn') : null,
    p.breaker_tripped ? badge('breaker tripped', 'bad') : null,
  ];
}

/** Nested list of the VFS paths (directories first), with file metadata. */
function fileTree(files) {
  const rootNode = { dirs: new Map(), files: [] };
  for (const f of files) {
    const parts = String(f.path).split('/').filter(Boolean);
    let node = rootNode;
    for (const d of parts.slice(0, -1)) {
      if (!node.dirs.has(d)) node.dirs.set(d, { dirs: new Map(), files: [] });
      node = node.dirs.get(d);
    }
    node.files.push({ name: parts[parts.length - 1] || '/', f });
  }
  const ul = (node) => h('ul', {},
    [...node.dirs.keys()].sort().map((d) => h('li', {}, h('span', { class: 'dir' }, `▾ ${d}/`), ul(node.dirs.get(d)))),
    node.files.map(({ name, f }) => h('li', { 'data-path': f.path },
      h('span', { class: 'mono' }, name),
      h('span', { class: 'meta' }, `${fmtNum(f.size)} B · v${f.version} · by `, h('span', { class: 'mono' }, f.updated_by), ` · ${fmtTime(f.updated_at)}`, f.purged ? ' · purged' : ''))));
  const tree = ul(rootNode);
  tree.className = 'tree';
  return tree;
}

export default async function render(root, [sid], ctx) {
  let view;
  try {
    view = await api(`/api/v1/sessions/${enc(sid)}`);
  } catch (e) {
    if (e.status === 404 || e.status === 400) return notFound(root, 'Session', sid);
    throw e;
  }
  const head = h('div');
  const parts = panel('Participants');
  const files = panel('Files');
  const locks = panel('Locks');
  const sagas = panel('Sagas');
  const audit = panel('Audit log');
  root.append(head, parts, h('div', { class: 'grid' }, files, locks), sagas, audit);

  function drawHead(v) {
    fill(head, 
      h('h1', {}, 'Session ', h('span', { class: 'mono id', 'data-testid': 'session-id' }, v.session_id), stateBadge(v.state)),
      panel(null, h('dl', { class: 'kv' },
        h('dt', {}, 'Creator'), h('dd', { class: 'mono' }, v.creator_did),
        h('dt', {}, 'Consistency / isolation'), h('dd', {}, `${v.consistency_mode} / ${v.isolation}`),
        h('dt', {}, 'Created'), h('dd', {}, fmtTime(v.created_at)),
        h('dt', {}, 'Expires'), h('dd', {}, fmtTime(v.expires_at)),
        v.terminated_at ? [h('dt', {}, 'Terminated'), h('dd', {}, fmtTime(v.terminated_at))] : null,
        h('dt', {}, 'Audit entries'), h('dd', { 'data-stat': 'audit_size' }, fmtNum(v.audit_size)),
        h('dt', {}, 'Audit root'), h('dd', { class: 'mono' }, v.audit_root),
        v.merkle_root ? [h('dt', {}, 'Committed root'), h('dd', { class: 'mono' }, v.merkle_root)] : null)));
    fill(parts, h('h2', {}, `Participants (${v.participant_count} active)`),
      table(['Agent', 'Ring', { label: 'σ_raw', class: 'num' }, { label: 'σ_eff', class: 'num' }, 'Status', 'Joined'],
        v.participants.map((p) => h('tr', { 'data-agent': p.agent_did }, [
          h('td', { class: 'mono wrap', 'data-testid': 'agent-did' }, p.agent_did),
          h('td', {}, ringBadge(p.ring), p.effective_ring !== p.ring ? [' → ', ringBadge(p.effective_ring)] : null),
          h('td', { class: 'num', 'data-field': 'sigma_raw' }, fmtSigma(p.sigma_raw)),
          h('td', { class: 'num', 'data-field': 'sigma_eff' }, fmtSigma(p.sigma_eff)),
          h('td', {}, participantBadges(p)),
          h('td', { class: 'small' }, fmtTime(p.joined_at)),
        ])), { 'data-testid': 'participants' }));
    fill(sagas, h('h2', {}, `Sagas (${v.sagas.length})`), v.sagas.length
      ? table(['Saga', 'Name', 'State', 'Steps', 'Created'], v.sagas.map((g) => [
        link(`/sagas/${enc(g.saga_id)}`, g.saga_id, { class: 'mono' }), g.name || '–', stateBadge(g.state),
        `${g.steps.filter((x) => x.state === 'committed').length}/${g.steps.length} committed`, fmtTime(g.created_at)]))
      : h('p', { class: 'muted' }, 'No sagas.'));
  }

  async function drawFiles() {
    const fv = await api(`/api/v1/dashboard/sessions/${enc(sid)}/files`);
    fill(files, h('h2', {}, `Files (${fmtNum(fv.file_count)}, ${fmtNum(fv.total_bytes)} bytes)`),
      fv.files.length ? h('div', { 'data-testid': 'vfs-tree' }, fileTree(fv.files)) : h('p', { class: 'muted' }, 'No files.'));
  }

  async function drawLocks() {
    const lv = await api(`/api/v1/sessions/${enc(sid)}/locks`);
    const now = Date.now();
    fill(locks, h('h2', {}, `Locks (${lv.locks.length} held, ${lv.waiting.length} waiting)`),
      lv.locks.length ? table(['Path', 'Intent', 'Holder', 'Expires in'], lv.locks.map((l) => [
        h('span', { class: 'mono wrap' }, l.path), badge(l.intent, l.intent === 'read' ? 'info' : 'warn'),
        h('span', { class: 'mono small' }, l.agent), fmtDuration(toMs(l.expires_at) - now)]), { 'data-testid': 'locks' })
        : h('p', { class: 'muted' }, 'No locks held.'),
      lv.waiting.length ? h('p', { class: 'small muted' }, `${lv.waiting.length} request(s) queued.`) : null);
  }

  // Audit log: entries parsed without losing number text, so the page can rebuild the exact
  // bytes the server hashed and check each entry's inclusion proof itself.
  let auditFrom = null;
  async function drawAudit() {
    const text = await api(`/api/v1/sessions/${enc(sid)}/audit?from=${auditFrom ?? 0}&limit=${AUDIT_PAGE}`, { text: true });
    const page = parseLossless(text);
    const size = Number(page.get('tree_size').raw);
    const first = Number(page.get('first_held').raw);
    if (auditFrom === null || auditFrom < first) auditFrom = first;
    const entries = page.get('entries');
    const results = new Map();
    const rows = entries.map((raw) => {
      const e = toPlain(raw);
      const cell = h('td', { class: 'check', 'data-testid': 'proof' }, '');
      const btn = h('button', { type: 'button', class: 'ghost small', onclick: () => verify(raw, e.seq, cell) }, 'verify');
      results.set(e.seq, { raw, cell });
      return h('tr', { 'data-seq': String(e.seq) }, [
        h('td', { class: 'num' }, String(e.seq)), h('td', { class: 'small' }, fmtTime(e.at)),
        h('td', { class: 'mono small' }, e.kind), h('td', {}, badge(e.decision, e.decision === 'allowed' ? 'ok' : e.decision === 'denied' ? 'bad' : 'muted')),
        h('td', { class: 'mono small wrap' }, e.agent_did || '–'), h('td', { class: 'small wrap' }, e.reason),
        h('td', { class: 'mono small wrap' }, JSON.stringify(e.detail).slice(0, 160)),
        h('td', {}, btn), cell]);
    });
    async function verify(raw, seq, cell) {
      cell.textContent = '…';
      try {
        const proof = await api(`/api/v1/sessions/${enc(sid)}/audit/${seq}/proof?size=${size}`);
        const leaf = await entryLeafHash(raw);
        const root = await rootFromInclusion(seq, size, leaf, proof.proof.map(hexToBytes));
        const okLeaf = bytesToHex(leaf) === proof.leaf_hash;
        const okRoot = root !== null && eq(root, hexToBytes(proof.root)) && proof.root === page.get('root');
        const ok = okLeaf && okRoot;
        cell.textContent = ok ? '✓' : '✗';
        cell.className = `check ${ok ? 'ok' : 'bad'}`;
        cell.title = ok ? `leaf ${bytesToHex(leaf).slice(0, 16)}… included under root ${proof.root.slice(0, 16)}… (size ${size})`
          : `${okLeaf ? '' : 'recomputed leaf hash differs; '}${okRoot ? '' : 'proof does not lead to the root'}`;
        cell.dataset.result = ok ? 'ok' : 'bad';
      } catch (err) {
        cell.textContent = '✗';
        cell.className = 'check bad';
        cell.title = err.message;
        cell.dataset.result = 'bad';
      }
    }
    const verifyAll = h('button', { type: 'button', 'data-testid': 'verify-all', onclick: async () => {
      verifyAll.disabled = true;
      for (const [seq, r] of results) await verify(r.raw, seq, r.cell);
      verifyAll.disabled = false;
    } }, 'Verify all on this page');
    fill(audit, h('h2', {}, `Audit log (${fmtNum(size)} entries, root `, h('span', { class: 'mono' }, String(page.get('root')).slice(0, 16)), '…)'),
      h('p', { class: 'small muted' }, 'Each check fetches the entry\'s inclusion proof, recomputes the leaf hash SHA-256(0x00 ‖ canonical JSON) and the root with WebCrypto in this page, and compares them with the log\'s root.'),
      h('div', { class: 'toolbar' }, verifyAll),
      table([{ label: 'Seq', class: 'num' }, 'When', 'Kind', 'Decision', 'Agent', 'Reason', 'Detail', '', 'Proof'], rows, { 'data-testid': 'audit' }),
      pager(size - first, Math.floor((auditFrom - first) / AUDIT_PAGE), AUDIT_PAGE, (p) => { auditFrom = first + p * AUDIT_PAGE; drawAudit(); }));
  }

  drawHead(view);
  await Promise.all([drawFiles(), drawLocks(), drawAudit()]);
  ctx.every(5000, async () => {
    const v = await api(`/api/v1/sessions/${enc(sid)}`);
    if (!ctx.alive) return;
    drawHead(v);
    await Promise.all([drawFiles(), drawLocks()]);
  });
}
