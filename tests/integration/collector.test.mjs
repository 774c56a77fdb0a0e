// Arbor behind the real OpenTelemetry Collector (SPEC §9), built from
// tests/collector/builder-config.yaml by tests/collector/build (tests/run passes
// its path in ARBOR_OTELCOL). The OTel JS exporters feed the Collector; its
// `otlp` (gRPC) and `otlphttp` exporters, gzip on, feed an Arbor with SPEC §8 on:
// the Collector's bearertokenauth extension and tls settings against
// ARBOR_AUTH=required, ARBOR_MULTITENANCY=on and TLS.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import path from 'node:path';
import { test, setup, run, tempDir, startCollector, startQuery, getJson, eventually, makeCerts, freePort, writeTokensFile, startOtelcol } from './lib.mjs';
import { makeProvider, orcheoRun, assertCompletedRun } from './otel.mjs';

const OTELCOL = process.env.ARBOR_OTELCOL;
const WRITER = 'collector-writer-token', READER = 'collector-reader-token';
let dir, certs, arbor, query;

setup('the built Collector, and an Arbor with auth, multitenancy and TLS', async () => {
  assert.ok(OTELCOL, 'ARBOR_OTELCOL is unset: tests/run builds the Collector (tests/collector/build) and sets it');
  dir = tempDir('arbor-otelcol-');
  certs = makeCerts(dir);
  writeTokensFile(path.join(dir, 'tokens'), { [WRITER]: 'acme traces:write otelcol', [READER]: 'acme traces:read me' });
  const env = { ARBOR_AUTH: 'required', ARBOR_MULTITENANCY: 'on', ARBOR_AUTH_TOKENS_FILE: path.join(dir, 'tokens'),
    ARBOR_AUTH_WRITE_SCOPES: 'traces:write', ARBOR_AUTH_READ_SCOPES: 'traces:read' };
  const data = tempDir();
  arbor = await startCollector(data, [], { env: { ...env, ARBOR_TLS_CERT: certs.cert, ARBOR_TLS_KEY: certs.key } });
  query = await startQuery(data, [], { env: { ...env, ARBOR_LIVE_QUIET: '300ms' } });
});

// A Collector on free local ports exporting to Arbor with @p exporter; resolves
// once it is ready.
async function collectorTo(name, exporter) {
  const grpcPort = await freePort(), httpPort = await freePort(), metricsPort = await freePort();
  const config = path.join(dir, `${name}.yaml`);
  writeFileSync(config, `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${grpcPort} }
      http: { endpoint: 127.0.0.1:${httpPort} }
processors:
  batch: { send_batch_size: 256, timeout: 200ms }
extensions:
  bearertokenauth/arbor:
    token: \${env:ARBOR_WRITE_TOKEN}
exporters:
  ${exporter}:
    endpoint: ${exporter.startsWith('otlphttp') ? `https://${arbor.otlp_http}` : arbor.otlp_grpc}
    compression: gzip
    auth: { authenticator: bearertokenauth/arbor }
    headers: { X-Scope-OrgID: acme }
    tls: { ca_file: ${certs.ca} }
service:
  extensions: [bearertokenauth/arbor]
  telemetry:
    metrics:
      readers:
        - pull: { exporter: { prometheus: { host: 127.0.0.1, port: ${metricsPort} } } }
  pipelines:
    traces: { receivers: [otlp], processors: [batch], exporters: [${exporter}] }
`);
  const valid = spawnSync(OTELCOL, ['validate', `--config=${config}`], { encoding: 'utf8', env: { ...process.env, ARBOR_WRITE_TOKEN: WRITER } });
  assert.equal(valid.status, 0, `validate: ${valid.stderr}`);
  const otelcol = await startOtelcol(config, { env: { ARBOR_WRITE_TOKEN: WRITER } });
  return { ...otelcol, http: `http://127.0.0.1:${httpPort}`, grpc: `http://127.0.0.1:${grpcPort}` };
}

const read = (url) => getJson(`${query.base}${url}`, { headers: { authorization: `Bearer ${READER}`, 'x-scope-orgid': 'acme' } });

for (const [exporter, sender] of [['otlp/arbor', 'proto'], ['otlphttp/arbor', 'grpc']]) {
  test(`OTel JS ${sender} exporter → Collector → ${exporter} (gzip, bearertokenauth, TLS) → Arbor: Orcheo runs arrive whole`, async () => {
    const otelcol = await collectorTo(exporter.split('/')[0], exporter);
    try {
      // a Canvas-like live view of the first run, open before it starts
      const first = `via-${exporter.split('/')[0]}-0`, frames = [];
      const ws = new WebSocket(`${query.base.replace('http', 'ws')}/api/executions/${first}/trace/live`,
        { headers: { authorization: `Bearer ${READER}`, 'x-scope-orgid': 'acme' } });
      ws.on('message', (m) => frames.push(JSON.parse(String(m))));
      await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
      const runs = [];
      for (let i = 0; i < 3; i++) {
        const provider = makeProvider({ protocol: sender, url: sender === 'grpc' ? otelcol.grpc : `${otelcol.http}/v1/traces` });
        const exec = `via-${exporter.split('/')[0]}-${i}`;
        runs.push([exec, await orcheoRun(provider, { executionId: exec, nodes: 4 + i })]);
        await provider.shutdown();
      }
      for (const [i, [exec, r]] of runs.entries()) {
        const body = await eventually(async () => {
          const t = await read(`/api/executions/${exec}/trace`);
          return t.status === 200 && t.body.execution.status === 'completed' && t.body;
        }, { timeoutMs: 30000 });
        assertCompletedRun(body, r, exec, 4 + i);
      }
      // The Collector may split a run over batches: a "complete" can come before
      // the last batch, and again after it. Wait for every span, then complete.
      const liveIds = () => new Set(frames.flatMap((f) => f.spans.filter((x) => !x.attributes['arbor.placeholder']).map((x) => x.span_id)));
      await eventually(() => liveIds().size === 4 + 1 && frames.at(-1).complete, { timeoutMs: 30000 });
      ws.close();
      const live = liveIds();
      assert.equal(live.size, 4 + 1, 'every span of the run came live, through the Collector\'s batching');
      assert.ok(live.has(runs[0][1].rootId));
      const list = await read('/api/executions?limit=50');
      for (const [exec] of runs) assert.ok(list.text.includes(exec), `${exec} listed`);
      assert.doesNotMatch(otelcol.log(), /Exporting failed/, 'the Collector exported without a refusal');
    } finally {
      await otelcol.stop();
    }
  });
}

test('the Collector without the token is refused by Arbor (and says so)', async () => {
  const grpcPort = await freePort();
  const config = path.join(dir, 'noauth.yaml');
  writeFileSync(config, `
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${grpcPort} } } }
exporters:
  otlp/arbor:
    endpoint: ${arbor.otlp_grpc}
    tls: { ca_file: ${certs.ca} }
    retry_on_failure: { enabled: false }
service:
  telemetry: { metrics: { level: none } }
  pipelines: { traces: { receivers: [otlp], exporters: [otlp/arbor] } }
`);
  const otelcol = await startOtelcol(config);
  try {
    const provider = makeProvider({ protocol: 'grpc', url: `http://127.0.0.1:${grpcPort}` });
    await orcheoRun(provider, { executionId: 'refused-run', nodes: 1 });
    await provider.shutdown();
    await eventually(() => /Unauthenticated|UNAUTHENTICATED|auth.missing_token/.test(otelcol.log()), { timeoutMs: 30000 });
    const t = await read('/api/executions/refused-run/trace');
    assert.equal(t.body.execution.status, 'unknown', 'nothing of it was stored');
  } finally {
    await otelcol.stop();
  }
});

test('deploy/otel-collector/config.yaml is a valid configuration of the real Collector', () => {
  const r = spawnSync(OTELCOL, ['validate', `--config=${path.join(path.dirname(new URL(import.meta.url).pathname), '../../deploy/otel-collector/config.yaml')}`],
    { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

await run();
