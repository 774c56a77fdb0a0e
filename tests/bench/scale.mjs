// Trace lookup with 10k spans stored vs with 10M (SPEC §7: ratio <= 1.2). One
// 1,000-span trace is stored first; its Tempo v2 protobuf lookup and its
// execution tree are timed, then ~10M more spans are ingested with fresh IDs
// (the C load generator) and the same lookups are timed again. This VM's speed
// drifts by half between minutes, so the ratio is taken interleaved: a copy of
// the 10k store (arbor-admin backup, before the fill) and the filled store are
// each served by a fresh arbor-query after the fill, probed in turn; the
// figures before the fill (the first arbor-query) are printed as well.
// Usage: ARBOR_BUILD_DIR=build-release node tests/bench/scale.mjs [--quick] (quick: 1M)
import { spawnSync } from 'node:child_process';
import { tempDir, startCollector, startQuery, span, postSpans, hex, BUILD, admin } from '../integration/lib.mjs';
import { probeMedian, probeQuiet, reportMedian, LOADGEN, settle } from './lib.mjs';

const quick = process.argv.includes('--quick');
const TARGET = quick ? 1_000_000 : 10_000_000;
const data = tempDir('arbor-bench-');
const collector = await startCollector(data, ['--log-level=warn', '--sync=none']);
const query = await startQuery(data, ['--log-level=warn']);
const NOW = 1_800_000_000_000_000_000n;
const spans = [span({ trace: 7, id: 1, start: NOW, attrs: { 'orcheo.execution.id': 'exec-probe' } })];
for (let i = 2; i <= 1000; i++) spans.push(span({ trace: 7, id: i, parent: 1 + Math.floor(i / 50), start: NOW + BigInt(i) }));
await postSpans(collector.url, spans);
// fill up to 10k spans stored
const body = `${process.env.TMPDIR || '/tmp'}/arbor-bench-body.bin`, offsets = `${body}.off`;
spawnSync('/usr/bin/python3', [new URL('make_body.py', import.meta.url).pathname, `${BUILD}/proto/otlp.desc`, body, offsets, '100']);
const fill = (requests) => {
  const r = spawnSync(LOADGEN, ['--url', collector.url, '--proto', 'h1', '--body', body, '--offsets', offsets, '--spans', '100',
    '--connections', '16', '--requests', String(requests), '--warmup', '0', '--name', 'fill'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
};
fill(90);
settle();
const copy = `${tempDir('arbor-bench-10k-')}/store`;
const backup = admin(data, 'backup', copy);
if (backup.status !== 0) throw new Error(`arbor-admin backup: ${backup.stderr}`);
const PB = 'Accept: application/protobuf';
const paths = (q) => ({ url: `${q.base}/api/v2/traces/${hex(7, 32)}`, tree: `${q.base}/api/executions/exec-probe/trace` });
const { url, tree } = paths(query);
probeMedian('lookup_10k_stored_before_fill', url, { requests: 2000, header: PB });
probeMedian('tree_10k_stored_before_fill', tree, { requests: 500 });
const t0 = Date.now();
const f = fill(Math.round((TARGET - 10000) / 100));
console.log(`scale_fill_spans_per_s ${Math.round(f.spans_per_s)} spans/s (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
settle();
const label = quick ? '1m' : '10m';
// two fresh arbor-query processes, one per store, so neither has warmed up longer
const query10k = await startQuery(copy, ['--log-level=warn']), queryBig = await startQuery(data, ['--log-level=warn']);
const at10k = paths(query10k), atBig = paths(queryBig);
// in turn, three rounds: each store's figure is the round with its median p50
const runs = { small: [], big: [], smallTree: [], bigTree: [] };
for (let r = 0; r < 3; r++) {
  runs.small.push(probeQuiet(at10k.url, { requests: 2000, header: PB }));
  runs.big.push(probeQuiet(atBig.url, { requests: 2000, header: PB }));
  runs.smallTree.push(probeQuiet(at10k.tree, { requests: 500 }));
  runs.bigTree.push(probeQuiet(atBig.tree, { requests: 500 }));
}
const median = (name, list) => reportMedian(name, list, ', interleaved');
const small = median('lookup_10k_stored', runs.small), big = median(`lookup_${label}_stored`, runs.big);
const smallTree = median('tree_10k_stored', runs.smallTree), bigTree = median(`tree_${label}_stored`, runs.bigTree);
await query10k.stop();
await queryBig.stop();
const ratio = big.p50 / small.p50, treeRatio = bigTree.p50 / smallTree.p50;
console.log(`lookup_ratio_${label}_vs_10k ${ratio.toFixed(2)} x`);
console.log(`tree_ratio_${label}_vs_10k ${treeRatio.toFixed(2)} x`);
console.log(JSON.stringify({ small, big, ratio, smallTree, bigTree, treeRatio }));
await collector.stop();
await query.stop();
process.exit(0);
