// SPEC §8 with ARBOR_AUTH=required and ARBOR_MULTITENANCY=on: tokens minted by
// PyJWT (Debian's python3-jwt) and hashed service tokens, the real OTel JS
// exporters with headers / gRPC metadata, `ws` with each token carrier, and a
// sweep of every route of query/server.c's route table with two tenants holding
// the same trace IDs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { test, setup, run, tempDir, startCollector, startQuery, getJson, span, hex, eventually, launchChromium, makeCerts, BIN, writeTokensFile, curl } from './lib.mjs';
import { makeProvider, orcheoRun } from './otel.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const SECRET = 'hs-secret-for-the-auth-suite-0123456789';
const keys = tempDir('arbor-keys-');
const now = Math.floor(Date.now() / 1000);

function mint(specs, dir = keys) {
  const r = spawnSync('/usr/bin/python3', [path.join(HERE, 'jwt_mint.py'), 'mint', dir],
    { input: JSON.stringify(specs), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}
const hs = (claims, extra = {}) => ({ alg: 'HS256', key: `secret:${SECRET}`, claims, ...extra });
const reader = (tenant, extra = {}) => ({ iss: 'orcheo', aud: 'arbor', sub: `user-${tenant}`, jti: `jti-${tenant}`,
  exp: now + 3600, scope: 'traces:read', workspace_ids: [tenant], ...extra });

const services = {
  'svc-acme-writer': 'acme traces:write otel-acme',
  'svc-beta-writer': 'beta traces:write otel-beta',
  'svc-acme-reader': 'acme traces:read dashboards',
};
let collector, query, tok;

const authEnv = () => ({
  ARBOR_AUTH: 'required', ARBOR_MULTITENANCY: 'on', ARBOR_AUTH_JWT_SECRET: SECRET,
  ARBOR_AUTH_JWKS: path.join(keys, 'jwks.json'), ARBOR_AUTH_ISSUER: 'orcheo', ARBOR_AUTH_AUDIENCE: 'arbor',
  ARBOR_AUTH_TOKENS_FILE: path.join(keys, 'tokens'), ARBOR_AUTH_READ_SCOPES: 'traces:read',
  ARBOR_AUTH_WRITE_SCOPES: 'traces:write', ARBOR_AUTH_LEEWAY: '1s',
});

setup('keys, a tokens file and both daemons with auth required', async () => {
  const k = spawnSync('/usr/bin/python3', [path.join(HERE, 'jwt_mint.py'), 'keys', keys], { encoding: 'utf8' });
  assert.equal(k.status, 0, k.stderr);
  writeTokensFile(path.join(keys, 'tokens'), services);
  const data = tempDir();
  collector = await startCollector(data, [], { env: authEnv() });
  collector.dataDir = data;
  query = await startQuery(data, [], { env: authEnv() });
  const [acme, beta, acmeBeta] = mint([hs(reader('acme')), hs(reader('beta')),
    hs(reader('acme', { workspace_ids: ['acme', 'beta'] }))]);
  tok = { acme, beta, acmeBeta };
});

const bearer = (t) => ({ authorization: `Bearer ${t}` });

async function post(spans, headers, resource = 'svc') {
  const body = JSON.stringify({ resourceSpans: [{
    resource: { attributes: [{ key: 'service.name', value: { stringValue: resource } }] },
    scopeSpans: [{ scope: { name: 'auth-test' }, spans }] }] });
  const r = await fetch(collector.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: r.status, headers: r.headers, body: await r.text() };
}

test('the receiver refuses a request without a token, or with one that cannot write, as Orcheo does', async () => {
  const s = [span({ trace: 0x99, id: 1 })];
  let r = await post(s, {});
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer');
  assert.deepEqual(JSON.parse(r.body).detail.code, 'auth.missing_token');
  r = await post(s, bearer('svc-acme-reader'));
  assert.equal(r.status, 403, r.body);
  assert.equal(JSON.parse(r.body).detail.code, 'auth.forbidden');
  r = await post(s, { authorization: 'Basic YTpi' });
  assert.equal(JSON.parse(r.body).detail.code, 'auth.invalid_scheme');
  r = await post(s, { ...bearer('svc-acme-writer'), 'x-scope-orgid': 'beta' });
  assert.equal(r.status, 403, 'a token writes only as its own tenants');
  r = await post(s, bearer(tok.acme)); // a valid reader JWT: no write scope
  assert.equal(r.status, 403);
});

// Two tenants, the same trace, span and execution IDs, different content.
const TRACE = hex(0xabc, 32), EXEC = 'exec-shared-1';
function tenantSpans(tag) {
  return [
    span({ trace: TRACE, id: 1, name: `${tag}-root`, start: 1_000_000_000n, end: 9_000_000_000n,
      attrs: { 'orcheo.execution.id': EXEC, 'marker': `${tag}-only`, [`${tag}.key`]: 'x',
        'orcheo.artifact.ids': ['art-1'] } }),
    span({ trace: TRACE, id: 2, parent: 1, name: `${tag}-child`, start: 2_000_000_000n, end: 3_000_000_000n,
      attrs: { 'marker': `${tag}-only` }, events: [{ name: 'prompt', attrs: { preview: `${tag}-prompt` } }] }),
  ];
}

test('two tenants write the same trace IDs: a service token and a PyJWT token with its workspace', async () => {
  const [betaWriter] = mint([hs({ iss: 'orcheo', aud: 'arbor', scope: 'traces:write', workspace_ids: ['beta'], exp: now + 3600 })]);
  let r = await post(tenantSpans('alpha'), bearer('svc-acme-writer'));
  assert.equal(r.status, 200, r.body);
  r = await post(tenantSpans('beta'), bearer(betaWriter));
  assert.equal(r.status, 200, r.body);
  await eventually(async () => (await getJson(`${query.base}/api/traces/${TRACE}/trace`, { headers: bearer(tok.beta) }))
    .status === 200);
});

test('token attacks on a read: each gets its exact status and code', async () => {
  const base = reader('acme');
  const cases = [
    ['HS256', hs(base), 200],
    ['RS256 (JWKS kid rsa-1)', { alg: 'RS256', key: 'rsa', claims: base, headers: { kid: 'rsa-1' } }, 200],
    ['PS256', { alg: 'PS256', key: 'rsa', claims: base, headers: { kid: 'rsa-1' } }, 200],
    ['ES256 (JWKS kid ec-1)', { alg: 'ES256', key: 'ec', claims: base, headers: { kid: 'ec-1' } }, 200],
    ['ES256 without kid', { alg: 'ES256', key: 'ec', claims: base }, 200],
    ['expired', hs({ ...base, exp: now - 120 }), 401, 'auth.token_expired'],
    ['not yet valid', hs({ ...base, nbf: now + 120 }), 401, 'auth.invalid_token'],
    ['wrong issuer', hs({ ...base, iss: 'mallory' }), 401, 'auth.invalid_token', /issuer not accepted/],
    ['wrong audience', hs({ ...base, aud: 'grafana' }), 401, 'auth.invalid_token', /audience not accepted/],
    ['no exp (ARBOR_AUTH_ALLOW_NO_EXP unset)', hs({ ...base, exp: undefined }), 401, 'auth.invalid_token', /no exp/],
    ['a string exp', hs({ ...base, exp: String(now + 3600) }), 401, 'auth.invalid_token', /must be numbers/],
    ['a boolean nbf', hs({ ...base, nbf: true }), 401, 'auth.invalid_token', /must be numbers/],
    ['a JWT scope "*" (only service tokens hold every scope)', hs({ ...base, scope: '*' }), 403, 'auth.forbidden'],
    ['alg none', { alg: 'none', key: '', claims: base }, 401, 'auth.invalid_token'],
    ['HS256 keyed with the RSA public key', { alg: 'HS256-with-rsa-public', key: '', claims: base }, 401, 'auth.invalid_token'],
    ['RS256 with the ES key id', { alg: 'RS256', key: 'rsa', claims: base, headers: { kid: 'ec-1' } }, 401, 'auth.invalid_token'],
    ['tampered RS256 signature', { alg: 'RS256', key: 'rsa', claims: base, headers: { kid: 'rsa-1' }, tamper: true }, 401, 'auth.invalid_token'],
    ['tampered HS256 signature', hs(base, { tamper: true }), 401, 'auth.invalid_token'],
    ['signed with another secret', { alg: 'HS256', key: 'secret:not-the-secret', claims: base }, 401, 'auth.invalid_token'],
    ['wrong scope', hs({ ...base, scope: 'traces:write' }), 403, 'auth.forbidden'],
    ['another tenant', hs({ ...base, workspace_ids: ['gamma'] }), 403, 'auth.forbidden'],
  ];
  const tokens = mint(cases.map((c) => c[1]));
  for (const [i, [name, , status, code, message]] of cases.entries()) {
    const r = await getJson(`${query.base}/api/traces/${TRACE}/tree`, { headers: { ...bearer(tokens[i]), 'x-scope-orgid': 'acme' } });
    assert.equal(r.status, status, `${name}: ${r.text}`);
    if (code) {
      assert.equal(r.body.detail.code, code, name);
      assert.equal(typeof r.body.detail.message, 'string');
      if (message) assert.match(r.body.detail.message, message, name);
      if (status === 401) assert.equal(r.headers.get('www-authenticate'), 'Bearer', name);
    } else {
      assert.ok(r.text.includes('alpha-root'), `${name}: acme's own trace`);
    }
  }
  const missing = await getJson(`${query.base}/api/traces/${TRACE}/tree`);
  assert.equal(missing.status, 401);
  assert.equal(missing.body.detail.code, 'auth.missing_token');
  const several = await getJson(`${query.base}/api/traces/${TRACE}/tree`, { headers: bearer(tok.acmeBeta) });
  assert.equal(several.status, 401, 'a token with two tenants must say which');
  assert.equal(several.body.detail.code, 'auth.missing_tenant');
});

// The route table, read from the source, so that a route added there without a
// URL here fails this test instead of escaping the sweep.
function routeTable() {
  const src = readFileSync(path.join(HERE, '../../query/server.c'), 'utf8');
  const table = src.slice(src.indexOf('static const route_def_t routes[] = {'));
  return [...table.slice(0, table.indexOf('};')).matchAll(/\{"([^"]+)", \w+, \w+, ([\w |]+), (\w+)\}/g)]
    .map((m) => ({ pattern: m[1], public: m[2].includes('ROUTE_PUBLIC'), stream: m[2].includes('ROUTE_STREAM'), fed: m[3] }));
}

// A URL for each route, and whether its answer must carry the tenant's own data.
const sweep = {
  '/api/echo': ['/api/echo', false],
  '/api/status/buildinfo': ['/api/status/buildinfo', false],
  '/api/prices': ['/api/prices', false],
  '/api/executions': ['/api/executions', true],
  '/api/traces': ['/api/traces', true],
  '/api/executions/*/trace': [`/api/executions/${EXEC}/trace`, true],
  '/api/executions/*/tree': [`/api/executions/${EXEC}/tree`, true],
  '/api/executions/*/trace/live': [`/api/executions/${EXEC}/trace/live`, true],
  '/api/traces/*/trace': [`/api/traces/${TRACE}/trace`, true],
  '/api/traces/*/tree': [`/api/traces/${TRACE}/tree`, true],
  '/api/traces/*/live': [`/api/traces/${TRACE}/live`, true],
  '/api/traces/*/spans/*': [`/api/traces/${TRACE}/spans/${hex(2, 16)}`, true],
  '/api/traces/*': [`/api/traces/${TRACE}`, true],
  '/api/v2/traces/*': [`/api/v2/traces/${TRACE}`, true],
  '/api/search': ['/api/search?q=' + encodeURIComponent('{ span.marker =~ ".*-only" }') + '&start=0&end=4000000000', true],
  '/api/search/tags': ['/api/search/tags', true],
  '/api/v2/search/tags': ['/api/v2/search/tags', true],
  '/api/search/tag/*/values': ['/api/search/tag/marker/values', true],
  '/api/v2/search/tag/*/values': ['/api/v2/search/tag/span.marker/values', true],
  '/api/artifacts/*': ['/api/artifacts/art-1', false],
  '/api/artifacts/**': ['/api/artifacts/art-1/download', false],
  '/api/**': ['/api/no-such-thing', false],
};

// A WebSocket's refusal (status and body), or its frames up to "complete";
// refusalOnly: settle at the upgrade, frames unread (a check that expects 401/403).
function wsGet(url, { headers = {}, protocols, refusalOnly = false } = {}) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url.replace('http', 'ws'), protocols, { headers });
    let text = '';
    if (refusalOnly) ws.on('open', () => { ws.close(); resolve({ status: 101, text: '' }); });
    ws.on('unexpected-response', (req, res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode, text: b }));
    });
    ws.on('message', (m) => {
      text += m;
      if (JSON.parse(m).complete) { ws.close(); resolve({ status: 101, text, protocol: ws.protocol }); }
    });
    ws.on('error', () => {});
  });
}

async function fetchRoute(route, url, headers, refusalOnly = false, base = query.base) {
  if (route.stream) return wsGet(base + url, { headers, refusalOnly });
  const r = await fetch(base + url, { headers });
  return { status: r.status, text: await r.text() };
}

async function sweepRoutes(base) {
  const routes = routeTable();
  assert.ok(routes.length >= 20, `the route table parsed (${routes.length} routes)`);
  const checked = [];
  for (const route of routes.filter((r) => !r.public)) {
    assert.ok(sweep[route.pattern], `route ${route.pattern} has no URL in the tenant sweep: add one`);
    const [url, carriesData] = sweep[route.pattern];
    const anon = await fetchRoute(route, url, {}, true, base);
    assert.equal(anon.status, 401, `${route.pattern} anonymous: ${anon.text}`);
    for (const [tenant, own, other] of [['acme', 'alpha', 'beta'], ['beta', 'beta', 'alpha']]) {
      const r = await fetchRoute(route, url, bearer(tok[tenant]), false, base);
      assert.ok(r.status !== 401 && r.status !== 403, `${route.pattern} as ${tenant}: ${r.status} ${r.text}`);
      assert.ok(!r.text.includes(other), `${route.pattern} as ${tenant} shows ${other}'s data: ${r.text.slice(0, 300)}`);
      if (carriesData) assert.ok(r.text.includes(own), `${route.pattern} as ${tenant} lacks its own data: ${r.text.slice(0, 300)}`);
    }
    const cross = await fetchRoute(route, url, { ...bearer(tok.acme), 'x-scope-orgid': 'beta' }, true, base);
    assert.equal(cross.status, 403, `${route.pattern}: acme's token asking for beta`);
    checked.push(route.pattern);
  }
  assert.ok(checked.includes('/api/traces/*/live') && checked.includes('/api/search'), checked.join(' '));
}

test('every route of the route table: anonymous is refused, each tenant sees only its own data', () => sweepRoutes(query.base));

// Federation (SPEC §9) answers every tenant route by asking the shards: the same
// sweep through a federating query in front of this one.
test('every route through a federating query (ARBOR_SHARDS): the same refusals and the same tenant scoping', async () => {
  const fed = await startQuery(tempDir(), [], { env: { ...authEnv(), ARBOR_SHARDS: query.base } });
  try {
    await sweepRoutes(fed.base);
  } finally {
    assert.deepEqual(await fed.stop(), { code: 0, sig: null }, fed.log);
  }
});

test('a WebSocket takes its token from the header, a bearer.<token> subprotocol (answered orcheo-auth) or ?access_token=', async () => {
  const url = `${query.base}/api/traces/${TRACE}/live`;
  const byHeader = await wsGet(url, { headers: bearer(tok.acme) });
  assert.equal(byHeader.status, 101);
  assert.ok(byHeader.text.includes('alpha-root'));
  const byProtocol = await wsGet(url, { protocols: ['orcheo-auth', `bearer.${tok.beta}`] });
  assert.equal(byProtocol.status, 101);
  assert.equal(byProtocol.protocol, 'orcheo-auth');
  assert.ok(byProtocol.text.includes('beta-root') && !byProtocol.text.includes('alpha'));
  const byQuery = await wsGet(`${url}?access_token=${encodeURIComponent(tok.acme)}`);
  assert.equal(byQuery.status, 101);
  assert.ok(byQuery.text.includes('alpha-root'));
  const bad = await wsGet(`${url}?access_token=not-a-token`, { refusalOnly: true });
  assert.equal(bad.status, 401, 'refused before the upgrade');
  assert.equal(JSON.parse(bad.text).detail.code, 'auth.invalid_token');
  const forbidden = await wsGet(url, { protocols: [`bearer.${tok.acme}`], headers: { 'x-scope-orgid': 'beta' }, refusalOnly: true });
  assert.equal(forbidden.status, 403);
});

test('live frames reach only the writing tenant\'s subscribers of a shared trace ID', async () => {
  const frames = { acme: [], beta: [] };
  const socks = {};
  for (const t of ['acme', 'beta']) {
    socks[t] = new WebSocket(`${query.base.replace('http', 'ws')}/api/traces/${TRACE}/live`, { headers: bearer(tok[t]) });
    socks[t].on('message', (m) => frames[t].push(String(m)));
    socks[t].on('error', () => {}); // a refusal shows as missing frames below
    await new Promise((resolve) => socks[t].on('open', resolve));
  }
  try {
    await eventually(() => frames.acme.some((f) => JSON.parse(f).complete) && frames.beta.some((f) => JSON.parse(f).complete),
      { timeoutMs: 30000 });
    const [betaWriter] = mint([hs({ iss: 'orcheo', aud: 'arbor', scope: 'traces:write', workspace_ids: ['beta'], exp: now + 3600 })]);
    let r = await post([span({ trace: TRACE, id: 7, parent: 1, name: 'beta-late', start: 4_000_000_000n })], bearer(betaWriter));
    assert.equal(r.status, 200);
    r = await post([span({ trace: TRACE, id: 8, parent: 1, name: 'alpha-late', start: 4_000_000_000n })], bearer('svc-acme-writer'));
    assert.equal(r.status, 200);
    await eventually(() => frames.acme.some((f) => f.includes('alpha-late')) && frames.beta.some((f) => f.includes('beta-late')),
      { timeoutMs: 30000 });
  } finally {
    for (const s of Object.values(socks)) s.close();
  }
  assert.ok(!frames.acme.join('').includes('beta'), 'acme received a beta frame');
  assert.ok(!frames.beta.join('').includes('alpha'), 'beta received an acme frame');
});

test('a live stream whose token expires is closed with 4401', async () => {
  // valid when it connects, whenever this test runs (now is the suite's start)
  const [short] = mint([hs(reader('acme', { exp: Math.floor(Date.now() / 1000) + 3 }))]);
  const ws = new WebSocket(`${query.base.replace('http', 'ws')}/api/traces/${TRACE}/live`, { headers: bearer(short) });
  ws.on('error', () => {});
  const closed = await new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  assert.equal(closed.code, 4401, closed.reason);
});

test('the OTel JS exporters write with headers (proto, JSON) and gRPC metadata, each as its tenant', async () => {
  for (const protocol of ['proto', 'json', 'grpc']) {
    const provider = makeProvider({ protocol, url: protocol === 'grpc' ? collector.grpcUrl : collector.url,
      headers: bearer('svc-beta-writer') });
    const exec = `exporter-${protocol}`;
    await orcheoRun(provider, { executionId: exec });
    await provider.shutdown();
    const asBeta = await eventually(async () => {
      const r = await getJson(`${query.base}/api/executions/${exec}/trace`, { headers: bearer(tok.beta) });
      return r.status === 200 && r;
    });
    assert.equal(asBeta.body.execution.id, exec);
    const asAcme = await getJson(`${query.base}/api/executions/${exec}/trace`, { headers: bearer(tok.acme) });
    // an execution nobody of yours wrote is "unknown" (the Canvas polls before the first span)
    assert.equal(asAcme.body.execution.status, 'unknown', `${protocol}: acme must not see beta's run`);
    assert.deepEqual([asAcme.body.spans.length, asAcme.body.execution.trace_id], [0, null]);
  }
});

test('signed artifact links: the Canvas opens them without a bearer header; tampered, foreign or expired ones are refused', async () => {
  const tenantsSeen = [];
  const upstream = http.createServer((req, res) => {
    tenantsSeen.push(req.headers['x-scope-orgid']);
    res.setHeader('content-type', 'text/plain');
    res.end(`artifact bytes for ${req.url.split('?')[0]} auth=${req.headers.authorization ?? 'none'}`);
  });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  const LINK_SECRET = 'link-secret-for-the-auth-suite';
  const q = await startQuery(collector.dataDir, [`--artifact-upstream=http://127.0.0.1:${upstream.address().port}`],
    { env: { ...authEnv(), ARBOR_ARTIFACT_URL_SECRET: LINK_SECRET, ARBOR_ARTIFACT_URL_TTL: '10m' } });
  try {
    const t = await getJson(`${q.base}/api/traces/${TRACE}/trace`, { headers: bearer(tok.acme) });
    const url = t.body.spans.find((sp) => sp.artifacts?.length).artifacts[0].download_url;
    assert.match(url, /^\/api\/artifacts\/art-1\/download\?tenant=acme&exp=\d+&sig=[0-9a-f]{64}$/);
    const ok = await fetch(q.base + url); // a plain navigation: no Authorization header
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), 'artifact bytes for /api/artifacts/art-1/download auth=none');
    const u = new URL(q.base + url);
    const variant = (k, v) => { const x = new URL(u); x.searchParams.set(k, v); return x.toString(); };
    const sig = u.searchParams.get('sig');
    for (const [name, bad] of [['tampered signature', variant('sig', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1))],
      ['another tenant', variant('tenant', 'beta')], ['a later expiry', variant('exp', String(Number(u.searchParams.get('exp')) + 60))],
      ['another artifact', q.base + url.replace('art-1', 'art-2')]]) {
      const r = await getJson(bad);
      assert.equal(r.status, 403, `${name}: ${r.text}`);
      assert.equal(r.body.detail.code, 'auth.forbidden');
    }
    const exp = now - 10; // signed right, but expired
    const mac = createHmac('sha256', LINK_SECRET).update(`acme\nart-1\n${exp}`).digest('hex');
    const expired = await getJson(`${q.base}/api/artifacts/art-1/download?tenant=acme&exp=${exp}&sig=${mac}`);
    assert.equal(expired.status, 403);
    assert.match(expired.body.detail.message, /expired/);
    const unsigned = await getJson(`${q.base}/api/artifacts/art-1/download`);
    assert.equal(unsigned.status, 401, 'no signature and no token');
    assert.deepEqual(tenantsSeen, ['acme'], 'the upstream is told the tenant');

    // a UUID: its link is signed over the whole ID, and works
    const UUID = '3f2b6c1e-8d5a-4c3b-9e7f-0a1b2c3d4e5f', ART_TRACE = hex(0xa77, 32);
    assert.equal((await post([span({ trace: ART_TRACE, id: 1, attrs: { 'orcheo.artifact.ids': [UUID] },
      events: [{ name: 'artifact', attrs: { 'artifact.id': '' } }] })], bearer('svc-acme-writer'))).status, 200);
    const at = await eventually(async () => {
      const r = await getJson(`${q.base}/api/traces/${ART_TRACE}/trace`, { headers: bearer(tok.acme) });
      return r.status === 200 && r.body.spans.length === 1 && r;
    });
    assert.deepEqual(at.body.spans[0].artifacts.map((a) => a.id), [UUID], 'an empty artifact ID names nothing');
    const uuidLink = at.body.spans[0].artifacts[0].download_url;
    assert.equal((await fetch(q.base + uuidLink)).status, 200, 'a signed link to a UUID artifact');
    // a signature made for the empty ID opens nothing, short IDs or long
    const far = Math.floor(Date.now() / 1000) + 600;
    const forEmpty = createHmac('sha256', LINK_SECRET).update(`acme\n\n${far}`).digest('hex');
    for (const id of [UUID, 'art-1', ''])
      assert.notEqual((await fetch(`${q.base}/api/artifacts/${id}/download?tenant=acme&exp=${far}&sig=${forEmpty}`)).status,
        200, `a link signed for "" opened "${id}"`);
    // by token: only an artifact a span of the caller's tenant names
    const byToken = (t, id) => fetch(`${q.base}/api/artifacts/${id}/download`, { headers: bearer(t) });
    assert.equal((await byToken(tok.acme, UUID)).status, 200);
    assert.equal((await byToken(tok.beta, UUID)).status, 404, "beta cannot download acme's artifact");
    assert.equal((await byToken(tok.beta, 'art-1')).status, 200, 'beta downloads its own art-1');
    assert.equal(tenantsSeen.at(-1), 'beta');
    // a tenant named twice: which one counted would depend on who read it (the upstream saw both)
    const status = (args) => curl(['-o', '/dev/null', '-w', '%{http_code}', ...args]).stdout.toString();
    const twice = ['-H', 'X-Scope-OrgID: acme', '-H', 'X-Scope-OrgID: beta', '-H', `Authorization: Bearer ${tok.acmeBeta}`];
    const seenBefore = tenantsSeen.length;
    assert.equal(status([...twice, `${q.base}/api/artifacts/art-1/download`]), '400', 'a download naming two tenants');
    assert.equal(status([...twice, `${q.base}/api/traces/${TRACE}/trace`]), '400', 'a read naming two tenants');
    assert.equal(status(['-H', 'X-Scope-OrgID: acme', '-H', 'Authorization: Bearer x', '-H', 'Authorization: Bearer y',
      `${q.base}/api/traces/${TRACE}/trace`]), '400', 'two Authorization headers');
    assert.equal(status([...twice, '-H', 'content-type: application/json', '--data', '{}', collector.url]), '400',
      'a write naming two tenants');
    assert.equal(tenantsSeen.length, seenBefore, 'the upstream saw none of them');
    assert.ok(tenantsSeen.every((t) => !t.includes(',')), `one tenant each time: ${tenantsSeen}`);
    const betaSigned = createHmac('sha256', LINK_SECRET).update(`beta\n${UUID}\n${far}`).digest('hex');
    assert.equal((await fetch(`${q.base}/api/artifacts/${UUID}/download?tenant=beta&exp=${far}&sig=${betaSigned}`)).status,
      404, 'a link signed for beta does not open an artifact only acme names');

    // through a federating query (same link secret and upstream): the shards say whose the artifact is
    const fed = await startQuery(tempDir(), [`--artifact-upstream=http://127.0.0.1:${upstream.address().port}`],
      { env: { ...authEnv(), ARBOR_SHARDS: q.base, ARBOR_ARTIFACT_URL_SECRET: LINK_SECRET } });
    try {
      const viaFed = (id, headers) => fetch(`${fed.base}/api/artifacts/${id}/download`, { headers });
      assert.equal((await viaFed(UUID, bearer(tok.acme))).status, 200, 'federated: acme downloads its artifact');
      assert.equal(tenantsSeen.at(-1), 'acme');
      assert.equal((await viaFed(UUID, bearer(tok.beta))).status, 404, "federated: not beta's");
      assert.equal((await fetch(fed.base + uuidLink)).status, 200, 'federated: the signed link works');
      assert.equal((await fetch(`${fed.base}/api/artifacts/${UUID}/download?tenant=beta&exp=${far}&sig=${betaSigned}`))
        .status, 404, 'federated: a link signed for beta does not open it');
      assert.equal((await viaFed('art-1', {})).status, 401, 'federated: no credentials');
    } finally {
      assert.deepEqual(await fed.stop(), { code: 0, sig: null }, fed.log);
    }
  } finally {
    await q.stop();
    upstream.close();
  }
});

test('headless Chromium: the Trace tab signs in from the URL fragment, or through the form after a 401', async () => {
  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${query.base}/?trace=${TRACE}#access_token=${encodeURIComponent(tok.acme)}`);
    await page.locator('.row .name', { hasText: 'alpha-root' }).waitFor();
    assert.equal(await page.evaluate(() => location.hash), '', 'the token left the address bar');
    assert.equal(await page.locator('.row .name', { hasText: 'beta' }).count(), 0);
    // both badges come from the live stream only: it connected with the token's subprotocol
    await page.locator('.theader .badge.done, .theader .badge.live').first().waitFor();
    const fresh = await (await browser.newContext()).newPage(); // no token in this tab
    await fresh.goto(`${query.base}/?trace=${TRACE}`);
    await fresh.locator('dialog.signin').waitFor();
    await fresh.fill('dialog.signin input[name=token]', tok.beta);
    await fresh.click('dialog.signin button[type=submit]');
    await fresh.locator('.row .name', { hasText: 'beta-root' }).waitFor();
    assert.equal(await fresh.locator('.row .name', { hasText: 'alpha' }).count(), 0);
  } finally {
    await browser.close();
  }
});

test('JWKS from an https URL: fetched at start, again when a token names a new key ID (a rotation), and on SIGHUP', async () => {
  const tlsDir = tempDir('arbor-jwks-tls-');
  const certs = makeCerts(tlsDir);
  let jwks = readFileSync(path.join(keys, 'jwks.json'), 'utf8');
  let fetches = 0;
  const server = https.createServer({ cert: readFileSync(certs.cert), key: readFileSync(certs.key) }, (req, res) => {
    fetches++;
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'public, max-age=3600');
    res.end(jwks);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${server.address().port}/.well-known/jwks.json`;
  const q = await startQuery(collector.dataDir, [],
    { env: { ...authEnv(), ARBOR_AUTH_JWKS: url, ARBOR_AUTH_JWKS_CA: certs.ca } });
  try {
    const claims = reader('acme');
    const [old] = mint([{ alg: 'RS256', key: 'rsa', claims, headers: { kid: 'rsa-1' } }]);
    const tree = (t) => getJson(`${q.base}/api/traces/${TRACE}/tree`, { headers: bearer(t) });
    assert.equal((await tree(old)).status, 200, 'a key from the URL');
    assert.equal(fetches, 1, 'fetched once, at start');
    const rotated = tempDir('arbor-keys2-');
    assert.equal(spawnSync('/usr/bin/python3', [path.join(HERE, 'jwt_mint.py'), 'keys', rotated]).status, 0);
    const next = JSON.parse(readFileSync(path.join(rotated, 'jwks.json'), 'utf8'));
    next.keys[0].kid = 'rsa-2';
    jwks = JSON.stringify({ keys: [...JSON.parse(jwks).keys, next.keys[0]] });
    const [fresh] = mint([{ alg: 'RS256', key: 'rsa', claims, headers: { kid: 'rsa-2' } }], rotated);
    const first = await tree(fresh);
    assert.equal(first.status, 401, 'the set does not hold rsa-2 yet');
    assert.match(first.body.detail.message, /unknown key ID/);
    await eventually(async () => (await tree(fresh)).status === 200, { timeoutMs: 20000 });
    assert.equal(fetches, 2, 'one early fetch for the unknown key ID');
    assert.equal((await tree(old)).status, 200, 'the old key still works');
    // within the unknown-kid throttle (30 s), an operator's SIGHUP still fetches at once
    const third = JSON.parse(readFileSync(path.join(rotated, 'jwks.json'), 'utf8')).keys[0];
    third.kid = 'rsa-3';
    jwks = JSON.stringify({ keys: [...JSON.parse(jwks).keys, third] });
    q.proc.kill('SIGHUP');
    await eventually(() => fetches === 3, { timeoutMs: 15000 });
    const [newest] = mint([{ alg: 'RS256', key: 'rsa', claims, headers: { kid: 'rsa-3' } }], rotated);
    assert.equal((await tree(newest)).status, 200, 'the key SIGHUP fetched');
  } finally {
    await q.stop();
    server.close();
  }
  const plain = spawnSync(BIN.query, ['--check-config', '--auth=required', '--auth-jwks=http://127.0.0.1:1/jwks.json'],
    { encoding: 'utf8' });
  assert.equal(plain.status, 2);
  assert.match(plain.stderr + plain.stdout, /plaintext http/);
});

test('audit lines name the caller, never the token', async () => {
  await eventually(() => /event=audit subject="user-acme" token="jti-acme" tenant="acme" route="\/api\/traces\/\*\/tree"/.test(query.log));
  assert.match(query.log, /event=audit .*status=401 code=auth.missing_token/);
  assert.ok(!query.log.includes(tok.acme) && !collector.log.includes('svc-acme-writer'), 'no token in any log');
});

await run();
