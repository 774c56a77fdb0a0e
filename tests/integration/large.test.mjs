// Very large traces: 100,001 spans walked page by page (full spans and
// skeleton), and a chain 20,000 deep. Timings are printed as TAP comments for
// people; speed is asserted by tests/bench, never here.
import assert from 'node:assert/strict';
import { test, setup, run, tempDir, startCollector, startQuery, getJson, span, postSpans, hex } from './lib.mjs';

const data = tempDir();
const collector = await startCollector(data);
const query = await startQuery(data);
const get = (path) => getJson(`${query.base}${path}`);
const NOW = 1_800_000_000_000_000_000n;
const BIG = 0xb16, CHAIN = 0xc4a1;

setup('100,001 spans (root, 100 nodes, 999 children each) sent in 10 requests, children first', async () => {
  let batch = [];
  const flush = async () => { await postSpans(collector.url, batch); batch = []; };
  for (let n = 0; n < 100; n++) {
    for (let c = 0; c < 999; c++) {
      batch.push(span({ trace: BIG, id: 1_000_000 + n * 1000 + c, parent: 1000 + n, start: NOW + BigInt(n * 1_000_000 + c),
        attrs: { 'gen_ai.usage.input_tokens': 1, 'orcheo.node.kind': 'tool' } }));
      if (batch.length === 10000) await flush();
    }
  }
  for (let n = 0; n < 100; n++)
    batch.push(span({ trace: BIG, id: 1000 + n, parent: 1, start: NOW + BigInt(n * 1_000_000) }));
  batch.push(span({ trace: BIG, id: 1, start: NOW, end: NOW + 10n ** 10n, attrs: { 'orcheo.execution.id': 'exec-100k' } }));
  await flush();
});

async function walk(path, limit) {
  const ids = [], parents = new Set([null]);
  let cursor = null, pages = 0, firstMs = 0, body;
  do {
    const t0 = performance.now();
    const r = await get(`${path}?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    if (pages === 0) firstMs = performance.now() - t0;
    assert.equal(r.status, 200);
    body = r.body;
    for (const s of body.spans) {
      assert.ok(parents.has(s.parent_span_id), `parent of ${s.span_id} on this page or an earlier one`);
      parents.add(s.span_id);
      ids.push(s.span_id);
    }
    cursor = body.page_info.cursor;
    pages++;
  } while (cursor);
  return { ids, pages, firstMs, body };
}

test('the 100,001-span execution pages through /trace without error, every span once, parents first', async () => {
  const t0 = performance.now();
  const { ids, pages, firstMs, body } = await walk('/api/executions/exec-100k/trace', 10000);
  assert.equal(pages, 11);
  assert.equal(ids.length, 100001);
  assert.equal(new Set(ids).size, 100001);
  assert.equal(ids[0], hex(1, 16));
  assert.equal(body.execution.span_count, 100001);
  assert.equal(body.execution.token_usage.input, 99900);
  console.log(`# /trace: 11 pages of 10,000 in ${(performance.now() - t0).toFixed(0)} ms (first page ${firstMs.toFixed(1)} ms)`);
});

test('first pages: 10,000 on the Canvas endpoint (it never asks for more), 1,000 elsewhere; the skeleton walk', async () => {
  const t0 = performance.now();
  const first = await get('/api/executions/exec-100k/trace');
  const t1 = performance.now();
  assert.equal(first.body.spans.length, 10000);
  assert.equal(first.body.page_info.has_next_page, true);
  const byTrace = await get(`/api/traces/${first.body.execution.trace_id}/trace`);
  assert.equal(byTrace.body.spans.length, 1000);
  const sk = await get('/api/executions/exec-100k/tree');
  const t2 = performance.now();
  assert.equal(sk.body.spans[0].child_count, 100);
  assert.deepEqual(sk.body.spans[0].subtree_tokens, { input: 99900, output: 0 });
  const w = await walk('/api/executions/exec-100k/tree', 10000);
  assert.equal(w.ids.length, 100001);
  console.log(`# first page ${(t1 - t0).toFixed(1)} ms; first skeleton page ${(t2 - t1).toFixed(1)} ms`);
  const kids = await get(`/api/executions/exec-100k/tree?parent=${hex(1042, 16)}&limit=500`);
  assert.equal(kids.body.spans.length, 500);
  assert.ok(kids.body.spans.every((s) => s.parent_span_id === hex(1042, 16)));
});

test('the tree is cached between requests, and a span arriving or replaced shows on the next one', async () => {
  const metric = async (name) => {
    const text = await (await fetch(`${query.base}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)[1]);
  };
  await get('/api/executions/exec-100k/tree?limit=1');
  const hits = await metric('arbor_tree_cache_hits_total');
  const before = (await get('/api/executions/exec-100k/tree?limit=1')).body.spans[0];
  assert.equal(await metric('arbor_tree_cache_hits_total'), hits + 1, 'the second request reused the tree');
  assert.ok(await metric('arbor_tree_cache_bytes') > 0);
  await postSpans(collector.url, [
    span({ trace: BIG, id: 1_000_999, parent: 1042, start: NOW + 42_000_999n,
      attrs: { 'gen_ai.usage.input_tokens': 5, note: 'a needle in the haystack' } }),
    span({ trace: BIG, id: 1_042_000, parent: 1042, name: 'renamed', start: NOW + 42_000_000n,
      attrs: { 'gen_ai.usage.input_tokens': 1 } }),
  ]);
  const after = (await get('/api/executions/exec-100k/tree?limit=1')).body;
  assert.deepEqual(after.spans[0].subtree_tokens, { input: before.subtree_tokens.input + 5, output: 0 });
  assert.equal(after.execution.span_count, 100002);
  const kids = (await get(`/api/executions/exec-100k/trace?limit=2&cursor=0.${hex(1042, 16)}`)).body.spans;
  assert.deepEqual(kids.map((s) => s.name), ['span-1042', 'renamed']);
  const fresh = (await get(`/api/executions/exec-100k/tree?parent=${hex(1042, 16)}&limit=1000`)).body.spans;
  assert.equal(fresh.length, 1000);
  assert.ok(fresh.some((s) => s.span_id === hex(1_000_999, 16)));
  // the in-trace search reads span bytes from the store, not from the cached tree
  const found = (await get('/api/executions/exec-100k/tree?limit=1&match=NEEDLE')).body;
  assert.deepEqual(found.matches, [hex(1_000_999, 16)], 'an attribute value found among 100,002 spans');
  assert.deepEqual((await get('/api/executions/exec-100k/tree?limit=1&match=renamed')).body.matches, [hex(1_042_000, 16)]);
});

test('a chain 20,000 spans deep: no recursion limit, depths intact', async () => {
  const spans = [];
  for (let i = 1; i <= 20000; i++)
    spans.push(span({ trace: CHAIN, id: i, parent: i > 1 ? i - 1 : undefined, start: NOW + BigInt(i) }));
  await postSpans(collector.url, spans.reverse());
  const { ids } = await walk(`/api/traces/${hex(CHAIN, 32)}/tree`, 10000);
  assert.equal(ids.length, 20000);
  assert.equal(ids[19999], hex(20000, 16));
  const last = (await get(`/api/traces/${hex(CHAIN, 32)}/tree?limit=1&cursor=19999.${hex(20000, 16)}`)).body.spans[0];
  assert.equal(last.depth, 19999);
  const top = (await get(`/api/traces/${hex(CHAIN, 32)}/tree?limit=1`)).body.spans[0];
  assert.deepEqual([top.child_count, top.depth], [1, 0]);
});

test('daemons exit cleanly', async () => {
  assert.deepEqual(await collector.stop(), { code: 0, sig: null });
  assert.deepEqual(await query.stop(), { code: 0, sig: null });
});

await run();
