// Browser test of the embedded dashboard: a real server (the fixture example by default, or
// the command in AHV_DASHBOARD_SERVER), data created through the API, Debian's Chromium driven
// by playwright-core. Screenshots of every page (light and dark) go to artifacts/dashboard/.
//
//   AHV_DASHBOARD_SERVER='ahv serve --listen 127.0.0.1:{port} --data-dir {data_dir}' node --test
//
// The command template may use {port} and {data_dir}; the admin token is passed in
// AHV_ADMIN_TOKEN. Default: target/debug/examples/dashboard_fixture {port} if built, else
// `cargo run -q -p ahv-server --example dashboard_fixture -- {port}`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import net from 'node:net';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../../../..');
const SHOTS = join(REPO, 'artifacts', 'dashboard');
const TOKEN = `dash-test-${process.pid}-${Date.now()}`;
const XSS_DID = 'did:x:<img/src=x/onerror=window.__xss=1>';
const XSS_PATH = '/docs/<script>window.__xss=2</script>.md';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SESSIONS = Number(process.env.AHV_DASHBOARD_SESSIONS || 1000);

let server; let base; let slow; let slowPort; let browser; let page; let dataDir; let userDir;
const ctx = {};

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
    s.on('error', rej);
  });
}

function serverCommand(port) {
  const tpl = process.env.AHV_DASHBOARD_SERVER
    || (existsSync(join(REPO, 'target/debug/examples/dashboard_fixture'))
      ? `${join(REPO, 'target/debug/examples/dashboard_fixture')} {port}`
      : 'cargo run -q -p ahv-server --example dashboard_fixture -- {port}');
  return tpl.replaceAll('{port}', String(port)).replaceAll('{data_dir}', dataDir).split(/\s+/).filter(Boolean);
}

function startServer(port) {
  const [cmd, ...args] = serverCommand(port);
  const child = spawn(cmd, args, { cwd: REPO, env: { ...process.env, AHV_ADMIN_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error(`server did not start: ${out}`)), 300_000);
    const onData = (d) => {
      out += d.toString();
      const m = /listening on\s+(http:\/\/[^\s]+)/.exec(out);
      if (m) { clearTimeout(timer); res({ child, url: m[1].replace(/\/$/, '') }); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); rej(new Error(`server exited ${code}: ${out}`)); });
  });
}

async function call(method, path, body, { token = TOKEN, headers = {} } = {}) {
  const r = await fetch(base + path, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text, headers: r.headers };
}

async function ok(method, path, body) {
  const r = await call(method, path, body);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path} → ${r.status} ${r.text}`);
  return r.json;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, timeout = 20_000) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}: ${last}`);
}

async function shot(name) {
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await sleep(150);
    await page.screenshot({ path: join(SHOTS, `${name}-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

async function go(path) {
  await page.goto(base + path);
  await page.waitForLoadState('domcontentloaded');
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'ahv-dash-data-'));
  userDir = mkdtempSync(join(tmpdir(), 'ahv-dash-chromium-'));
  // The slow endpoint saga steps call: answers after ?ms= milliseconds.
  slow = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => setTimeout(() => {
      res.writeHead(u.pathname === '/fail' ? 500 : 200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ ok: u.pathname !== '/fail', path: u.pathname }));
    }, Number(u.searchParams.get('ms') || 0)));
  });
  await new Promise((r) => slow.listen(0, '127.0.0.1', r));
  slowPort = slow.address().port;
  const port = await freePort();
  server = await startServer(port);
  base = server.url;
  browser = await chromium.launchPersistentContext(userDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
  });
  page = browser.pages()[0] || await browser.newPage();
  page.on('pageerror', (e) => { ctx.pageErrors = (ctx.pageErrors || []).concat(String(e)); });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (server) server.child.kill('SIGINT');
  if (slow) slow.close();
  for (const d of [userDir, dataDir]) if (d) rmSync(d, { recursive: true, force: true });
});

test('data is created through the API', async () => {
  const s = await ok('POST', '/api/v1/sessions', { creator_did: 'did:mesh:alice', min_sigma_eff: 0.3 });
  ctx.sid = s.session_id;
  const j = async (did, sigma) => ok('POST', `/api/v1/sessions/${ctx.sid}/join`, { agent_did: did, sigma_raw: sigma });
  ctx.alice = await j('did:mesh:alice', 0.9);
  ctx.bob = await j('did:mesh:bob', 0.85);
  ctx.xss = await j(XSS_DID, 0.7);
  ctx.carol = await j('did:mesh:carol', 0.4); // sandbox
  await ok('POST', `/api/v1/sessions/${ctx.sid}/activate`);
  // A denial with a reason (ring 3 may not write), files, a lock.
  await ok('PUT', `/api/v1/sessions/${ctx.sid}/vfs/file`, { agent_did: 'did:mesh:alice', path: XSS_PATH, content: 'x' });
  await ok('PUT', `/api/v1/sessions/${ctx.sid}/vfs/file`, { agent_did: 'did:mesh:alice', path: '/notes/plan.md', content: 'plan' });
  const denied = await call('PUT', `/api/v1/sessions/${ctx.sid}/vfs/file`, { agent_did: 'did:mesh:carol', path: '/x.md', content: 'x' });
  assert.equal(denied.status, 403, denied.text);
  await ok('POST', `/api/v1/sessions/${ctx.sid}/locks`, { agent_did: 'did:mesh:alice', path: '/notes', intent: 'write', ttl_seconds: 600 });
  // Bonds and a slash that clips a voucher; a bob → alice bond stays active.
  await ok('POST', `/api/v1/sessions/${ctx.sid}/vouch`, { voucher_did: 'did:mesh:alice', vouchee_did: XSS_DID, bond_pct: 0.2 });
  await ok('POST', `/api/v1/sessions/${ctx.sid}/vouch`, { voucher_did: 'did:mesh:bob', vouchee_did: 'did:mesh:alice', bond_pct: 0.1 });
  await ok('POST', `/api/v1/sessions/${ctx.sid}/slash`, { agent_did: XSS_DID, omega: 0.3, reason: 'leaked <b>secrets</b>' });
  // An approved elevation with a TTL.
  const el = await ok('POST', `/api/v1/sessions/${ctx.sid}/elevations`, { agent_did: 'did:mesh:bob', target_ring: 1, ttl_seconds: 600, reason: 'deploy' });
  ctx.elevationId = el.elevation_id || (el.Elevation && el.Elevation.elevation_id) || JSON.stringify(el).match(/elev:[0-9a-f]+/)[0];
  await ok('POST', `/api/v1/elevations/${ctx.elevationId}/approve`);
  // Many sessions (paging, responsiveness); some terminated so the hypervisor log grows and
  // checkpoints of several sizes are signed.
  const ids = [];
  for (let k = 0; k < SESSIONS; k += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, SESSIONS - k) }, (_, i) => ok('POST', '/api/v1/sessions', { creator_did: `did:mesh:bulk${k + i}` })));
    ids.push(...batch.map((x) => x.session_id));
    await Promise.all(batch.map((x, i) => ok('POST', `/api/v1/sessions/${x.session_id}/join`, { agent_did: `did:mesh:bulk${k + i}`, sigma_raw: 0.65 })));
  }
  ctx.bulk = ids;
  // Activity in the bulk sessions: enough events (≥ 10,000 with 1,000 sessions) to show the
  // pages stay responsive.
  for (let k = 0; k < ids.length; k += 100) {
    await Promise.all(ids.slice(k, k + 100).map(async (sid, i) => {
      await ok('POST', `/api/v1/sessions/${sid}/activate`);
      for (let n = 0; n < 7; n++) await ok('PUT', `/api/v1/sessions/${sid}/vfs/file`, { agent_did: `did:mesh:bulk${k + i}`, path: `/work/${n}.txt`, content: `v${n}` });
    }));
  }
  const evs = await ok('GET', '/api/v1/events/stats');
  if (SESSIONS >= 1000) assert.ok(evs.total_events >= 10_000, `events: ${evs.total_events}`);
  ctx.events = evs.total_events;
  // Sign a checkpoint after each, so checkpoints of several sizes exist whatever the server's
  // background checkpoint interval is.
  for (const sid of ids.slice(0, 3)) { await ok('POST', `/api/v1/sessions/${sid}/terminate`); await ok('POST', '/api/v1/admin/checkpoint'); }
});

test('without login every dashboard data request is refused', async () => {
  const paths = ['/api/v1/dashboard/summary', '/api/v1/dashboard/rings', '/api/v1/dashboard/liability',
    `/api/v1/dashboard/sessions/${ctx.sid}/files`, '/api/v1/sessions', `/api/v1/sessions/${ctx.sid}/audit`,
    '/api/v1/sagas', '/api/v1/events', '/api/v1/events/stream', '/api/v1/audit/checkpoints', '/api/v1/audit/consistency?old=1'];
  for (const p of paths) {
    const r = await call('GET', p, undefined, { token: null });
    assert.equal(r.status, 401, `${p} without credentials → ${r.status}`);
    const bad = await call('GET', p, undefined, { token: null, headers: { Cookie: 'ahv_session=0000' } });
    assert.equal(bad.status, 401, `${p} with a forged cookie → ${bad.status}`);
  }
  const wrong = await call('POST', '/api/v1/dashboard/login', { token: 'wrong' }, { token: null });
  assert.equal(wrong.status, 401);
  // Cookie login: GET allowed, POST needs the CSRF header, logout revokes.
  const login = await call('POST', '/api/v1/dashboard/login', { token: TOKEN }, { token: null });
  assert.equal(login.status, 200);
  const setCookie = login.headers.get('set-cookie');
  assert.match(setCookie, /HttpOnly/); assert.match(setCookie, /SameSite=Strict/); assert.match(setCookie, /Path=\//);
  const cookie = setCookie.split(';')[0];
  assert.equal((await call('GET', '/api/v1/dashboard/summary', undefined, { token: null, headers: { Cookie: cookie } })).status, 200);
  assert.equal((await call('POST', '/api/v1/admin/checkpoint', undefined, { token: null, headers: { Cookie: cookie } })).status, 403);
  assert.equal((await call('POST', '/api/v1/admin/checkpoint', undefined, { token: null, headers: { Cookie: cookie, 'X-AHV-CSRF': login.json.csrf } })).status, 200);
  await call('POST', '/api/v1/dashboard/logout', undefined, { token: null, headers: { Cookie: cookie } });
  assert.equal((await call('GET', '/api/v1/dashboard/summary', undefined, { token: null, headers: { Cookie: cookie } })).status, 401);
});

test('login: a wrong token is refused with a message, the right one opens the overview', async () => {
  await go('/');
  await page.waitForURL('**/login');
  await page.fill('#token', 'not-the-token');
  await page.click('button[type=submit]');
  const msg = page.getByTestId('login-message');
  await msg.waitFor({ state: 'visible' });
  assert.match(await msg.textContent(), /refused/i);
  await shot('login');
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.waitForURL((u) => new URL(u).pathname === '/');
  assert.ok(!page.url().includes(TOKEN), 'the token never appears in a URL');
});

test('overview numbers match the API', async () => {
  await page.locator('[data-stat=sessions_total]').waitFor();
  await until('overview matches', async () => {
    const stats = await ok('GET', '/api/v1/stats');
    const sagas = await ok('GET', '/api/v1/sagas');
    const shown = Number((await page.locator('[data-stat=sessions_total]').textContent()).replace(/,/g, ''));
    const sagasShown = Number((await page.locator('[data-stat=sagas_total]').textContent()).replace(/,/g, ''));
    return shown === stats.total_sessions && sagasShown === sagas.length;
  });
  // Agents by ring, counted independently from every live session's ring distribution.
  const live = (await ok('GET', '/api/v1/sessions')).filter((x) => x.state !== 'archived' && x.state !== 'terminating');
  const byRing = { 0: 0, 1: 0, 2: 0, 3: 0 };
  for (let k = 0; k < live.length; k += 100) {
    const dists = await Promise.all(live.slice(k, k + 100).map((x) => ok('GET', `/api/v1/sessions/${encodeURIComponent(x.session_id)}/rings`)));
    for (const d of dists) for (const [name, agents] of Object.entries(d.distribution)) byRing[Number(/RING_(\d)/.exec(name)[1])] += agents.length;
  }
  for (const r of [0, 1, 2, 3]) {
    const bar = await page.locator(`[data-chart=agents-by-ring] [data-bar="${r}"]`).textContent();
    assert.equal(Number(bar.replace(/,/g, '')), byRing[r], `ring-${r} agents match the sessions' ring distributions`);
  }
  await page.getByTestId('denials').locator('tbody tr').first().waitFor();
  assert.match(await page.getByTestId('denials').textContent(), /sigma_insufficient|ring/i);
  // Decisions while the page watches, so the rate chart has something to draw.
  for (let k = 0; k < 6; k++) {
    await Promise.all(ctx.bulk.slice(k * 20, k * 20 + 20).map((sid, i) => call('PUT', `/api/v1/sessions/${sid}/vfs/file`, { agent_did: `did:mesh:bulk${k * 20 + i}`, path: '/rate.txt', content: String(k) })));
    await call('PUT', `/api/v1/sessions/${ctx.sid}/vfs/file`, { agent_did: 'did:mesh:carol', path: '/denied.md', content: 'x' });
    await sleep(800);
  }
  await sleep(2100);
  await shot('overview');
});

test('sessions list filters and pages; 1000 sessions stay responsive', async () => {
  const t0 = Date.now();
  await go('/sessions');
  await page.getByTestId('sessions-table').waitFor();
  assert.ok(Date.now() - t0 < 5000, `sessions page took ${Date.now() - t0} ms`);
  const all = await ok('GET', '/api/v1/sessions');
  assert.equal(await page.getByTestId('count').textContent(), `${all.length.toLocaleString('en-US')} of ${all.length.toLocaleString('en-US')} sessions`);
  assert.ok(await page.locator('[data-testid=sessions-table] tbody tr').count() <= 50);
  await shot('sessions');
  await page.getByTestId('state-filter').selectOption('archived');
  const archived = all.filter((x) => x.state === 'archived').length;
  assert.match(await page.getByTestId('count').textContent(), new RegExp(`^${archived} of`));
  await page.getByTestId('state-filter').selectOption('');
  await page.getByTestId('text-filter').fill(ctx.sid.slice(8, 20));
  assert.equal(await page.locator('[data-testid=sessions-table] tbody tr').count(), 1);
});

test('session page: participants, escaped DID and path, files, locks, audit proofs checked in the page', async () => {
  await go(`/sessions/${encodeURIComponent(ctx.sid)}`);
  await page.getByTestId('participants').waitFor();
  const view = await ok('GET', `/api/v1/sessions/${encodeURIComponent(ctx.sid)}`);
  for (const p of view.participants.filter((x) => x.is_active)) {
    const row = page.locator(`tr[data-agent="${p.agent_did.replace(/"/g, '\\"')}"]`);
    assert.equal(await row.locator('[data-field=sigma_raw]').textContent(), p.sigma_raw.toFixed(3));
    assert.equal(await row.locator('[data-field=sigma_eff]').textContent(), p.sigma_eff.toFixed(3));
  }
  const dids = await page.getByTestId('agent-did').allTextContents();
  assert.ok(dids.includes(XSS_DID), 'the hostile DID is shown as text');
  assert.equal(await page.locator('main img[src=x]').count(), 0);
  await page.getByTestId('vfs-tree').waitFor();
  assert.equal(await page.locator(`[data-path="${XSS_PATH}"]`).count(), 1);
  // The path's segments (it contains a `/` inside `</script>`) are shown literally.
  assert.match(await page.getByTestId('vfs-tree').textContent(), /<script>window.__xss=2<.*script>\.md/);
  assert.equal(await page.locator('main script').count(), 0);
  assert.match(await page.getByTestId('locks').textContent(), /\/notes/);
  assert.match(await page.locator('tr[data-agent="did:mesh:bob"]').textContent(), /elevated/);
  await page.getByTestId('verify-all').click();
  const n = await page.locator('[data-testid=audit] tbody tr').count();
  assert.ok(n >= 5, `audit entries shown: ${n}`);
  await until('all proofs checked', async () => (await page.locator('[data-testid=proof][data-result]').count()) === n);
  assert.equal(await page.locator('[data-testid=proof][data-result=ok]').count(), n, 'every inclusion proof verifies in the page');
  await shot('session');
  assert.equal(await page.evaluate(() => window.__xss), undefined);
});

test('rings page: distribution, elevation TTL, breakers', async () => {
  await go('/rings');
  await page.locator('[data-chart=ring-distribution]').waitFor();
  const sum = await ok('GET', '/api/v1/dashboard/summary');
  for (const r of ['0', '1', '2', '3']) {
    assert.equal(Number((await page.locator(`[data-chart=ring-distribution] [data-bar="${r}"]`).textContent()).replace(/,/g, '')), sum.agents_by_ring[r]);
  }
  const ttl = page.locator(`[data-ttl="${ctx.elevationId}"]`);
  const first = await ttl.textContent();
  await sleep(2100);
  const second = await ttl.textContent();
  assert.notEqual(first, second, `TTL counts down (${first} → ${second})`);
  await shot('rings');
});

test('saga progresses live without reload', async () => {
  const slowUrl = (ms) => `http://127.0.0.1:${slowPort}/slow?ms=${ms}`;
  const def = {
    name: 'deploy <model>', session_id: ctx.sid,
    steps: [
      { id: 'prepare', action_id: 'prepare', agent: 'did:mesh:bob', execute_api: slowUrl(1500), undo_api: slowUrl(200) },
      { id: 'shard-a', action_id: 'shard', agent: 'did:mesh:bob', execute_api: slowUrl(1500) },
      { id: 'shard-b', action_id: 'shard', agent: 'did:mesh:bob', execute_api: slowUrl(2000) },
      { id: 'publish', action_id: 'publish', agent: 'did:mesh:bob', execute_api: slowUrl(1500) },
    ],
    fan_out: [{ id: 'shards', policy: 'all_must_succeed', branches: ['shard-a', 'shard-b'] }],
  };
  const g = await ok('POST', '/api/v1/sagas', def);
  ctx.saga = g.saga_id;
  await go(`/sagas/${encodeURIComponent(g.saga_id)}`);
  await page.getByTestId('steps').waitFor();
  await page.evaluate(() => { window.__noReload = true; });
  const state = (id) => page.locator(`tr[data-step="${id}"] [data-testid=step-state]`).textContent();
  await until('prepare executing', async () => (await state('prepare')) === 'executing', 10_000);
  await shot('saga-running');
  await until('prepare committed', async () => (await state('prepare')) === 'committed', 15_000);
  await until('saga completed', async () => (await page.getByTestId('saga-state').textContent()) === 'completed', 30_000);
  assert.equal(await page.evaluate(() => window.__noReload), true, 'no reload happened');
  const api = await ok('GET', `/api/v1/sagas/${encodeURIComponent(g.saga_id)}`);
  assert.equal(api.state, 'completed');
  await shot('saga');
  // A saga that fails and compensates, for the list.
  await ok('POST', '/api/v1/sagas', { name: 'rollback', session_id: ctx.sid, steps: [
    { id: 'one', action_id: 'one', agent: 'did:mesh:bob', execute_api: slowUrl(100), undo_api: slowUrl(100) },
    { id: 'two', action_id: 'two', agent: 'did:mesh:bob', execute_api: `http://127.0.0.1:${slowPort}/fail` }] });
});

test('sagas list by state matches the API', async () => {
  await go('/sagas');
  await page.getByTestId('sagas-table').waitFor();
  await until('sagas settle', async () => {
    const all = await ok('GET', '/api/v1/sagas');
    return all.every((x) => x.state !== 'running' && x.state !== 'compensating');
  });
  const all = await ok('GET', '/api/v1/sagas');
  await until('counts match', async () => {
    for (const st of ['completed', 'compensated', 'failed']) {
      const n = all.filter((x) => x.state === st).length;
      const shown = Number(await page.locator(`[data-chart=sagas-by-state] [data-bar="${st}"]`).textContent());
      if (shown !== n) return false;
    }
    return true;
  });
  await shot('sagas');
});

test('liability page: graph, exposure and slashes match the API', async () => {
  await go('/liability');
  await page.locator('[data-chart=vouch-graph]').waitFor();
  const bob = await ok('GET', `/api/v1/agents/${encodeURIComponent('did:mesh:bob')}/liability`);
  assert.equal(await page.locator('tr[data-voucher="did:mesh:bob"] [data-field=exposure]').textContent(), bob.total_exposure.toFixed(4));
  assert.ok(await page.locator('[data-chart=vouch-graph] [data-node]').count() >= 3);
  assert.equal(await page.locator(`[data-chart=vouch-graph] [data-node="${XSS_DID}"].slashed`).count(), 1);
  assert.ok(await page.locator('[data-testid=slashes] tbody tr').count() >= 1);
  assert.match(await page.getByTestId('slashes').textContent(), /leaked <b>secrets<\/b>/);
  await shot('liability');
});

test('event stream shows new events live, filters and pauses', async () => {
  await go('/events');
  await until('stream live', async () => (await page.getByTestId('stream-status').textContent()) === 'live');
  await page.evaluate(() => { window.__noReload = true; });
  await ok('PUT', `/api/v1/sessions/${ctx.sid}/vfs/file`, { agent_did: 'did:mesh:alice', path: '/live/one.md', content: '1' });
  await until('new event row', async () => (await page.locator('[data-testid=events] tr[data-type="vfs.write"]', { hasText: '/live/one.md' }).count()) === 1, 10_000);
  assert.equal(await page.evaluate(() => window.__noReload), true);
  await shot('events');
  await page.getByTestId('filter-type').selectOption('vfs.write');
  await until('filtered', async () => {
    const types = await page.locator('[data-testid=events] tr').evaluateAll((rows) => rows.map((r) => r.dataset.type));
    return types.length > 0 && types.every((t) => t === 'vfs.write');
  });
  await until('stream live again', async () => (await page.getByTestId('stream-status').textContent()) === 'live');
  await page.getByTestId('pause').click();
  await ok('PUT', `/api/v1/sessions/${ctx.sid}/vfs/file`, { agent_did: 'did:mesh:alice', path: '/live/two.md', content: '2' });
  await until('counted while paused', async () => /1 new/.test(await page.getByTestId('stream-status').textContent()));
  assert.equal(await page.locator('[data-testid=events] tr', { hasText: '/live/two.md' }).count(), 0);
  await page.getByTestId('pause').click();
  await until('shown after resume', async () => (await page.locator('[data-testid=events] tr', { hasText: '/live/two.md' }).count()) === 1);
  assert.ok(await page.locator('[data-testid=events] tr').count() <= 300);
});

test('audit page verifies consistency between two checkpoints in the page', async () => {
  await go('/audit');
  await page.getByTestId('checkpoints').waitFor();
  const cps = (await ok('GET', '/api/v1/audit/checkpoints')).checkpoints;
  assert.ok(cps.length >= 2, `checkpoints: ${cps.length}`);
  await until('options', async () => (await page.getByTestId('old-checkpoint').locator('option').count()) >= 2);
  await page.getByTestId('old-checkpoint').selectOption('0');
  await page.getByTestId('new-checkpoint').selectOption(String((await page.getByTestId('new-checkpoint').locator('option').count()) - 1));
  await page.getByTestId('verify-consistency').click();
  await until('verified', async () => (await page.locator('[data-testid=consistency-result] [data-result]').count()) === 1);
  assert.equal(await page.locator('[data-testid=consistency-result] [data-result]').getAttribute('data-result'), 'ok');
  await shot('audit');
});

test('not-found pages for a missing saga and session', async () => {
  await go('/sagas/saga:does-not-exist');
  await page.getByTestId('not-found').waitFor();
  assert.match(await page.getByTestId('not-found').textContent(), /Saga not found/);
  await shot('saga-not-found');
  await go('/sessions/session:nope');
  await page.getByTestId('not-found').waitFor();
  assert.match(await page.getByTestId('not-found').textContent(), /Session not found/);
});

test('an expired or revoked session returns to the login with a message; XSS never ran', async () => {
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.deepEqual(ctx.pageErrors || [], []);
  // Replace the cookie with one the server does not know (as after expiry or a restart).
  const url = new URL(base);
  await browser.addCookies([{ name: 'ahv_session', value: 'deadbeef', domain: url.hostname, path: '/', httpOnly: true, sameSite: 'Strict' }]);
  await go('/rings');
  await page.waitForURL('**/login');
  const msg = page.getByTestId('login-message');
  await msg.waitFor({ state: 'visible' });
  assert.match(await msg.textContent(), /log in again/i);
  await shot('login-expired');
  // Log in again, then log out with the button.
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.waitForURL('**/rings');
  await page.click('#logout');
  await page.waitForURL('**/login');
  const r = await page.evaluate(async () => (await fetch('/api/v1/dashboard/summary')).status);
  assert.equal(r, 401);
});
