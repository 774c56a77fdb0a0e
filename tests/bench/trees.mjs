// Query latency for SPEC §7: the 1,000-span execution tree, Tempo v2 trace by ID
// (protobuf) of the same 1,000 spans, and the first and middle pages and skeleton
// pages of a 100,001-span trace; query RSS idle. Sequential keep-alive GETs measured by the C
// load generator; prints "name value unit" lines and a JSON summary.
// Usage: ARBOR_BUILD_DIR=build-release node tests/bench/trees.mjs [--quick]
import { tempDir, startCollector, startQuery, span, postSpans, hex } from '../integration/lib.mjs';
import { probe, rssKb, settle, orcheoExecution1k } from './lib.mjs';

const quick = process.argv.includes('--quick');
const N = quick ? 300 : 2000;
const data = tempDir('arbor-bench-');
const collector = await startCollector(data, ['--log-level=warn']);
const query = await startQuery(data, ['--log-level=warn']);
const NOW = 1_800_000_000_000_000_000n;

await postSpans(collector.url, orcheoExecution1k(NOW));
// a 100,001-span trace
for (let b = 0; b < 10; b++) {
  const batch = [];
  for (let i = 0; i < 10000; i++) {
    const k = b * 10000 + i;
    batch.push(span({ trace: 2, id: 1_000_000 + k, parent: 1000 + (k % 100), start: NOW + BigInt(k), attrs: { 'gen_ai.usage.input_tokens': 1 } }));
  }
  if (b === 9) {
    for (let n = 0; n < 100; n++) batch.push(span({ trace: 2, id: 1000 + n, parent: 7, start: NOW + BigInt(n) }));
    batch.push(span({ trace: 2, id: 7, start: NOW, attrs: { 'orcheo.execution.id': 'exec-100k' } }));
  }
  await postSpans(collector.url, batch);
}

settle();
const idle = rssKb(query.proc.pid).rss;
const summary = {
  execution_tree_1k: probe('execution_tree_1k', `${query.base}/api/executions/exec-1k/trace`, { requests: N }),
  tempo_v2_trace_1k: probe('tempo_v2_trace_1k', `${query.base}/api/v2/traces/${hex(1, 32)}`,
    { requests: N, header: 'Accept: application/protobuf' }),
  first_page_100k: probe('first_page_100k', `${query.base}/api/executions/exec-100k/trace`, { requests: N }),
  skeleton_first_page_100k: probe('skeleton_first_page_100k', `${query.base}/api/executions/exec-100k/tree`, { requests: N }),
  // "any page": the walk's middle, by position (the Canvas's 10,000 spans; the skeleton's 1,000)
  middle_page_100k: probe('middle_page_100k', `${query.base}/api/executions/exec-100k/trace?cursor=50000`, { requests: N }),
  skeleton_middle_page_100k: probe('skeleton_middle_page_100k', `${query.base}/api/executions/exec-100k/tree?cursor=50000`,
    { requests: N }),
};
summary.query_rss_idle_kb = idle;
const busy = rssKb(query.proc.pid);
await new Promise((r) => setTimeout(r, 2000)); // idle again: freed memory is handed back within a second
const after = rssKb(query.proc.pid);
summary.query_rss_after_kb = after.rss;
console.log(`query_rss_idle ${(idle / 1024).toFixed(1)} MB`);
console.log(`query_rss_right_after_queries ${(busy.rss / 1024).toFixed(1)} MB (anon ${(busy.anon / 1024).toFixed(1)} MB)`);
console.log(`query_rss_idle_after_queries ${(after.rss / 1024).toFixed(1)} MB (anon ${(after.anon / 1024).toFixed(1)} MB; the rest is LMDB's mapped file pages)`);
console.log(JSON.stringify(summary));
await collector.stop();
await query.stop();
process.exit(0);
