// deploy/ checked with the real tools (SPEC §9): the Kubernetes manifests with
// kubeconform (strict, against the schemas of a pinned Kubernetes release; both
// built by tests/deploy/build), every OpenTelemetry Collector config with the
// built Collector (`validate`, and the sharded one for real), the systemd units
// with systemd-analyze and the sysusers file with systemd-sysusers.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test, run, tempDir, startCollector, startQuery, getJson, eventually, freePort, startOtelcol, BUILD } from './lib.mjs';
import { makeProvider, orcheoRun } from './otel.mjs';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const DEPLOY = path.join(ROOT, 'deploy');
const { ARBOR_OTELCOL: OTELCOL, ARBOR_KUBECONFORM: KUBECONFORM, ARBOR_K8S_SCHEMAS: SCHEMAS } = process.env;

function kubeconform(files) {
  assert.ok(KUBECONFORM && SCHEMAS, 'ARBOR_KUBECONFORM / ARBOR_K8S_SCHEMAS unset: tests/run sets them (tests/deploy/build)');
  return spawnSync(KUBECONFORM, ['-strict', '-summary', '-output', 'json', '-skip', 'Kustomization',
    '-schema-location', `${SCHEMAS}/{{.ResourceKind}}{{.KindSuffix}}.json`, ...files], { encoding: 'utf8' });
}

const manifests = () => readdirSync(path.join(DEPLOY, 'kubernetes')).filter((f) => f.endsWith('.yaml'))
  .map((f) => path.join(DEPLOY, 'kubernetes', f));

test('Kubernetes manifests: every resource valid against the Kubernetes v1.31 schemas (strict)', () => {
  const r = kubeconform(manifests());
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const { summary } = JSON.parse(r.stdout);
  assert.equal(summary.invalid, 0);
  assert.equal(summary.errors, 0);
  const kinds = readFileSync(path.join(DEPLOY, 'kubernetes/shards.yaml'), 'utf8') + manifests().map((f) => readFileSync(f, 'utf8')).join('\n');
  for (const k of ['StatefulSet', 'Deployment', 'Service', 'ConfigMap', 'NetworkPolicy', 'ServiceAccount', 'Role', 'RoleBinding', 'Namespace'])
    assert.match(kinds, new RegExp(`^kind: ${k}$`, 'm'), `a ${k}`);
  assert.ok(summary.valid >= 14, JSON.stringify(summary));
});

test('kubeconform is strict here: a misspelt field or a wrong type is refused', () => {
  const dir = tempDir();
  const shards = readFileSync(path.join(DEPLOY, 'kubernetes/shards.yaml'), 'utf8');
  for (const [name, broken] of [['misspelt', shards.replace('  replicas: 3 ', '  replica: 3 ')],
    ['type', shards.replace('terminationGracePeriodSeconds: 60', 'terminationGracePeriodSeconds: soon')],
    ['probe', shards.replace('httpGet: {path: /ready, port: query}', 'httpGet: {path: /ready, port: query, verb: GET}')]]) {
    assert.notEqual(broken, shards, name);
    writeFileSync(path.join(dir, `${name}.yaml`), broken);
    const r = kubeconform([path.join(dir, `${name}.yaml`)]);
    assert.notEqual(r.status, 0, `${name}: ${r.stdout}`);
  }
});

// The config of the Collector's ConfigMap, as Kubernetes would mount it.
function configMapConfig() {
  const text = readFileSync(path.join(DEPLOY, 'kubernetes/otel-collector.yaml'), 'utf8');
  const lines = text.split('\n');
  const at = lines.findIndex((l) => /^\s+config\.yaml: \|$/.test(l));
  const indent = lines[at + 1].match(/^\s*/)[0].length;
  const body = [];
  for (const l of lines.slice(at + 1)) {
    if (l.trim() !== '' && l.match(/^\s*/)[0].length < indent) break;
    body.push(l.slice(indent));
  }
  return body.join('\n');
}

test('every Collector config passes the built Collector\'s validate', () => {
  assert.ok(OTELCOL, 'ARBOR_OTELCOL unset: tests/run builds the Collector');
  const dir = tempDir();
  writeFileSync(path.join(dir, 'k8s.yaml'), configMapConfig());
  const env = { ...process.env, ARBOR_SHARDS_OTLP: '[127.0.0.1:4317, 127.0.0.1:4318]', ARBOR_REPLICAS_OTLP: '[127.0.0.1:4319]' };
  for (const config of [path.join(DEPLOY, 'otel-collector/config.yaml'), path.join(DEPLOY, 'otel-collector/sharded.yaml'), path.join(dir, 'k8s.yaml')]) {
    const r = spawnSync(OTELCOL, ['validate', `--config=${config}`], { encoding: 'utf8', env });
    assert.equal(r.status, 0, `${config}: ${r.stderr}`);
  }
  writeFileSync(path.join(dir, 'bad.yaml'), configMapConfig().replace('routing_key: traceID', 'routing_key: traceId'));
  const bad = spawnSync(OTELCOL, ['validate', `--config=${path.join(dir, 'bad.yaml')}`], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0, 'validate catches a wrong routing key');
});

test('deploy/otel-collector/sharded.yaml for real: two shards and a replica each get every trace', async () => {
  const start = async () => { const d = tempDir(); return { c: await startCollector(d, ['--otlp-http-addr=off']), q: await startQuery(d) }; };
  const shards = [await start(), await start()], replica = await start();
  const grpc = await freePort(), http = await freePort();
  const env = { ...process.env, OTELCOL_GRPC_ENDPOINT: `127.0.0.1:${grpc}`, OTELCOL_HTTP_ENDPOINT: `127.0.0.1:${http}`,
    ARBOR_SHARDS_OTLP: `[${shards.map((s) => s.c.otlp_grpc).join(', ')}]`, ARBOR_REPLICAS_OTLP: `[${replica.c.otlp_grpc}]` };
  const otelcol = await startOtelcol(path.join(DEPLOY, 'otel-collector/sharded.yaml'), { env });
  try {
    const provider = makeProvider({ protocol: 'grpc', url: `http://127.0.0.1:${grpc}`, batch: true });
    const runs = [];
    for (let i = 0; i < 20; i++) runs.push(await orcheoRun(provider, { executionId: `sharded-${i}`, nodes: 2 }));
    await provider.shutdown();
    const fed = await startQuery(tempDir(), [], { env: { ARBOR_SHARDS: shards.map((s) => s.q.base).join(',') } });
    for (const [i, r] of runs.entries()) {
      for (const base of [fed.base, replica.q.base]) {
        const t = await eventually(async () => {
          const x = await getJson(`${base}/api/executions/sharded-${i}/trace`);
          return x.body.execution?.status === 'completed' && x.body;
        }, { timeoutMs: 30000 });
        assert.equal(t.execution.trace_id, r.traceId);
        assert.equal(t.spans.length, 3);
      }
    }
    const held = await Promise.all(shards.map(async (s) => (await getJson(`${s.q.base}/api/traces?limit=100`)).body.traces.length));
    assert.equal(held[0] + held[1], 20, `each trace on one shard: ${held}`);
    assert.ok(held[0] > 0 && held[1] > 0, `spread over both: ${held}`);
    await fed.stop();
  } finally {
    await otelcol.stop();
  }
});

// deploy/local/up on this build; resolves with its output once it printed its
// banner or exited, and a stop() that ends it (Ctrl-C) and its daemons.
function up(env) {
  const p = spawn(path.join(DEPLOY, 'local/up'), [], { detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ARBOR_UP_BUILD_DIR: BUILD, ARBOR_RETENTION: '0s', ...env } });
  let out = '';
  const exited = new Promise((res) => p.on('exit', (code) => res(code)));
  const stop = async () => { try { process.kill(-p.pid, 'SIGINT'); } catch { /* gone */ } return exited; };
  return new Promise((resolve) => {
    const onData = (d) => { out += d; if (/Health +\S+\/ready/.test(out)) resolve({ out, stop, exited, code: null }); };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    exited.then((code) => resolve({ get out() { return out; }, stop, exited, code }));
  });
}

test('deploy/local/up with port 0 prints the ports the daemons bound, and they answer', async () => {
  const r = await up({ ARBOR_DATA_DIR: tempDir(), ARBOR_QUERY_ADDR: '127.0.0.1:0', ARBOR_OTLP_HTTP_ADDR: '127.0.0.1:0',
    ARBOR_OTLP_GRPC_ADDR: '127.0.0.1:0' });
  try {
    assert.equal(r.code, null, r.out);
    assert.doesNotMatch(r.out, /:0\b/, 'no port 0 in the banner');
    const http = /OTLP\/HTTP +http:\/\/(127\.0\.0\.1:\d+)\/v1\/traces/.exec(r.out)[1];
    const grpc = /OTLP\/gRPC +(127\.0\.0\.1:\d+)/.exec(r.out)[1];
    const query = /Health +http:\/\/(127\.0\.0\.1:\d+)\/ready/.exec(r.out)[1];
    // the query opens the store the collector makes, at its next try
    await eventually(async () => (await fetch(`http://${query}/ready`)).status === 200);
    const post = await fetch(`http://${http}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(post.status, 200);
    await new Promise((res, rej) => net.connect(Number(grpc.split(':')[1]), '127.0.0.1', res).on('error', rej).unref());
  } finally {
    assert.equal(await r.stop(), 0, 'Ctrl-C: exit 0');
  }
});

test('deploy/local/up exits non-zero with the daemon\'s error when a port is taken', async () => {
  const taken = net.createServer().listen(0, '127.0.0.1');
  await new Promise((res) => taken.on('listening', res));
  try {
    for (const [name, env] of [['query', { ARBOR_QUERY_ADDR: `127.0.0.1:${taken.address().port}`, ARBOR_OTLP_HTTP_ADDR: '127.0.0.1:0',
      ARBOR_OTLP_GRPC_ADDR: '127.0.0.1:0' }], ['collector', { ARBOR_QUERY_ADDR: '127.0.0.1:0',
      ARBOR_OTLP_HTTP_ADDR: `127.0.0.1:${taken.address().port}`, ARBOR_OTLP_GRPC_ADDR: '127.0.0.1:0' }]]) {
      const r = await up({ ARBOR_DATA_DIR: tempDir(), ...env });
      if (r.code === null) await r.stop();
      assert.notEqual(r.code, null, `${name}: up must not report a running Arbor:\n${r.out}`);
      assert.notEqual(r.code, 0, r.out);
      assert.doesNotMatch(r.out, /Arbor is running/);
      assert.match(r.out, new RegExp(`up: arbor-${name} did not start: .*event=listen_failed.*Address already in use`), r.out);
    }
  } finally {
    taken.close();
  }
});

test('systemd units verify cleanly, and sysusers creates the arbor user', () => {
  const dir = tempDir();
  const units = readdirSync(path.join(DEPLOY, 'systemd')).filter((f) => f.endsWith('.service'));
  assert.ok(units.includes('arbor-federation.service'));
  for (const u of units) // the binaries are not installed here: verify the unit, not the install
    writeFileSync(path.join(dir, u), readFileSync(path.join(DEPLOY, 'systemd', u), 'utf8')
      .replace(/^(ExecStart(Pre)?)=\/usr\/local\/bin\/\S+.*$/gm, '$1=/bin/true'));
  const v = spawnSync('systemd-analyze', ['verify', ...units.map((u) => path.join(dir, u))], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stderr.trim(), '', 'no warnings');
  const root = path.join(dir, 'root');
  mkdirSync(path.join(root, 'etc'), { recursive: true });
  const s = spawnSync('systemd-sysusers', [`--root=${root}`, path.join(DEPLOY, 'systemd/arbor.sysusers.conf')], { encoding: 'utf8' });
  assert.equal(s.status, 0, s.stderr);
  assert.match(readFileSync(path.join(root, 'etc/passwd'), 'utf8'), /^arbor:x:\d+:\d+:Arbor span store:\/var\/lib\/arbor:\/usr\/sbin\/nologin$/m);
});

await run();
