// What SPEC §8's protections cost (issue 13): OTLP ingest (HTTP/1.1, h2, gRPC)
// and the 1,000-span execution tree with ARBOR_AUTH=required,
// ARBOR_MULTITENANCY=on and TLS on, against the same with everything off, in
// one run, same generator, same machine. Prints "name value unit" lines.
// Usage: ARBOR_BUILD_DIR=build-release node tests/bench/secure.mjs [--quick]
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir, startCollector, startQuery, makeCerts, BUILD, curl, writeTokensFile } from '../integration/lib.mjs';
import { loadgenAsync, settle, orcheoExecution1k } from './lib.mjs';

const quick = process.argv.includes('--quick');
const DUR = quick ? 3 : 8, REQS = quick ? 300 : 2000;
const dir = tempDir('arbor-bench-secure-');
const certs = makeCerts(dir);
const WRITER = 'bench-writer-token';
writeTokensFile(path.join(dir, 'tokens'), { [WRITER]: 'acme traces:write w' });
// readers present an RS256 JWT (verified against a JWKS: the costlier check), writers a service token
const mint = (args, input) => spawnSync('/usr/bin/python3', [new URL('../integration/jwt_mint.py', import.meta.url).pathname,
  ...args], { input, encoding: 'utf8' });
mint(['keys', dir]);
const [JWT] = JSON.parse(mint(['mint', dir], JSON.stringify([{ alg: 'RS256', key: 'rsa', headers: { kid: 'rsa-1' },
  claims: { sub: 'bench', scope: 'traces:read', workspace_ids: ['acme'], exp: Math.floor(Date.now() / 1000) + 3600 } }])).stdout);
const secured = { ARBOR_AUTH_JWKS: path.join(dir, 'jwks.json'), ARBOR_AUTH: 'required', ARBOR_MULTITENANCY: 'on', ARBOR_AUTH_TOKENS_FILE: path.join(dir, 'tokens'),
  ARBOR_AUTH_WRITE_SCOPES: 'traces:write', ARBOR_AUTH_READ_SCOPES: 'traces:read',
  ARBOR_TLS_CERT: certs.cert, ARBOR_TLS_KEY: certs.key };

const body = path.join(dir, 'body.bin'), offsets = path.join(dir, 'body.off');
const mk = spawnSync('/usr/bin/python3', [new URL('make_body.py', import.meta.url).pathname,
  path.join(BUILD, 'proto/otlp.desc'), body, offsets, '100'], { encoding: 'utf8' });
if (mk.status !== 0) throw new Error(mk.stderr);

async function load(name, url, proto, header) {
  const conns = proto === 'h1' ? ['--connections', '32'] : ['--connections', '8', '--streams', '4'];
  const args = ['--body', body, '--offsets', offsets, '--spans', '100', '--duration', String(DUR), '--warmup', '1',
    '--url', url, '--proto', proto, '--name', name, ...conns];
  if (header) args.push('--header', header);
  const res = await loadgenAsync(args);
  if (res.errors > 0) throw new Error(`${name}: ${JSON.stringify(res)}`);
  console.log(`${name}_spans_per_s ${Math.round(res.spans_per_s)} spans/s`);
  return res.spans_per_s;
}

const GRPC = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const NOW = 1_800_000_000_000_000_000n;
const out = {};
for (const [mode, env] of [['off', {}], ['on', secured]]) {
  const data = tempDir('arbor-bench-secure-data-');
  const collector = await startCollector(data, ['--log-level=warn'], { env });
  const query = await startQuery(data, ['--log-level=warn'], { env });
  const s = mode === 'on' ? 'https' : 'http';
  const auth = mode === 'on' ? `Authorization: Bearer ${WRITER}` : undefined;
  out[`ingest_h1_${mode}`] = await load(`secure_${mode}_h1`, `${s}://${collector.otlp_http}/v1/traces`, 'h1', auth);
  out[`ingest_h2_${mode}`] = await load(`secure_${mode}_h2`, `${s}://${collector.otlp_http}/v1/traces`, 'h2', auth);
  out[`ingest_grpc_${mode}`] = await load(`secure_${mode}_grpc`, `${s}://${collector.otlp_grpc}${GRPC}`, 'grpc', auth);
  const json = path.join(dir, 'tree.json');
  writeFileSync(json, JSON.stringify({ resourceSpans: [{ resource: { attributes: [] },
    scopeSpans: [{ spans: orcheoExecution1k(NOW) }] }] }));
  const posted = curl(['--cacert', certs.ca, '-H', 'content-type: application/json', ...(auth ? ['-H', auth] : []),
    '--data-binary', `@${json}`, '-w', '%{http_code}', '-o', '/dev/null', `${s}://${collector.otlp_http}/v1/traces`]);
  if (posted.stdout.toString() !== '200') throw new Error(`post 1k: ${posted.stdout} ${posted.stderr}`);
  settle();
  const probes = [];
  for (let i = 0; i < 3; i++) { // the median of three: one run moves by a third on a shared VM
    const args = ['--url', `${s}://${query.query}/api/executions/exec-1k/trace`, '--proto', 'h1', '--method', 'GET',
      '--connections', '1', '--requests', String(REQS), '--warmup', '0', '--name', 'probe'];
    if (mode === 'on') args.push('--header', `Authorization: Bearer ${JWT}`);
    const res = await loadgenAsync(args);
    if (res.last_status !== 200) throw new Error(`tree ${mode}: HTTP ${res.last_status}`);
    probes.push(res);
  }
  probes.sort((a, b) => a.p50_ms - b.p50_ms);
  console.log(`secure_${mode}_execution_tree_1k_p50 ${probes[1].p50_ms.toFixed(3)} ms (median of 3 runs)`);
  console.log(`secure_${mode}_execution_tree_1k_p99 ${probes[1].p99_ms.toFixed(3)} ms`);
  out[`tree_p50_${mode}`] = probes[1].p50_ms;
  await query.stop();
  await collector.stop();
}
for (const p of ['h1', 'h2', 'grpc'])
  console.log(`secure_ingest_${p}_on_vs_off ${(out[`ingest_${p}_on`] / out[`ingest_${p}_off`]).toFixed(3)} x`);
console.log(`secure_execution_tree_1k_p50_on_vs_off ${(out.tree_p50_on / out.tree_p50_off).toFixed(3)} x`);
console.log(JSON.stringify(out));
