// Arbor beside its peers, on this machine, in one run (SPEC §7, issue 16): the
// same C load generator with the same OTLP protobuf bodies (100 spans each)
// against
//   - Jaeger v1.75.0 all-in-one, Badger with SyncWrites (--badger.consistency), and
//     with its memory store (not durable: a second row),
//   - the OpenTelemetry Collector: otlp receiver -> nop exporter (decoding only),
//   - Arbor (durable: an fsync per group commit),
// over OTLP/HTTP HTTP/1.1, h2c and gRPC; then the same 1,000-span trace read
// back: Jaeger's /api/traces/{id} against Arbor's Tempo v2 by ID (protobuf) and
// Canvas tree. Prints "name value unit" lines and the ratios.
// Usage: ARBOR_BUILD_DIR=build-release ARBOR_OTELCOL=… ARBOR_JAEGER=… node tests/bench/peers.mjs [--quick]
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir, startCollector, startQuery, BUILD, curl, track, freePort, eventually, hex } from '../integration/lib.mjs';
import { loadgenAsync, settle, orcheoExecution1k } from './lib.mjs';

const quick = process.argv.includes('--quick');
const DUR = quick ? 3 : 8, REQS = quick ? 300 : 1500;
const { ARBOR_OTELCOL: OTELCOL, ARBOR_JAEGER: JAEGER } = process.env;
const dir = tempDir('arbor-bench-peers-');
const GRPC = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const NOW = 1_800_000_000_000_000_000n;

const body = path.join(dir, 'body.bin'), offsets = path.join(dir, 'body.off');
const mk = spawnSync('/usr/bin/python3', [new URL('make_body.py', import.meta.url).pathname,
  path.join(BUILD, 'proto/otlp.desc'), body, offsets, '100'], { encoding: 'utf8' });
if (mk.status !== 0) throw new Error(mk.stderr);

const figures = {};
// A peer that cannot take a protocol (Jaeger v1's OTLP/HTTP has no h2c) gets
// no figure, said as a comment.
async function load(name, url, proto) {
  const conns = proto === 'h1' ? ['--connections', '32'] : ['--connections', '8', '--streams', '4'];
  let res;
  try {
    res = await loadgenAsync(['--body', body, '--offsets', offsets, '--spans', '100', '--duration', String(DUR),
      '--warmup', '1', '--url', url, '--proto', proto, '--name', name, ...conns]);
  } catch (e) {
    const why = String(e.message).split('\n').map((l) => l.trim()).filter(Boolean).filter((l) => !l.startsWith('loadgen --')).at(-1);
    console.log(`# ${name}: no figure (${why || (proto === 'h2' ? 'h2c refused' : 'failed')})`);
    figures[name] = null;
    return null;
  }
  if (res.reconnects) console.log(`# ${name}: the server closed every connection after its answer (${res.reconnects} reconnects, counted in the latency)`);
  // spans_per_s counts accepted requests only; refusals (a full queue's 503) are said
  console.log(`${name}_spans_per_s ${Math.round(res.spans_per_s)} spans/s${res.errors ? ` (${res.errors} requests refused)` : ''}`);
  figures[name] = res.spans_per_s;
  return res.spans_per_s;
}

const waitPort = (port) => eventually(() => spawnSync('bash', ['-c', `echo > /dev/tcp/127.0.0.1/${port}`]).status === 0, { timeoutMs: 60000 });

function daemon(bin, args, env = {}) {
  const p = track(spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] }));
  p.stderr.on('data', () => {}); // drained, so it never blocks
  return { proc: p, stop: () => new Promise((r) => { if (p.exitCode !== null) r(); else { p.on('exit', r); p.kill('SIGTERM'); } }) };
}

async function jaeger(storage) {
  const [grpc, http, query, admin, cgrpc, chttp, qgrpc] = await Promise.all(Array.from({ length: 7 }, freePort));
  const data = tempDir('arbor-bench-jaeger-');
  const env = storage === 'badger' ? { SPAN_STORAGE_TYPE: 'badger' } : { SPAN_STORAGE_TYPE: 'memory' };
  const badger = storage === 'badger' ? ['--badger.ephemeral=false', '--badger.consistency=true',
    `--badger.directory-key=${data}/key`, `--badger.directory-value=${data}/value`] : [];
  const d = daemon(JAEGER, [`--collector.otlp.grpc.host-port=127.0.0.1:${grpc}`, `--collector.otlp.http.host-port=127.0.0.1:${http}`,
    `--query.http-server.host-port=127.0.0.1:${query}`, `--admin.http.host-port=127.0.0.1:${admin}`,
    `--collector.grpc-server.host-port=127.0.0.1:${cgrpc}`, `--collector.http-server.host-port=127.0.0.1:${chttp}`,
    `--query.grpc-server.host-port=127.0.0.1:${qgrpc}`, '--log-level=error', ...badger], env);
  await waitPort(grpc);
  await waitPort(query);
  return { ...d, grpc, http, query };
}

async function otelcol() {
  const port = await freePort(), hport = await freePort();
  const config = path.join(dir, 'nop.yaml');
  writeFileSync(config, `
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${port} }, http: { endpoint: 127.0.0.1:${hport} } } }
exporters:
  nop:
service:
  telemetry: { metrics: { level: none }, logs: { level: error } }
  pipelines: { traces: { receivers: [otlp], exporters: [nop] } }
`);
  const d = daemon(OTELCOL, [`--config=${config}`]);
  await waitPort(port);
  await waitPort(hport);
  return { ...d, grpc: port, http: hport };
}

async function ingestRow(name, httpBase, grpcAddr) {
  await load(`${name}_h1`, `${httpBase}/v1/traces`, 'h1');
  await load(`${name}_h2c`, `${httpBase}/v1/traces`, 'h2');
  await load(`${name}_grpc`, `http://${grpcAddr}${GRPC}`, 'grpc');
}

async function probe(url, header) {
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const args = ['--url', url, '--proto', 'h1', '--method', 'GET', '--connections', '1', '--requests', String(REQS), '--warmup', '0', '--name', 'probe'];
    if (header) args.push('--header', header);
    const res = await loadgenAsync(args);
    if (res.last_status !== 200) throw new Error(`${url}: HTTP ${res.last_status}`);
    runs.push(res);
  }
  runs.sort((a, b) => a.p50_ms - b.p50_ms);
  return runs[1];
}

function post1k(base) {
  const json = path.join(dir, `1k-${Math.random()}.json`);
  writeFileSync(json, JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }] },
    scopeSpans: [{ spans: orcheoExecution1k(NOW) }] }] }));
  const r = curl(['-H', 'content-type: application/json', '--data-binary', `@${json}`, '-w', '%{http_code}', '-o', '/dev/null', `${base}/v1/traces`]);
  if (r.stdout.toString() !== '200') throw new Error(`post 1k to ${base}: ${r.stdout} ${r.stderr}`);
}

if (!JAEGER || !OTELCOL) {
  console.log('# peers: skipped (ARBOR_JAEGER or ARBOR_OTELCOL unset: tests/bench/run builds both)');
  process.exit(0);
}

// ingest, each system alone on the machine in turn
const data = tempDir('arbor-bench-peers-arbor-');
const arbor = await startCollector(data, ['--log-level=warn']);
await ingestRow('peer_arbor', `http://${arbor.otlp_http}`, arbor.otlp_grpc);
post1k(`http://${arbor.otlp_http}`);
const query = await startQuery(data, ['--log-level=warn']);
for (const storage of ['badger', 'memory']) {
  const j = await jaeger(storage);
  await ingestRow(`peer_jaeger_${storage}`, `http://127.0.0.1:${j.http}`, `127.0.0.1:${j.grpc}`);
  await j.stop();
}
// the 1,000-span trace read back: a fresh Jaeger (no backlog from the load above)
{
  const j = await jaeger('badger');
  post1k(`http://127.0.0.1:${j.http}`);
  settle();
  await eventually(async () => (await fetch(`http://127.0.0.1:${j.query}/api/traces/${hex(1, 32)}`)).ok, { timeoutMs: 60000 });
  const jq = await probe(`http://127.0.0.1:${j.query}/api/traces/${hex(1, 32)}`);
  const tv2 = await probe(`http://${query.query}/api/v2/traces/${hex(1, 32)}`, 'Accept: application/protobuf');
  const tree = await probe(`http://${query.query}/api/executions/exec-1k/trace`);
  for (const [name, r] of [['peer_jaeger_trace_by_id_1k', jq], ['peer_arbor_tempo_v2_1k', tv2], ['peer_arbor_canvas_tree_1k', tree]]) {
    console.log(`${name}_p50 ${r.p50_ms.toFixed(3)} ms`);
    console.log(`${name}_p99 ${r.p99_ms.toFixed(3)} ms`);
  }
  console.log(`peer_arbor_tempo_v2_vs_jaeger_1k_p99 ${(tv2.p99_ms / jq.p99_ms).toFixed(3)} x`);
  await j.stop();
}
const c = await otelcol();
await ingestRow('peer_otelcol_nop', `http://127.0.0.1:${c.http}`, `127.0.0.1:${c.grpc}`);
await c.stop();
await query.stop();
await arbor.stop();
for (const p of ['h1', 'h2c', 'grpc'])
  for (const peer of ['jaeger_badger', 'jaeger_memory', 'otelcol_nop']) {
    const a = figures[`peer_arbor_${p}`], b = figures[`peer_${peer}_${p}`];
    if (a && b) console.log(`peer_arbor_vs_${peer}_${p} ${(a / b).toFixed(3)} x`);
  }
