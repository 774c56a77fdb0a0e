// Scale-out figures (SPEC §7, §9; issue 14):
//  1. federated query over 3 shards against one store holding the same spans:
//     the 1,000-span execution tree, Tempo v2 by ID, the executions list and a
//     TraceQL search, p50/p99 of each and the ratio, in one run;
//  2. OTLP/gRPC ingest through the real OpenTelemetry Collector (otlp receiver
//     -> otlp exporter, no batch processor and no sending queue, so the
//     Collector acknowledges only what Arbor acknowledged) against the same
//     generator straight into Arbor, in one run.
// Prints "name value unit" lines. Usage: ARBOR_BUILD_DIR=build-release
// ARBOR_OTELCOL=… node tests/bench/scaleout.mjs [--quick]
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir, startCollector, startQuery, BUILD, curl, track, freePort, eventually, hex, span } from '../integration/lib.mjs';
import { loadgenAsync, settle, orcheoExecution1k } from './lib.mjs';

const quick = process.argv.includes('--quick');
const DUR = quick ? 3 : 8, REQS = quick ? 300 : 1500;
const OTELCOL = process.env.ARBOR_OTELCOL;
const dir = tempDir('arbor-bench-scaleout-');
const NOW = 1_800_000_000_000_000_000n;

function post(base, spans) {
  const json = path.join(dir, `post-${Math.random()}.json`);
  writeFileSync(json, JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }] },
    scopeSpans: [{ spans }] }] }));
  const r = curl(['-H', 'content-type: application/json', '--data-binary', `@${json}`, '-w', '%{http_code}', '-o', '/dev/null', `${base}/v1/traces`]);
  if (r.stdout.toString() !== '200') throw new Error(`post: ${r.stdout} ${r.stderr}`);
}

async function probe(url) {
  const runs = [];
  for (let i = 0; i < 3; i++) { // the median of three runs
    const res = await loadgenAsync(['--url', url, '--proto', 'h1', '--method', 'GET', '--connections', '1',
      '--requests', String(REQS), '--warmup', '0', '--name', 'probe']);
    if (res.last_status !== 200) throw new Error(`${url}: HTTP ${res.last_status}`);
    runs.push(res);
  }
  runs.sort((a, b) => a.p50_ms - b.p50_ms);
  return runs[1];
}

async function federationFigures() {
  const shards = [], single = {};
  for (let i = 0; i < 3; i++) {
    const data = tempDir('arbor-bench-shard-');
    shards.push({ c: await startCollector(data, ['--log-level=warn']), q: await startQuery(data, ['--log-level=warn']) });
  }
  const sdata = tempDir('arbor-bench-single-');
  single.c = await startCollector(sdata, ['--log-level=warn']);
  single.q = await startQuery(sdata, ['--log-level=warn']);
  // the 1k execution on shard 1; 300 small traces spread over all three
  const big = orcheoExecution1k(NOW);
  post(`http://${shards[1].c.otlp_http}`, big);
  post(`http://${single.c.otlp_http}`, big);
  for (let s = 0; s < 3; s++) {
    const spans = [];
    for (let t = 0; t < 100; t++) {
      const tr = 1000 + s * 100 + t;
      spans.push(span({ trace: tr, id: tr * 10, name: 'workflow.execution', start: NOW + BigInt(tr) * 1000000n,
        attrs: { 'orcheo.execution.id': `small-${tr}`, 'bench.kind': `k${t % 4}` } }));
      for (let k = 1; k < 5; k++) spans.push(span({ trace: tr, id: tr * 10 + k, parent: tr * 10, name: `node-${k}`,
        start: NOW + BigInt(tr) * 1000000n + BigInt(k) }));
    }
    post(`http://${shards[s].c.otlp_http}`, spans);
    post(`http://${single.c.otlp_http}`, spans);
  }
  const fed = await startQuery(tempDir(), ['--log-level=warn'], { env: { ARBOR_SHARDS: shards.map((x) => `http://${x.q.query}`).join(',') } });
  settle();
  const q = encodeURIComponent('{ span.bench.kind = "k2" }');
  const routes = [['execution_tree_1k', '/api/executions/exec-1k/trace'], ['tempo_v2_1k', `/api/v2/traces/${hex(1, 32)}`],
    ['executions_list', '/api/executions?limit=50'], ['search_traceql', `/api/search?q=${q}&limit=20`]];
  for (const [name, url] of routes) {
    const one = await probe(`http://${single.q.query}${url}`);
    const fan = await probe(`http://${fed.query}${url}`);
    console.log(`single_${name}_p50 ${one.p50_ms.toFixed(3)} ms`);
    console.log(`federated3_${name}_p50 ${fan.p50_ms.toFixed(3)} ms`);
    console.log(`federated3_${name}_p99 ${fan.p99_ms.toFixed(3)} ms`);
    console.log(`federated3_vs_single_${name}_p50 ${(fan.p50_ms / one.p50_ms).toFixed(3)} x`);
    console.log(`federated3_vs_single_${name}_p99 ${(fan.p99_ms / one.p99_ms).toFixed(3)} x`);
  }
  for (const d of [fed, single.q, single.c, ...shards.flatMap((x) => [x.q, x.c])]) await d.stop();
}

async function collectorFigures() {
  if (!OTELCOL) {
    console.log('# ingest through the Collector: skipped (ARBOR_OTELCOL unset)');
    return;
  }
  const body = path.join(dir, 'body.bin'), offsets = path.join(dir, 'body.off');
  const mk = spawnSync('/usr/bin/python3', [new URL('make_body.py', import.meta.url).pathname,
    path.join(BUILD, 'proto/otlp.desc'), body, offsets, '100'], { encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(mk.stderr);
  const data = tempDir('arbor-bench-otelcol-data-');
  const arbor = await startCollector(data, ['--log-level=warn']);
  const inPort = await freePort();
  const config = path.join(dir, 'otelcol.yaml');
  writeFileSync(config, `
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${inPort} } } }
exporters:
  otlp/arbor:
    endpoint: ${arbor.otlp_grpc}
    tls: { insecure: true }
    sending_queue: { enabled: false }
    retry_on_failure: { enabled: false }
service:
  telemetry: { metrics: { level: none }, logs: { level: warn } }
  pipelines: { traces: { receivers: [otlp], exporters: [otlp/arbor] } }
`);
  const proc = track(spawn(OTELCOL, [`--config=${config}`], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  await eventually(async () => {
    const r = spawnSync('bash', ['-c', `echo > /dev/tcp/127.0.0.1/${inPort}`]);
    return r.status === 0;
  }, { timeoutMs: 30000 });
  const GRPC = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
  const run = (name, url) => loadgenAsync(['--body', body, '--offsets', offsets, '--spans', '100', '--duration', String(DUR),
    '--warmup', '1', '--url', url, '--proto', 'grpc', '--connections', '8', '--streams', '4', '--name', name]);
  const direct = await run('direct', `http://${arbor.otlp_grpc}${GRPC}`);
  const via = await run('via', `http://127.0.0.1:${inPort}${GRPC}`);
  if (direct.errors || via.errors) throw new Error(`errors: ${JSON.stringify({ direct, via })}\n${log.slice(-2000)}`);
  console.log(`ingest_grpc_direct_spans_per_s ${Math.round(direct.spans_per_s)} spans/s`);
  console.log(`ingest_grpc_via_otelcol_spans_per_s ${Math.round(via.spans_per_s)} spans/s`);
  console.log(`ingest_grpc_via_otelcol_p99 ${via.p99_ms.toFixed(3)} ms`);
  console.log(`ingest_via_otelcol_vs_direct ${(via.spans_per_s / direct.spans_per_s).toFixed(3)} x`);
  await new Promise((resolve) => { proc.on('exit', resolve); proc.kill('SIGTERM'); });
  await arbor.stop();
}

await federationFigures();
await collectorFigures();
