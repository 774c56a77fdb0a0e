// TraceQL search latency over 1,000,000 stored traces (2,000,000 spans; --quick:
// 50,000): equality on a span attribute one trace in 1,000 carries (SPEC §7's
// figure), an equality pinned by blooms, a value only one trace has (the
// bloom-only walk over every trace), an intrinsic scan that stops early, a
// structural query, a regex that cannot use the index (bounded scan), and a
// logfmt tag search.
// Usage: node tests/bench/search.mjs [--quick]
import { tempDir, startCollector, startQuery, span, postSpans } from '../integration/lib.mjs';
import { settle } from './lib.mjs';

const quick = process.argv.includes('--quick');
const TRACES = quick ? 50000 : 1000000, N = quick ? 30 : 100, PER_POST = 5000;
const data = tempDir('arbor-bench-');
const collector = await startCollector(data, ['--log-level=warn']);
const query = await startQuery(data, ['--log-level=warn']);
const NOW = 1_800_000_000_000_000_000n;

const t0 = performance.now();
for (let base = 0; base < TRACES; base += PER_POST) {
  const byService = new Map();
  for (let t = base; t < base + PER_POST; t++) {
    const svc = `svc-${t % 100}`, id = t + 1, start = NOW + BigInt(t) * 1_000_000n;
    const spans = byService.get(svc) || [];
    spans.push(
      span({ trace: id, id: 1, name: `op-${t % 50}`, start, end: start + 5_000_000n, status: t % 100 === 0 ? 2 : 1,
        attrs: { 'http.status_code': t % 1000 === 0 ? 418 : 200, 'http.route': `/api/v1/items/${t}` } }),
      span({ trace: id, id: 2, parent: 1, name: 'db', start: start + 1n, attrs: { 'db.system': 'postgresql' } }));
    byService.set(svc, spans);
  }
  for (const [svc, spans] of byService) await postSpans(collector.url, spans, { 'service.name': svc });
}
console.log(`ingest_${TRACES}_traces ${((performance.now() - t0) / 1000).toFixed(1)} s`);

settle();
async function measure(name, params) {
  const url = `${query.base}/api/search?${new URLSearchParams(params)}`;
  for (let i = 0; i < 3; i++) await (await fetch(url)).arrayBuffer();
  const ms = [];
  let found = 0, inspected = 0;
  for (let i = 0; i < N; i++) {
    const a = performance.now();
    const body = await (await fetch(url)).json();
    ms.push(performance.now() - a);
    found = body.traces.length;
    inspected = body.metrics.inspectedTraces;
  }
  ms.sort((a, b) => a - b);
  const p = (q) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
  console.log(`search_${name}_p50 ${p(0.5).toFixed(2)} ms`);
  console.log(`search_${name}_p99 ${p(0.99).toFixed(2)} ms (found ${found}, inspected ${inspected})`);
  return { p50: p(0.5), p99: p(0.99), found, inspected };
}

const summary = {
  span_attribute_equality: await measure('span_attribute_equality', { q: '{ span.http.status_code = 418 }', limit: 20 }),
  indexed_equality: await measure('indexed_equality', { q: '{ resource.service.name = "svc-7" && name = "op-7" }', limit: 20 }),
  unique_value: await measure('unique_value', { q: `{ span.http.route = "/api/v1/items/${Math.floor(TRACES / 7)}" }`, limit: 20 }),
  intrinsic_scan: await measure('intrinsic_scan', { q: '{ status = error }', limit: 20 }),
  structural: await measure('structural', { q: '{ resource.service.name = "svc-3" } >> { name = "db" }', limit: 20 }),
  tags: await measure('tags', { tags: 'service.name=svc-42', limit: 20 }),
  unindexed_regex: await measure('unindexed_regex', { q: '{ span.http.route =~ "/api/v1/items/1234.*" }', limit: 20 }),
};
console.log(JSON.stringify(summary));
await collector.stop();
await query.stop();
process.exit(0);
