// docs/orcheo.md end to end: Debian's nginx with deploy/nginx/orcheo-arbor.conf
// (ports filled in) in front of a stand-in Orcheo backend and Arbor. The Canvas
// side talks only to nginx: the execution trace and its live WebSocket must
// come from Arbor, every other path (workflows, history, artifacts, the run
// WebSocket) from "Orcheo". Arbor checks Orcheo's tokens (HS256 from PyJWT, the
// shared secret); spans arrive the way Orcheo's exporter sends them (OTLP/HTTP
// protobuf).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { test, setup, run, tempDir, startCollector, startQuery, getJson, eventually, track, freePort } from './lib.mjs';
import { makeProvider, orcheoRun, assertCompletedRun } from './otel.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const SECRET = 'orcheo-shared-jwt-secret-0123456789abcdef';
const CANVAS = 'http://canvas.example.test:5173';
let arbor, query, orcheo, proxy, token;
const orcheoSeen = [];

function mint(claims) {
  const keys = tempDir('arbor-orcheo-keys-');
  const r = spawnSync('/usr/bin/python3', [path.join(HERE, 'jwt_mint.py'), 'mint', keys],
    { input: JSON.stringify([{ alg: 'HS256', key: `secret:${SECRET}`, claims }]), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout)[0];
}

// A stand-in for Orcheo's backend: says who answered, and a run WebSocket.
async function startOrcheo() {
  const server = http.createServer((req, res) => {
    orcheoSeen.push(req.url);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ from: 'orcheo', path: req.url }));
  });
  const wss = new WebSocketServer({ server, path: undefined });
  wss.on('connection', (ws, req) => ws.send(JSON.stringify({ from: 'orcheo', path: req.url })));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, wss, port: server.address().port };
}

async function startNginx(backendPort, arborQuery) {
  const dir = tempDir('arbor-nginx-');
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, d));
  const port = await freePort();
  const site = readFileSync(path.join(HERE, '../../deploy/nginx/orcheo-arbor.conf'), 'utf8')
    .replace('server 127.0.0.1:8000;', `server 127.0.0.1:${backendPort};`)
    .replace('server 127.0.0.1:3200;', `server ${arborQuery};`)
    .replace('listen 127.0.0.1:8080;', `listen 127.0.0.1:${port};`);
  assert.ok(site.includes(`127.0.0.1:${port}`) && site.includes(arborQuery), 'the example\'s addresses were filled in');
  writeFileSync(path.join(dir, 'orcheo-arbor.conf'), site);
  writeFileSync(path.join(dir, 'nginx.conf'), `
${process.getuid() === 0 ? 'user root;' : ''}
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  include ${dir}/orcheo-arbor.conf;
}
`);
  const check = spawnSync('nginx', ['-t', '-c', path.join(dir, 'nginx.conf'), '-p', dir, '-e', path.join(dir, 'error.log')], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  const proc = track(spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir, '-e', path.join(dir, 'error.log')], { stdio: 'ignore' }));
  const log = () => readFileSync(path.join(dir, 'error.log'), 'utf8');
  const stopped = new Promise((resolve) => proc.on('exit', resolve));
  const up = eventually(async () => (await fetch(`http://127.0.0.1:${port}/healthz-of-orcheo`)).ok, { timeoutMs: 30000 });
  const exited = stopped.then(() => { throw Object.assign(new Error(`nginx exited: ${log()}`), { exited: true }); });
  await Promise.race([up, exited]);
  exited.catch(() => {}); // after a clean start, its exit at shutdown is expected
  return { proc, stopped, base: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}`, log };
}

// nginx cannot report a port it chose: a free one is picked first, and another
// process may take it meanwhile (bind fails, nginx exits). Then a fresh one.
async function startNginxRetrying(backendPort, arborQuery) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNginx(backendPort, arborQuery);
    } catch (e) {
      if (!e.exited || !/Address already in use/.test(e.message) || attempt === 3) throw e;
    }
  }
}

setup('Arbor with Orcheo\'s JWT settings, a stand-in Orcheo, and nginx with the example config in front', async () => {
  const data = tempDir();
  arbor = await startCollector(data);
  query = await startQuery(data, [], { env: { ARBOR_AUTH: 'required', ARBOR_AUTH_JWT_SECRET: SECRET, ARBOR_AUTH_ISSUER: 'orcheo',
    ARBOR_CORS_ORIGINS: CANVAS, ARBOR_LIVE_QUIET: '300ms' } });
  orcheo = await startOrcheo();
  proxy = await startNginxRetrying(orcheo.port, query.query);
  token = mint({ iss: 'orcheo', sub: 'canvas-user', exp: Math.floor(Date.now() / 1000) + 3600 });
});

const canvasGet = (p, extra = {}) => getJson(`${proxy.base}${p}`, { headers: { authorization: `Bearer ${token}`, origin: CANVAS, ...extra } });

test('the Canvas\'s trace request goes to Arbor and meets the contract (CORS, cursor, _refresh)', async () => {
  const provider = makeProvider({ protocol: 'proto', url: `${arbor.base}/v1/traces` }); // Orcheo's exporter: OTLP/HTTP protobuf
  const r = await orcheoRun(provider, { executionId: 'canvas-run-1', nodes: 4 });
  await provider.shutdown();
  const t = await eventually(async () => {
    const x = await canvasGet('/api/executions/canvas-run-1/trace');
    return x.status === 200 && x.body.execution.status === 'completed' && x;
  });
  assertCompletedRun(t.body, r, 'canvas-run-1', 4);
  assert.equal(t.headers.get('access-control-allow-origin'), CANVAS);
  const refreshed = await canvasGet(`/api/executions/canvas-run-1/trace?_refresh=${Date.now()}`);
  assert.deepEqual(refreshed.body.spans.map((s) => s.span_id), t.body.spans.map((s) => s.span_id));
  const first = await canvasGet('/api/executions/canvas-run-1/trace?limit=2');
  assert.equal(first.body.spans.length, 2);
  const next = await canvasGet(`/api/executions/canvas-run-1/trace?limit=10&cursor=${encodeURIComponent(first.body.page_info.cursor)}`);
  assert.deepEqual([...first.body.spans, ...next.body.spans].map((s) => s.span_id), t.body.spans.map((s) => s.span_id));
  const pre = await fetch(`${proxy.base}/api/executions/canvas-run-1/trace`, { method: 'OPTIONS',
    headers: { origin: CANVAS, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
  assert.equal(pre.status, 204);
  assert.match(pre.headers.get('access-control-allow-headers'), /authorization/i);
  assert.ok(!orcheoSeen.some((u) => u.includes('/trace')), `Orcheo saw no trace request: ${orcheoSeen}`);
});

test('Orcheo\'s tokens: refused without one (Orcheo\'s 401 shape), accepted as issued, refused when forged', async () => {
  const anon = await getJson(`${proxy.base}/api/executions/canvas-run-1/trace`);
  assert.equal(anon.status, 401);
  assert.equal(anon.body.detail.code, 'auth.missing_token');
  assert.equal(anon.headers.get('www-authenticate'), 'Bearer');
  const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  assert.equal((await canvasGet('/api/executions/canvas-run-1/trace', { authorization: `Bearer ${forged}` })).status, 401);
  const other = mint({ iss: 'someone-else', sub: 'x', exp: Math.floor(Date.now() / 1000) + 3600 });
  assert.equal((await canvasGet('/api/executions/canvas-run-1/trace', { authorization: `Bearer ${other}` })).status, 401);
});

test('every other path goes to Orcheo: workflows, history, artifacts, look-alike trace paths', async () => {
  for (const p of ['/api/workflows/wf-1/executions?limit=50', '/api/executions/canvas-run-1/history',
    '/api/artifacts/art-1/download', '/api/executions/canvas-run-1/trace/extra', '/api/workflows/wf-1']) {
    const r = await canvasGet(p);
    assert.equal(r.status, 200, p);
    assert.equal(r.body.from, 'orcheo', `${p} answered by Orcheo`);
    assert.equal(r.body.path, p);
  }
});

test('live: Arbor\'s trace:update frames through the proxy (token as the Canvas sends it), and Orcheo\'s run socket', async () => {
  const frames = [];
  const ws = new WebSocket(`${proxy.ws}/api/executions/canvas-run-2/trace/live`, ['orcheo-auth', `bearer.${token}`],
    { headers: { origin: CANVAS } });
  ws.on('message', (m) => frames.push(JSON.parse(String(m))));
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  assert.equal(ws.protocol, 'orcheo-auth');
  const provider = makeProvider({ protocol: 'proto', url: `${arbor.base}/v1/traces` });
  await orcheoRun(provider, { executionId: 'canvas-run-2', nodes: 3 });
  await provider.shutdown();
  // Each span is its own request (SimpleSpanProcessor), so on a busy machine one
  // may land after a quiet period has already said "complete"; Arbor then sends
  // it and says "complete" again. Wait for that: all four spans, then complete.
  const real = () => new Set(frames.flatMap((f) => f.spans.filter((s) => !s.attributes['arbor.placeholder']).map((s) => s.span_id)));
  await eventually(() => real().size === 4 && frames.at(-1).complete, { timeoutMs: 20000 });
  ws.close();
  assert.ok(frames.every((f) => f.type === 'trace:update' && f.execution_id === 'canvas-run-2'));
  assert.equal(real().size, 4);
  const run = new WebSocket(`${proxy.ws}/ws/workflow/wf-1?access_token=x`);
  const hello = await new Promise((resolve, reject) => { run.on('message', (m) => resolve(JSON.parse(String(m)))); run.on('error', reject); });
  run.close();
  assert.deepEqual(hello, { from: 'orcheo', path: '/ws/workflow/wf-1?access_token=x' });
  assert.doesNotMatch(proxy.log(), /\[(error|crit|alert|emerg)\]/, 'nginx logged no error');
});

test('shutdown', async () => {
  orcheo.wss.close();
  orcheo.server.close();
  // nginx's master must outlive its worker: killed first (the suite's clean-up
  // does SIGKILL), it would leave the worker behind, listening, for good.
  proxy.proc.kill('SIGTERM');
  await proxy.stopped;
});

await run();
