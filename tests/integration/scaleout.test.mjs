// Scale-out end to end (SPEC §9): the real OpenTelemetry Collector with two
// `loadbalancing` exporters (static resolver, routing_key: traceID), each in
// front of its own set of three Arbor shards, and an `otlp` exporter into one
// single store. Orcheo-shaped runs from the OTel JS SDK, some resumed (two
// traces, one execution ID). Each trace must be stored on exactly one shard of a
// set; every answer of a federating query over one set must equal the single
// store's; with both sets federated, a shard killed -9 loses no trace.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { trace, context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { test, setup, run, tempDir, startCollector, startQuery, getJson, eventually, freePort, startOtelcol } from './lib.mjs';
import { makeProvider } from './otel.mjs';

const OTELCOL = process.env.ARBOR_OTELCOL;
const RUNS = Number(process.env.ARBOR_SCALEOUT_RUNS || 2000), RESUMED_EVERY = 10, NODES = 3;
let dir, setA = [], setB = [], single, otelcol, fedA, fedAB;
const sent = { traces: [], executions: new Map(), spans: 0 };

async function startShard() {
  const data = tempDir();
  const collector = await startCollector(data, ['--otlp-http-addr=off']);
  return { collector, query: await startQuery(data), data };
}

setup('two sets of three shards, a single store, and the Collector fanning out to them', async () => {
  assert.ok(OTELCOL, 'ARBOR_OTELCOL is unset: tests/run builds the Collector (tests/collector/build) and sets it');
  dir = tempDir('arbor-scaleout-');
  for (let i = 0; i < 3; i++) setA.push(await startShard());
  for (let i = 0; i < 3; i++) setB.push(await startShard());
  single = await startShard();
  const inPort = await freePort();
  const lb = (set) => `
    routing_key: traceID
    protocol: { otlp: { tls: { insecure: true }, compression: gzip, retry_on_failure: { enabled: true, max_elapsed_time: 0s } } }
    resolver: { static: { hostnames: [${set.map((s) => s.collector.otlp_grpc).join(', ')}] } }`;
  const config = path.join(dir, 'otelcol.yaml');
  writeFileSync(config, `
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${inPort} } } }
processors:
  batch: { send_batch_size: 512, timeout: 100ms }
exporters:
  loadbalancing/a: ${lb(setA)}
  loadbalancing/b: ${lb(setB)}
  otlp/single:
    endpoint: ${single.collector.otlp_grpc}
    tls: { insecure: true }
    retry_on_failure: { enabled: true, max_elapsed_time: 0s }
service:
  telemetry: { metrics: { level: none } }
  pipelines: { traces: { receivers: [otlp], processors: [batch], exporters: [loadbalancing/a, loadbalancing/b, otlp/single] } }
`);
  otelcol = { ...await startOtelcol(config), url: `http://127.0.0.1:${inPort}` };
  const urls = (set) => set.map((s) => s.query.base).join(',');
  fedA = await startQuery(tempDir(), [], { env: { ARBOR_SHARDS: urls(setA) } });
  fedAB = await startQuery(tempDir(), [], { env: { ARBOR_SHARDS: urls([...setA, ...setB]), ARBOR_SHARD_TIMEOUT: '2s' } });
});

// One Orcheo-shaped trace: a root and zero-length node spans with their latency.
function oneTrace(tracer, exec, t0, k) {
  const root = tracer.startSpan('workflow.execution', { startTime: t0, kind: SpanKind.INTERNAL });
  root.setAttributes({ 'orcheo.workflow.id': `wf-${k % 7}`, 'orcheo.execution.thread_id': `thread-${k}` });
  const ctx = trace.setSpan(context.active(), root);
  for (let i = 0; i < NODES; i++) {
    const at = t0 + 100 * (i + 1);
    const s = tracer.startSpan(`node-${i}`, { startTime: at }, ctx);
    s.setAttributes({ 'orcheo.node.id': `n${i}`, 'orcheo.node.latency_ms': 40, 'orcheo.token.input': 10 + i,
      'orcheo.token.output': k % 13, 'scaleout.bucket': `b${k % 5}` });
    s.addEvent('prompt', { preview: `question ${k}.${i}` }, at);
    s.end(at);
  }
  root.setAttribute('orcheo.execution.id', exec);
  root.setStatus({ code: k % 17 === 0 ? SpanStatusCode.ERROR : SpanStatusCode.OK });
  root.end(t0 + 100 * (NODES + 2));
  sent.traces.push(root.spanContext().traceId);
  sent.spans += NODES + 1;
  sent.executions.set(exec, (sent.executions.get(exec) || 0) + NODES + 1);
}

const storedSpans = async (q) => Number(/^arbor_spans_stored_total (\d+)/m.exec(await (await fetch(`${q.base}/metrics`)).text())?.[1] ?? 0);

test(`${RUNS} runs (every ${RESUMED_EVERY}th resumed as a second trace) through the Collector reach every set whole`, async () => {
  const provider = makeProvider({ protocol: 'grpc', url: otelcol.url, batch: { maxExportBatchSize: 512, maxQueueSize: 100000 } });
  const tracer = provider.getTracer('orcheo_backend.app.workflow_execution', '0.16.1');
  const base = Date.now() - 3600000;
  for (let k = 0; k < RUNS; k++) {
    oneTrace(tracer, `run-${k}`, base + k * 1000, k);
    if (k % RESUMED_EVERY === 0) oneTrace(tracer, `run-${k}`, base + k * 1000 + 600, k); // resumed: a new trace
  }
  await provider.forceFlush();
  await provider.shutdown();
  for (const [name, set] of [['single', [single]], ['A', setA], ['B', setB]])
    await eventually(async () => (await Promise.all(set.map((s) => storedSpans(s.query)))).reduce((a, b) => a + b) === sent.spans,
      { timeoutMs: 120000, intervalMs: 250 }).catch((e) => { throw new Error(`set ${name}: ${e.message}`); });
});

test('each trace is stored on exactly one shard of each set, and the sets are spread', async () => {
  for (const set of [setA, setB]) {
    const owner = new Map();
    for (const [i, s] of set.entries()) {
      // A list holds at most 1,000 and the ring may give one shard near half of
      // the 2,200 traces: listed one workflow at a time (every root names one of 7).
      const traces = [];
      for (let w = 0; w < 7; w++) {
        const { body } = await getJson(`${s.query.base}/api/traces?limit=1000&workflow_id=wf-${w}`);
        assert.ok(body.traces.length < 1000, 'each shard lists all it holds');
        traces.push(...body.traces);
      }
      assert.ok(traces.length > sent.traces.length / 6, `shard ${i} holds ${traces.length} of ${sent.traces.length}: spread`);
      for (const t of traces) {
        assert.ok(!owner.has(t.trace_id), `trace ${t.trace_id} on shards ${owner.get(t.trace_id)} and ${i}`);
        owner.set(t.trace_id, i);
      }
    }
    assert.deepEqual([...owner.keys()].sort(), [...sent.traces].sort());
  }
});

const strip = (v) => Array.isArray(v) ? v.map(strip)
  : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'seq' && k !== 'last_seq')
    .map(([k, x]) => [k, strip(x)])) : v;

async function assertSame(url, { metrics = true } = {}) {
  const [f, s] = await Promise.all([getJson(`${fedA.base}${url}`), getJson(`${single.query.base}${url}`)]);
  assert.equal(f.status, s.status, `${url}: ${f.text.slice(0, 200)}`);
  const cut = (b) => { const x = strip(b); if (!metrics) delete x.metrics; return x; };
  assert.deepEqual(cut(f.body), cut(s.body), `${url}: federation differs from the single store`);
  return f.body;
}

test('through federation, every execution tree and list equals the single store\'s', async () => {
  let resumed = 0;
  for (const [exec, spans] of sent.executions) {
    const b = await assertSame(`/api/executions/${exec}/trace`);
    assert.equal(b.spans.length, spans);
    resumed += b.execution.trace_ids.length > 1;
  }
  assert.equal(resumed, Math.ceil(RUNS / RESUMED_EVERY));
  for (const exec of [...sent.executions.keys()].filter((_, i) => i % 50 === 0)) {
    await assertSame(`/api/executions/${exec}/tree`);
    await assertSame(`/api/executions/${exec}/trace?limit=2`);
  }
  for (const q of ['?limit=1000', '?limit=10', '?status=error&limit=1000', '?workflow_id=wf-3&limit=1000'])
    await assertSame(`/api/executions${q}`);
  await assertSame('/api/traces?limit=1000');
});

test('through federation, Tempo lookups, searches and tags equal the single store\'s', async () => {
  for (const id of sent.traces.filter((_, i) => i % 40 === 0)) {
    await assertSame(`/api/v2/traces/${id}`);
    await assertSame(`/api/traces/${id}`);
  }
  for (const q of ['{ span.scaleout.bucket = "b3" }', '{ status = error }', '{ name = "node-1" && span.orcheo.token.output > 10 }'])
    for (const extra of ['&limit=20', '&limit=500&spss=2'])
      await assertSame(`/api/search?q=${encodeURIComponent(q)}${extra}`, { metrics: false });
  await assertSame('/api/search?tags=scaleout.bucket%3Db1&limit=30', { metrics: false });
  for (const u of ['/api/search/tags', '/api/v2/search/tags', '/api/v2/search/tag/span.scaleout.bucket/values', '/api/search/tag/orcheo.workflow.id/values'])
    await assertSame(u);
});

test('replicated: with both sets federated, a shard killed -9 leaves every trace complete', async () => {
  const victim = setA[1];
  await victim.collector.stop('SIGKILL');
  await victim.query.stop('SIGKILL');
  let partial = 0;
  for (const [exec, spans] of sent.executions) {
    const r = await getJson(`${fedAB.base}/api/executions/${exec}/trace`);
    assert.equal(r.status, 200);
    assert.equal(r.body.spans.length, spans, `${exec}: every span, through the surviving replica`);
    assert.notEqual(r.body.execution.status, 'running');
    partial += r.body.partial === true;
  }
  const list = await getJson(`${fedAB.base}/api/traces?limit=1000`);
  assert.equal(list.body.partial, true, 'lists say a shard is missing');
  const m = await (await fetch(`${fedAB.base}/metrics`)).text();
  assert.match(m, new RegExp(`arbor_shard_errors_total\\{shard="${victim.query.base.replace(/[.]/g, '\\.')}",reason="transport"\\} [1-9]`));
  assert.equal(partial, sent.executions.size, 'every answer says a shard did not answer');
});

test('the federating queries stop cleanly (no leak under the sanitizers)', async () => {
  for (const f of [fedA, fedAB]) assert.deepEqual(await f.stop(), { code: 0, sig: null }, f.log);
});

await run();
