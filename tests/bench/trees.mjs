// Query latency for SPEC §7: the 1,000-span execution tree, and the first page
// and skeleton of a 100,001-span trace. Sequential requests on one keep-alive
// connection; prints "name value unit" lines and a JSON summary.
// Usage: node tests/bench/trees.mjs [BUILD_DIR] [--quick]
import { tempDir, startCollector, startQuery, span, postSpans } from '../integration/lib.mjs';

const quick = process.argv.includes('--quick');
const N = quick ? 300 : 2000;
const data = tempDir('arbor-bench-');
const collector = await startCollector(data, ['--log-level=warn']);
const query = await startQuery(data, ['--log-level=warn']);
const NOW = 1_800_000_000_000_000_000n;

// a 1,000-span Orcheo-like execution: root, 50 nodes, 19 LLM/tool calls each, with previews
const spans = [span({ trace: 1, id: 1, name: 'workflow.execution', start: NOW, end: NOW + 10n ** 10n,
  attrs: { 'orcheo.execution.id': 'exec-1k', 'orcheo.workflow.id': 'wf' } })];
for (let n = 0; n < 50; n++) {
  spans.push(span({ trace: 1, id: 100 + n, parent: 1, name: `node-${n}`, start: NOW + BigInt(n * 1e8),
    attrs: { 'orcheo.node.kind': 'agent', 'orcheo.token.input': 100, 'orcheo.token.output': 40, 'orcheo.node.latency_ms': 250 },
    events: [{ name: 'prompt', attrs: { preview: 'Summarise the quarterly report. '.repeat(20) } }] }));
  for (let c = 0; c < 19; c++)
    spans.push(span({ trace: 1, id: 10000 + n * 100 + c, parent: 100 + n, name: `chat gpt-4o ${c}`, start: NOW + BigInt(n * 1e8 + c * 1e6),
      attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 80,
        'gen_ai.usage.output_tokens': 30, 'gen_ai.input.messages': JSON.stringify([{ role: 'user', content: 'q'.repeat(800) }]) } }));
}
await postSpans(collector.url, spans);
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

async function measure(name, path) {
  const url = `${query.base}${path}`;
  for (let i = 0; i < 20; i++) await (await fetch(url)).arrayBuffer(); // warm the page cache and the connection
  const ms = [];
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint();
    const r = await fetch(url);
    await r.arrayBuffer();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
  }
  ms.sort((a, b) => a - b);
  const p = (q) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
  console.log(`${name}_p50 ${p(0.5).toFixed(2)} ms`);
  console.log(`${name}_p99 ${p(0.99).toFixed(2)} ms`);
  return { p50: p(0.5), p99: p(0.99) };
}

const summary = {
  execution_tree_1k: await measure('execution_tree_1k', '/api/executions/exec-1k/trace'),
  first_page_100k: await measure('first_page_100k', '/api/executions/exec-100k/trace'),
  skeleton_first_page_100k: await measure('skeleton_first_page_100k', '/api/executions/exec-100k/tree'),
};
console.log(JSON.stringify(summary));
await collector.stop();
await query.stop();
process.exit(0);
