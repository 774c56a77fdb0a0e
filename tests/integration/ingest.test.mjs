// OTLP/HTTP ingest with the real Node exporters (protobuf, protobuf+gzip, JSON),
// read back through arbor-query as the Canvas reads it; restart survival.
import assert from 'node:assert/strict';
import { test, run, tempDir, startCollector, startQuery, getJson, eventually, admin } from './lib.mjs';
import { makeProvider, orcheoRun, assertCompletedRun } from './otel.mjs';

const data = tempDir();
let collector = await startCollector(data);
let query = await startQuery(data);

async function traceOf(id) {
  const r = await getJson(`${query.base}/api/executions/${encodeURIComponent(id)}/trace`);
  assert.equal(r.status, 200);
  return r.body;
}

for (const [protocol, gzip] of [['proto', false], ['proto', true], ['json', false], ['json', true]]) {
  test(`${protocol}${gzip ? '+gzip' : ''} exporter: an Orcheo run reads back as a complete tree`, async () => {
    const provider = makeProvider({ protocol, url: collector.url, gzip });
    const executionId = `exec-${protocol}-${gzip}`;
    const r = await orcheoRun(provider, { executionId, nodes: 4 });
    await provider.shutdown();
    // acknowledged means committed: visible at once, no polling
    assertCompletedRun(await traceOf(executionId), r, executionId, 4);
  });
}

test('batch exporter: a run exported in one request reads back the same', async () => {
  const provider = makeProvider({ protocol: 'proto', url: collector.url, batch: true });
  const r = await orcheoRun(provider, { executionId: 'exec-batch', nodes: 5 });
  await provider.shutdown();
  assertCompletedRun(await traceOf('exec-batch'), r, 'exec-batch', 5);
});

for (const protocol of ['proto', 'json']) {
  test(`${protocol}: the JS SDK's 8,192-span batch (10 short attributes each) is stored whole`, async () => {
    const n = 8192;
    const provider = makeProvider({ protocol, url: collector.url,
      batch: { maxExportBatchSize: n, maxQueueSize: n, scheduledDelayMillis: 600000 } });
    const tracer = provider.getTracer('bulk');
    const root = tracer.startSpan('bulk-root');
    root.setAttribute('orcheo.execution.id', `exec-bulk-${protocol}`);
    const { trace, context } = await import('@opentelemetry/api');
    const ctx = trace.setSpan(context.active(), root);
    for (let i = 0; i < n - 1; i++) {
      const s = tracer.startSpan(`item-${i}`, {}, ctx);
      for (let a = 0; a < 10; a++) s.setAttribute(`attr.${a}`, `v${i % 7}`);
      s.end();
    }
    root.end();
    await provider.forceFlush();
    await provider.shutdown();
    const t = await getJson(`${query.base}/api/executions/exec-bulk-${protocol}/trace?limit=10000`);
    assert.equal(t.body.spans.length, n, 'one request, every span stored');
    assert.equal(t.body.execution.status, 'completed');
  });
}

test('error and cancelled roots set execution.status', async () => {
  const provider = makeProvider({ protocol: 'proto', url: collector.url });
  await orcheoRun(provider, { executionId: 'exec-err', nodes: 1, error: true });
  await orcheoRun(provider, { executionId: 'exec-cancel', nodes: 1, cancelled: true });
  await provider.shutdown();
  assert.equal((await traceOf('exec-err')).execution.status, 'error');
  assert.equal((await traceOf('exec-err')).spans[0].status.code, 'ERROR');
  assert.equal((await traceOf('exec-err')).spans[0].status.message, 'boom');
  assert.equal((await traceOf('exec-cancel')).execution.status, 'cancelled');
});

test('a live run: children before the root hang under a placeholder, status running', async () => {
  const { trace, context } = await import('@opentelemetry/api');
  const provider = makeProvider({ protocol: 'proto', url: collector.url });
  const tracer = provider.getTracer('t');
  const root = tracer.startSpan('workflow.execution');
  root.setAttribute('orcheo.execution.id', 'exec-live'); // only learned by Arbor when the root ends
  const child = tracer.startSpan('node-a', {}, trace.setSpan(context.active(), root));
  child.setAttribute('execution.id', 'exec-live'); // a child may carry the ID too
  child.end();
  await provider.forceFlush();
  let body = await traceOf('exec-live');
  assert.equal(body.execution.status, 'running');
  assert.equal(body.execution.finished_at, null);
  assert.equal(body.spans.length, 2);
  assert.equal(body.spans[0].span_id, root.spanContext().spanId);
  assert.equal(body.spans[0].attributes['arbor.placeholder'], true);
  assert.equal(body.spans[1].parent_span_id, root.spanContext().spanId);
  root.end();
  await provider.shutdown();
  body = await traceOf('exec-live');
  assert.equal(body.execution.status, 'completed');
  assert.equal(body.spans.length, 2);
  assert.equal(body.spans[0].attributes['arbor.placeholder'], undefined);
  assert.equal(body.spans[0].name, 'workflow.execution');
});

// Orcheo puts the execution ID on the root only, and the root is exported last:
// the two ways a backend can make a live run findable by execution ID at once.
function canvasWhileLive(body, executionId, rootId, nodes) {
  assert.equal(body.execution.id, executionId);
  assert.equal(body.execution.status, 'running');
  assert.equal(body.execution.finished_at, null);
  assert.equal(body.spans[0].span_id, rootId, 'the pending root first');
  assert.equal(body.spans[0].attributes['arbor.placeholder'], true);
  assert.deepEqual(body.spans.slice(1).map((s) => s.name), nodes);
  assert.ok(body.spans.slice(1).every((s) => s.parent_span_id === rootId), 'nodes hang under it');
}

test('early mapping (a): baggage copied onto every span by the baggage span processor', async () => {
  const { trace, context, propagation } = await import('@opentelemetry/api');
  const { BaggageSpanProcessor, ALLOW_ALL_BAGGAGE_KEYS } = await import('@opentelemetry/baggage-span-processor');
  const { BasicTracerProvider, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  const provider = new BasicTracerProvider({ spanProcessors: [new BaggageSpanProcessor(ALLOW_ALL_BAGGAGE_KEYS),
    new SimpleSpanProcessor(new OTLPTraceExporter({ url: collector.url }))] });
  const tracer = provider.getTracer('orcheo');
  // the backend starts a run: the execution ID goes into the baggage of its context
  const bag = propagation.createBaggage({ 'orcheo.execution.id': { value: 'exec-baggage' } });
  const runCtx = propagation.setBaggage(context.active(), bag);
  const root = tracer.startSpan('workflow.execution', {}, runCtx);
  const ctx = trace.setSpan(runCtx, root);
  const nodes = [];
  for (let i = 0; i < 2; i++) {
    const n = tracer.startSpan(`node-${i}`, {}, ctx);
    n.end();
    nodes.push(`node-${i}`);
    await provider.forceFlush();
    canvasWhileLive(await traceOf('exec-baggage'), 'exec-baggage', root.spanContext().spanId, nodes);
  }
  root.end();
  await provider.shutdown();
  const done = await traceOf('exec-baggage');
  assert.equal(done.execution.status, 'completed');
  assert.equal(done.spans.length, 3);
  assert.equal(done.spans[1].attributes['orcheo.execution.id'], 'exec-baggage', 'copied from the baggage');
});

test('early mapping (b): POST /v1/executions announces the run before its first span', async () => {
  const { trace, context } = await import('@opentelemetry/api');
  const provider = makeProvider({ protocol: 'proto', url: collector.url });
  const tracer = provider.getTracer('orcheo');
  const root = tracer.startSpan('workflow.execution');
  const announce = (body, headers = { 'content-type': 'application/json' }) =>
    fetch(`${collector.base}/v1/executions`, { method: 'POST', headers, body: JSON.stringify(body) });
  // before: unknown, as the Canvas would see it
  assert.equal((await traceOf('exec-announced')).execution.status, 'unknown');
  const r = await announce({ execution_id: 'exec-announced', trace_id: root.spanContext().traceId });
  assert.equal(r.status, 200);
  let body = await traceOf('exec-announced');
  assert.equal(body.execution.status, 'running', 'known as soon as it is announced');
  assert.equal(body.execution.trace_id, root.spanContext().traceId);
  assert.deepEqual(body.spans, []);
  const ctx = trace.setSpan(context.active(), root);
  const node = tracer.startSpan('node-0', {}, ctx); // no execution ID on it
  node.end();
  await provider.forceFlush();
  canvasWhileLive(await traceOf('exec-announced'), 'exec-announced', root.spanContext().spanId, ['node-0']);
  root.setAttribute('orcheo.execution.id', 'exec-announced');
  root.end();
  await provider.shutdown();
  body = await traceOf('exec-announced');
  assert.equal(body.execution.status, 'completed');
  assert.equal(body.spans.length, 2);
  // bad announcements: 400 with a reason, nothing mapped
  for (const [bad, re] of [[{ execution_id: '', trace_id: 'ab'.repeat(16) }, /execution_id/],
    [{ execution_id: 'x', trace_id: 'zz' }, /trace_id/], [{ execution_id: 'x', trace_id: '0'.repeat(32) }, /trace_id/],
    [{ execution_id: 'x'.repeat(256), trace_id: 'ab'.repeat(16) }, /execution_id/]]) {
    const b = await announce(bad);
    assert.equal(b.status, 400);
    assert.match((await b.json()).message, re);
  }
  assert.equal((await announce({}, { 'content-type': 'text/plain' })).status, 415);
  assert.equal((await fetch(`${collector.base}/v1/executions`)).status, 405);
  assert.equal(admin(data, 'check').status, 0);
});

test('execution ID only on the root: earlier children still belong to it', async () => {
  const provider = makeProvider({ protocol: 'json', url: collector.url });
  const r = await orcheoRun(provider, { executionId: 'exec-root-last', nodes: 3 });
  await provider.shutdown();
  const body = await traceOf('exec-root-last');
  assert.equal(body.spans.length, 4);
  assert.deepEqual(body.spans.slice(1).map((s) => s.span_id), r.nodeIds);
});

test('unknown execution: 200, status unknown, trace_id null, no spans', async () => {
  const body = await traceOf('never-seen');
  assert.equal(body.execution.status, 'unknown');
  assert.equal(body.execution.trace_id, null);
  assert.deepEqual(body.spans, []);
  assert.deepEqual(body.page_info, { has_next_page: false, cursor: null });
});

test('GET /api/traces/{trace_id}/trace serves a trace directly; 404 / 400 otherwise', async () => {
  const provider = makeProvider({ protocol: 'proto', url: collector.url });
  const r = await orcheoRun(provider, { executionId: 'exec-by-trace', nodes: 2 });
  await provider.shutdown();
  const t = await getJson(`${query.base}/api/traces/${r.traceId}/trace`);
  assert.equal(t.status, 200);
  assert.equal(t.body.execution.id, 'exec-by-trace');
  assert.equal(t.body.spans.length, 3);
  assert.equal((await getJson(`${query.base}/api/traces/${'ab'.repeat(16)}/trace`)).status, 404);
  const bad = await getJson(`${query.base}/api/traces/not-hex/trace`);
  assert.equal(bad.status, 400);
  assert.ok(bad.body.detail);
});

test('idempotent: the same spans sent twice are stored once', async () => {
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  const provider = makeProvider({ protocol: 'proto', url: collector.url });
  const parent = provider.getTracer('dup').startSpan('dup-root');
  parent.setAttribute('orcheo.execution.id', 'exec-dup');
  parent.end();
  await provider.shutdown(); // exported once here
  // the same finished span exported twice more, as a client retrying after a lost ack would
  const again = new OTLPTraceExporter({ url: collector.url });
  for (let i = 0; i < 2; i++)
    await new Promise((res, rej) => again.export([parent], (r) => (r.code === 0 ? res() : rej(r.error))));
  await again.shutdown();
  const body = await traceOf('exec-dup');
  assert.equal(body.spans.length, 1);
  assert.equal(body.execution.span_count, 1);
  const check = admin(data, 'check');
  assert.equal(check.status, 0, check.stdout + check.stderr);
});

test('restart both daemons: everything survives', async () => {
  const before = await traceOf('exec-proto-true');
  const c = await collector.stop();
  const q = await query.stop();
  assert.deepEqual([c.code, q.code], [0, 0], 'clean exits');
  collector = await startCollector(data);
  query = await startQuery(data);
  const after = await eventually(async () => {
    const r = await getJson(`${query.base}/api/executions/exec-proto-true/trace`);
    return r.status === 200 && r.body;
  });
  assert.deepEqual(after, before);
  const check = admin(data, 'check');
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /check: 0 problems/);
  const stat = admin(data, 'stat');
  assert.match(stat.stdout, /index spans\s+entries \d+/);
});

test('span compression: runs stored as lz4, zstd and none in one store all read back whole', async () => {
  const prompt = (tag) => `${tag}: summarise the quarterly report for the board, region by region, `.repeat(12);
  const runs = [];
  for (const codec of ['zstd', 'none', 'lz4']) {
    await collector.stop();
    collector = await startCollector(data, [`--span-compression=${codec}`]);
    const provider = makeProvider({ protocol: 'proto', url: collector.url });
    const tracer = provider.getTracer('codec');
    const root = tracer.startSpan('workflow.execution');
    root.setAttribute('orcheo.execution.id', `exec-codec-${codec}`);
    root.addEvent('prompt', { preview: prompt(codec) });
    root.end();
    await provider.shutdown();
    runs.push({ codec, spanId: root.spanContext().spanId, traceId: root.spanContext().traceId });
  }
  const stat = admin(data, 'stat');
  assert.equal(stat.status, 0, stat.stderr);
  for (const { codec, spanId, traceId } of runs) {
    const body = await traceOf(`exec-codec-${codec}`);
    assert.equal(body.spans.length, 1, codec);
    assert.equal(body.spans[0].span_id, spanId, codec);
    const full = await getJson(`${query.base}/api/traces/${traceId}/spans/${spanId}`);
    assert.equal(full.status, 200, codec);
    assert.equal(full.body.events[0].attributes.preview, prompt(codec), `${codec}: the prompt comes back byte for byte`);
  }
  const check = admin(data, 'check');
  assert.equal(check.status, 0, check.stdout + check.stderr);
});

test('blocks: a request\'s spans of one trace share one block; a retried request leaves no dead block behind', async () => {
  const blocks = () => Number(/index blocks\s+entries (\d+)/.exec(admin(data, 'stat').stdout)[1]);
  const before = blocks();
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  const provider = makeProvider({ protocol: 'proto', url: collector.url, batch: { scheduledDelayMillis: 60000 } });
  const tracer = provider.getTracer('blocks');
  const root = tracer.startSpan('workflow.execution');
  root.setAttribute('orcheo.execution.id', 'exec-blocks');
  const ctx = (await import('@opentelemetry/api')).trace.setSpan((await import('@opentelemetry/api')).context.active(), root);
  const kids = [];
  for (let i = 0; i < 5; i++) {
    const k = tracer.startSpan(`llm-${i}`, {}, ctx);
    k.setAttribute('gen_ai.input.messages', `question ${i}: what moved revenue in region ${i} this quarter? `.repeat(8));
    k.end();
    kids.push(k);
  }
  root.end();
  await provider.shutdown(); // one request: six spans of one trace
  assert.equal(blocks(), before + 1, 'one block for the request\'s six spans');
  const again = new OTLPTraceExporter({ url: collector.url });
  for (let i = 0; i < 2; i++) // a client retrying after a lost ack
    await new Promise((res, rej) => again.export([root, ...kids], (r) => (r.code === 0 ? res() : rej(r.error))));
  await again.shutdown();
  assert.equal(blocks(), before + 1, 'the replaced copies\' blocks are gone');
  const body = await traceOf('exec-blocks');
  assert.equal(body.execution.span_count, 6);
  const traceId = root.spanContext().traceId;
  for (const [i, k] of kids.entries()) {
    const full = await getJson(`${query.base}/api/traces/${traceId}/spans/${k.spanContext().spanId}`);
    assert.equal(full.body.attributes['gen_ai.input.messages'],
      `question ${i}: what moved revenue in region ${i} this quarter? `.repeat(8), 'each span reads back whole');
  }
  const tempo = await getJson(`${query.base}/api/v2/traces/${traceId}`);
  assert.equal(tempo.body.trace.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)).length, 6);
  const check = admin(data, 'check');
  assert.equal(check.status, 0, check.stdout + check.stderr);
});

test('capture-content=false: prompts and responses never reach the store; tokens and structure do', async () => {
  const dir = tempDir();
  const c = await startCollector(dir, ['--capture-content=false']);
  const q = await startQuery(dir);
  try {
    for (const protocol of ['proto', 'json']) {
      const provider = makeProvider({ protocol, url: c.url });
      const tracer = provider.getTracer('privacy');
      const root = tracer.startSpan('workflow.execution');
      root.setAttributes({ 'orcheo.execution.id': `exec-private-${protocol}`, 'gen_ai.usage.input_tokens': 12,
        'gen_ai.prompt.0.content': 'SECRET-PROMPT', 'input.value': 'SECRET-INPUT', 'gen_ai.request.model': 'gpt-4o' });
      root.addEvent('prompt', { preview: 'SECRET-PREVIEW' });
      root.addEvent('retry', { attempt: 2 });
      root.end();
      await provider.shutdown();
      const { traceId, spanId } = root.spanContext();
      const tree = await getJson(`${q.base}/api/executions/exec-private-${protocol}/trace`);
      const full = await getJson(`${q.base}/api/traces/${traceId}/spans/${spanId}`);
      const tempo = await fetch(`${q.base}/api/traces/${traceId}`).then((r) => r.text());
      for (const [what, text] of [['tree', JSON.stringify(tree.body)], ['span', JSON.stringify(full.body)], ['tempo', tempo]])
        assert.doesNotMatch(text, /SECRET/, `${protocol} ${what}: no content`);
      const span = tree.body.spans[0];
      assert.equal(span.attributes['gen_ai.request.model'], 'gpt-4o');
      assert.deepEqual(tree.body.execution.token_usage, { input: 12, output: 0 });
      assert.deepEqual(span.events.map((e) => [e.name, Object.keys(e.attributes).length]), [['prompt', 0], ['retry', 1]]);
    }
  } finally {
    await c.stop();
    await q.stop();
  }
});

test('ready and healthz', async () => {
  assert.equal((await getJson(`${query.base}/ready`)).status, 200);
  assert.equal((await getJson(`${query.base}/healthz`)).status, 200);
  assert.equal((await getJson(`${query.base}/nope`)).status, 404);
});

test('both daemons exit cleanly on SIGTERM', async () => {
  assert.deepEqual(await collector.stop(), { code: 0, sig: null });
  assert.deepEqual(await query.stop(), { code: 0, sig: null });
});

await run();
