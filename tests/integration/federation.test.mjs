// Federation (SPEC §9): three shards (each an arbor-collector + arbor-query
// pair) and a federating arbor-query with ARBOR_SHARDS, against one single store
// fed the same spans. Every route's answer through federation must equal the
// single store's (its `seq` counters aside: they are per store), including the
// cases the Collector's loadbalancing exporter can produce: an execution whose
// traces sit on different shards, a trace split over two shards while the ring
// changed, a trace held by two shards (replicas), one shard behind. Then a shard
// dies, and one hangs: answers stay 200 with "partial": true and /metrics
// counts the errors per shard.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { test, setup, run, tempDir, startCollector, startQuery, getJson, postSpans, span, hex, writeTokensFile, eventually, makeCerts, curl } from './lib.mjs';

const T0 = 1700000000000000000n; // µs-aligned times: durations compare exactly
const at = (ms) => T0 + BigInt(ms) * 1000000n;
let shards = [], single, fed;

async function startShard(extraEnv = {}) {
  const data = tempDir();
  const collector = await startCollector(data, [], { env: extraEnv });
  const query = await startQuery(data, [], { env: { ARBOR_LIVE_QUIET: '300ms', ...extraEnv } });
  return { collector, query, url: collector.url };
}

// Post @p spans to the shards named and to the single store.
async function send(where, spans, resource) {
  for (const s of where) await postSpans(shards[s].url, spans, resource);
  await postSpans(single.collector.url, spans, resource);
}

// A run: root + `n` children (+ a grandchild each), exec ID and workflow on every span.
function runSpans({ trace, exec, start, n = 3, status, prefix = 'r' }) {
  const attrs = exec ? { 'orcheo.execution.id': exec, 'orcheo.workflow.id': 'wf-fed' } : {};
  const root = 1000 + trace * 100;
  const out = [span({ trace, id: root, name: `${prefix}-workflow`, start: at(start), end: at(start + 100 + n * 10),
    status, attrs: { ...attrs, 'gen_ai.usage.input_tokens': 3 } })];
  for (let i = 0; i < n; i++) {
    out.push(span({ trace, id: root + 1 + i * 2, parent: root, name: `${prefix}-node-${i}`, start: at(start + 1 + i * 10),
      end: at(start + 9 + i * 10), attrs: { ...attrs, 'gen_ai.usage.output_tokens': i + 1, 'fed.kind': `k${i % 2}` } }));
    out.push(span({ trace, id: root + 2 + i * 2, parent: root + 1 + i * 2, name: `${prefix}-llm-${i}`,
      start: at(start + 2 + i * 10), end: at(start + 8 + i * 10), status: i === 1 ? 2 : undefined, attrs }));
  }
  return out;
}

const deepStrip = (v) => Array.isArray(v) ? v.map(deepStrip)
  : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'seq' && k !== 'last_seq')
    .map(([k, x]) => [k, deepStrip(x)])) : v;

const both = async (url, init) => [await getJson(`${fed.base}${url}`, init), await getJson(`${single.query.base}${url}`, init)];

// Tempo's search metrics count what each store inspected: per shard by nature.
// A search cannot match a query across the halves of a split trace (each shard
// sees its half): that trace is left out of search comparisons.
async function assertSame(url, { metrics = true } = {}) {
  const [f, s] = await both(url);
  assert.equal(f.status, s.status, `${url}: status ${f.status} vs ${s.status}: ${f.text.slice(0, 300)}`);
  const cut = (b) => {
    const x = deepStrip(b);
    if (!metrics && x && typeof x === 'object') {
      delete x.metrics;
      x.traces = x.traces.filter((t) => t.traceID !== hex(TRACE_SPLIT, 1));
    }
    return x;
  };
  assert.deepEqual(cut(f.body), cut(s.body), `${url} differs`);
  return f.body;
}

// Walk every page of a tree with a small limit through both; the pages must match.
async function assertSamePages(url, limit = 4) {
  let cursor = null, pages = 0, spans = 0;
  do {
    const sep = url.includes('?') ? '&' : '?';
    const body = await assertSame(`${url}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    cursor = body.page_info.has_next_page ? body.page_info.cursor : null;
    spans += body.spans.length;
    pages++;
  } while (cursor);
  return { pages, spans };
}

const EXEC_SPLIT = 'exec-three-shards', TRACE_SPLIT = 50, TRACE_REPLICA = 60, TRACE_BEHIND = 70;

setup('three shards, a single store and a federating query', async () => {
  for (let i = 0; i < 3; i++) shards.push(await startShard());
  const data = tempDir();
  single = { collector: await startCollector(data), query: await startQuery(data) };
  fed = await startQuery(tempDir(), [], { env: { ARBOR_SHARDS: shards.map((s) => s.query.base).join(','), ARBOR_SHARD_TIMEOUT: '5s' } });
});

setup('spans: traces routed by trace ID, an execution over three shards, a split trace, replicas', async () => {
  for (let t = 1; t <= 12; t++) // ordinary runs, each on the shard its trace ID picks
    await send([t % 3], runSpans({ trace: t, exec: `exec-${t}`, start: t * 1000, status: t === 5 ? 2 : undefined }),
      { 'service.name': `svc-${t % 2}` });
  for (let t = 20; t < 24; t++) // traces with no execution
    await send([t % 3], runSpans({ trace: t, start: t * 1000, prefix: 'plain' }), { 'service.name': 'plain-svc' });
  // one execution resumed twice: its three traces on three shards
  for (let k = 0; k < 3; k++)
    await send([k], runSpans({ trace: 30 + k, exec: EXEC_SPLIT, start: 40000 + k * 500, n: 2 + k }));
  // a trace split while the ring changed: the root and one branch on shard 0, the
  // other branches on shard 1, and a span whose parent never arrives
  const split = runSpans({ trace: TRACE_SPLIT, exec: 'exec-split-trace', start: 50000, n: 4 });
  await send([0], split.slice(0, 3));
  await send([1], split.slice(3));
  await send([1], [span({ trace: TRACE_SPLIT, id: 0x7777, parent: 0x6666, name: 'orphan', start: at(50050), end: at(50060) })]);
  // replicas: the same trace on two shards; and one replica behind the other
  await send([1, 2], runSpans({ trace: TRACE_REPLICA, exec: 'exec-replica', start: 60000 }));
  const behind = runSpans({ trace: TRACE_BEHIND, exec: 'exec-behind', start: 70000, n: 4 });
  await postSpans(shards[0].url, behind.slice(0, 5));
  await send([2], behind);
});

test('lists: executions and traces merged newest first, with every filter and limit', async () => {
  for (const q of ['', '?limit=5', '?limit=1', '?workflow_id=wf-fed', '?status=error', '?status=running', '?since=2023-11-14T22:14:00Z'])
    await assertSame(`/api/executions${q}`);
  for (const q of ['', '?limit=3', '?status=completed'])
    await assertSame(`/api/traces${q}`);
  const { body } = await getJson(`${fed.base}/api/executions?limit=1000`);
  const split = body.executions.find((e) => e.execution_id === EXEC_SPLIT);
  assert.equal(split.trace_ids.length, 3, 'the execution over three shards lists its three traces');
  assert.equal(split.span_count, 5 + 7 + 9);
});

test('trees: Canvas pages and skeletons equal the single store, for every kind of placement', async () => {
  const execs = ['exec-1', 'exec-2', 'exec-5', EXEC_SPLIT, 'exec-split-trace', 'exec-replica', 'exec-behind', 'no-such-exec'];
  for (const e of execs) {
    await assertSame(`/api/executions/${e}/trace`);
    await assertSame(`/api/executions/${e}/tree`);
    await assertSame(`/api/executions/${e}/trace?depth=2`);
  }
  const whole = await assertSame(`/api/executions/${EXEC_SPLIT}/trace`);
  assert.equal(whole.execution.status, 'completed');
  assert.equal(whole.spans.length, 21);
  const split = await assertSame(`/api/traces/${hex(TRACE_SPLIT, 32)}/trace`);
  assert.ok(split.spans.some((s) => s.attributes['arbor.placeholder'] && s.span_id === hex(0x6666, 16)),
    'the orphan\'s missing parent is a placeholder');
  assert.equal(split.spans.filter((s) => !s.attributes['arbor.placeholder']).length, 10);
  for (const t of [1, 20, TRACE_SPLIT, TRACE_REPLICA, TRACE_BEHIND]) {
    await assertSame(`/api/traces/${hex(t, 32)}/trace`);
    await assertSame(`/api/traces/${hex(t, 32)}/tree`);
  }
  await assertSame(`/api/traces/${hex(999, 32)}/trace`);
  await assertSame(`/api/traces/${hex(TRACE_SPLIT, 32)}/tree?parent=${hex(1000 + TRACE_SPLIT * 100, 16)}`);
  await assertSame(`/api/traces/${hex(TRACE_SPLIT, 32)}/tree?parent=${hex(0x1234, 16)}`);
  await assertSame(`/api/executions/${EXEC_SPLIT}/trace?cursor=bogus`);
});

test('in-trace search (?match=): the spans mentioning a text, united over the shards holding the tree', async () => {
  for (const url of [`/api/traces/${hex(TRACE_SPLIT, 32)}/tree?limit=1&match=K1`, `/api/executions/${EXEC_SPLIT}/tree?limit=2&match=k0`,
    `/api/traces/${hex(3, 32)}/tree?limit=1&match=llm-1`, `/api/executions/exec-4/tree?limit=1&match=nothing-mentions-this`]) {
    const [f, s] = await both(url);
    assert.equal(f.status, 200, url);
    assert.deepEqual([...f.body.matches].sort(), [...s.body.matches].sort(), url);
    assert.equal(f.body.spans.length, s.body.spans.length);
  }
  const { body } = await getJson(`${single.query.base}/api/traces/${hex(TRACE_SPLIT, 32)}/tree?limit=1&match=K1`);
  assert.equal(body.matches.length, 2, 'fed.kind = k1 on two node spans, case-insensitively');
  assert.equal((await getJson(`${single.query.base}/api/traces/${hex(1, 32)}/tree?match=${'x'.repeat(300)}`)).status, 400);
});

test('cursors: every page of merged and single-shard trees, walked with small limits', async () => {
  const a = await assertSamePages(`/api/executions/${EXEC_SPLIT}/trace`, 4);
  assert.equal(a.spans, 21);
  assert.ok(a.pages >= 6);
  await assertSamePages(`/api/executions/${EXEC_SPLIT}/tree`, 5);
  await assertSamePages(`/api/traces/${hex(TRACE_SPLIT, 32)}/trace`, 3);
  await assertSamePages(`/api/traces/${hex(TRACE_BEHIND, 32)}/tree`, 2);
  await assertSamePages(`/api/executions/exec-3/trace`, 2);
});

test('span detail and Tempo trace by ID from whichever shard holds them', async () => {
  await assertSame(`/api/traces/${hex(1, 32)}/spans/${hex(1100, 16)}`);
  await assertSame(`/api/traces/${hex(TRACE_SPLIT, 32)}/spans/${hex(1000 + TRACE_SPLIT * 100 + 5, 16)}`);
  await assertSame(`/api/traces/${hex(1, 32)}/spans/${hex(0xabc, 16)}`);
  for (const t of [2, 21, TRACE_REPLICA]) {
    await assertSame(`/api/traces/${hex(t, 32)}`);
    await assertSame(`/api/v2/traces/${hex(t, 32)}`);
  }
  const [f1, s1] = await both(`/api/traces/${hex(999, 32)}`);
  assert.equal(f1.status, 404);
  assert.equal(s1.status, 404);
  await assertSame(`/api/v2/traces/${hex(999, 32)}`);
  // split: the same spans, whichever resource group they come in
  const ids = (b) => b.trace.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((x) => x.spanId))).sort();
  const [f, s] = await both(`/api/v2/traces/${hex(TRACE_SPLIT, 32)}`);
  assert.equal(f.status, 200);
  assert.deepEqual(ids(f.body), ids(s.body));
  // protobuf: the v2 answer of a one-shard trace byte for byte
  const pb = async (base) => Buffer.from(await (await fetch(`${base}/api/v2/traces/${hex(3, 32)}`, { headers: { accept: 'application/protobuf' } })).arrayBuffer());
  assert.ok((await pb(fed.base)).equals(await pb(single.query.base)));
});

test('Tempo search: merged newest first, limit and spss honoured, tags and values united', async () => {
  for (const q of ['?limit=5', '?limit=50', '?tags=fed.kind%3Dk1&limit=4', '?q=' + encodeURIComponent('{ span.fed.kind = "k0" }') + '&limit=6&spss=2',
    '?q=' + encodeURIComponent('{ status = error }'), '?q=' + encodeURIComponent('{ resource.service.name = "plain-svc" }'),
    '?minDuration=110ms&limit=100'])
    await assertSame(`/api/search${q}`, { metrics: false });
  const all = await assertSame('/api/search?limit=100', { metrics: false });
  const { body } = await getJson(`${fed.base}/api/search?limit=100`);
  assert.equal(body.metrics.totalJobs, 3);
  assert.ok(body.metrics.inspectedTraces >= all.traces.length);
  const [bad] = await both(`/api/search?q=${encodeURIComponent('{ span.x = }')}`);
  assert.equal(bad.status, 400);
  for (const u of ['/api/search/tags', '/api/v2/search/tags', '/api/v2/search/tags?scope=span', '/api/search/tag/fed.kind/values',
    '/api/v2/search/tag/span.fed.kind/values', '/api/v2/search/tag/resource.service.name/values', '/api/v2/search/tag/name/values', '/api/v2/search/tag/status/values'])
    await assertSame(u);
  // q and the scopes are the shards' to apply: forwarded, then united
  const k1 = `q=${encodeURIComponent('{ span.fed.kind = "k1" }')}`;
  for (const u of [`/api/v2/search/tags?${k1}`, `/api/search/tags?${k1}`, '/api/v2/search/tags?scope=event', '/api/v2/search/tags?scope=link',
    `/api/v2/search/tag/name/values?${k1}`, `/api/v2/search/tag/resource.service.name/values?${k1}`, `/api/search/tag/status/values?${k1}`]) {
    const body = await assertSame(u);
    assert.equal(body.partial, undefined, u);
  }
  // a shard's own partial answer (a regex out of its budget) makes the merged one partial, as one store's is
  await send([0], [span({ trace: 97, id: 9701, name: 'payload', start: at(97000), attrs: { payload: `${'a'.repeat(300)}!` } })]);
  const slow = `q=${encodeURIComponent('{ span.payload =~ "(a+)+$" }')}`;
  for (const u of [`/api/v2/search/tags?${slow}`, `/api/search/tags?${slow}`, `/api/v2/search/tag/name/values?${slow}`]) {
    const body = await assertSame(u);
    assert.equal(body.partial, true, u);
    assert.match(body.partialReason, /match limit/, u);
  }
  const names = (await getJson(`${fed.base}/api/v2/search/tag/name/values?${k1}`)).body.tagValues.map((x) => x.value);
  assert.ok(names.length > 1 && names.every((n) => /-node-[13579]$/.test(n)), `narrowed by q on every shard: ${names}`);
});

// A live stream through the federating query: its frames, as they come.
function follow(url, headers = {}) {
  const frames = [];
  const ws = new WebSocket(`${fed.base.replace('http', 'ws')}${url}`, { headers });
  ws.on('message', (m) => frames.push(JSON.parse(String(m))));
  const opened = new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  return { ws, frames, opened, spanIds: () => new Set(frames.flatMap((f) => f.spans.filter((x) => !x.attributes['arbor.placeholder']).map((x) => x.span_id))) };
}

test('live: one stream over every shard; complete once each shard holding spans is; one resume cursor', async () => {
  const sub = follow('/api/executions/exec-live/trace/live');
  await sub.opened;
  const a = runSpans({ trace: 90, exec: 'exec-live', start: 90000, n: 2 }), b = runSpans({ trace: 91, exec: 'exec-live', start: 90500, n: 2 });
  await send([0], a.slice(1)); // children first, as OpenTelemetry exports them
  await send([1], b);
  await eventually(() => sub.spanIds().size === 9, { timeoutMs: 20000 });
  assert.ok(!sub.frames.some((f) => f.complete), 'not complete while shard 0 has no root');
  await send([0], a.slice(0, 1));
  await eventually(() => sub.frames.some((f) => f.complete), { timeoutMs: 20000 });
  assert.equal(sub.spanIds().size, 10);
  for (const f of sub.frames) {
    assert.equal(f.type, 'trace:update');
    assert.equal(f.execution_id, 'exec-live');
    assert.match(f.seq, /^f\d+\.\d+\.\d+$/, 'one cursor over the three shards');
  }
  sub.ws.close();
  // resume: the REST answer's cursor, then only what came after it
  const rest = await getJson(`${fed.base}/api/executions/exec-live/trace`);
  assert.match(rest.body.seq, /^f\d+\.\d+\.\d+$/);
  await send([2], runSpans({ trace: 92, exec: 'exec-live', start: 91000, n: 1 }));
  const resumed = follow(`/api/executions/exec-live/trace/live?since=${rest.body.seq}`);
  await resumed.opened;
  await eventually(() => resumed.spanIds().size === 3, { timeoutMs: 20000 });
  assert.deepEqual([...resumed.spanIds()].sort(), runSpans({ trace: 92, exec: 'exec-live', start: 91000, n: 1 }).map((x) => x.spanId).sort(),
    'only the spans after the cursor');
  resumed.ws.close();
  // by trace ID, and a bad trace ID refused before the upgrade
  const byTrace = follow(`/api/traces/${hex(91, 32)}/live`);
  await byTrace.opened;
  await eventually(() => byTrace.spanIds().size === 5 && byTrace.frames.some((f) => f.complete), { timeoutMs: 20000 });
  byTrace.ws.close();
  const refused = (url) => new Promise((resolve) => {
    const ws = new WebSocket(`${fed.base.replace('http', 'ws')}${url}`);
    ws.on('unexpected-response', (req, res) => resolve(res.statusCode));
    ws.on('open', () => { ws.close(); resolve(101); });
    ws.on('error', () => {});
  });
  assert.equal(await refused('/api/traces/nothex/live'), 400);
  assert.equal(await refused('/api/executions/exec-live/trace/live?since=f1.x'), 400, 'a malformed cursor');
  assert.equal(await refused('/api/executions/exec-live/trace/live?since=abc'), 400);
  assert.equal(await refused('/api/executions/exec-live/trace/live?since=f1.2'), 101, 'a cursor of another shard count starts over');
});

test('a shard down: answers stay 200 with "partial": true; /metrics counts its errors', async () => {
  await shards[2].query.stop('SIGKILL');
  const s = await getJson(`${fed.base}/api/search?limit=100`);
  assert.equal(s.status, 200);
  assert.equal(s.body.partial, true);
  assert.match(s.body.partialReason, /1 of 3 shards/);
  assert.equal(s.body.metrics.completedJobs, 2);
  const l = await getJson(`${fed.base}/api/executions`);
  assert.equal(l.status, 200);
  assert.equal(l.body.partial, true);
  assert.ok(l.body.executions.length > 0);
  const t = await getJson(`${fed.base}/api/traces/${hex(1, 32)}/trace`); // held by shard 1, still up
  assert.equal(t.status, 200);
  assert.equal(t.body.spans.length, 7);
  const r = await getJson(`${fed.base}/api/traces/${hex(TRACE_REPLICA, 32)}/trace`); // its replica answers
  assert.equal(r.status, 200);
  assert.equal(r.body.spans.length, 7);
  const m = await (await fetch(`${fed.base}/metrics`)).text();
  const port = new URL(shards[2].query.base).port;
  assert.match(m, new RegExp(`arbor_shard_errors_total\\{shard="http://127\\.0\\.0\\.1:${port}",reason="transport"\\} [1-9]`));
  assert.match(m, /arbor_shard_requests_total\{shard="http:\/\/127\.0\.0\.1:\d+"\} \d+/);
});

test('a shard that never answers: left out after ARBOR_SHARD_TIMEOUT', async () => {
  const hung = [];
  const server = net.createServer((sock) => hung.push(sock)).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const slow = await startQuery(tempDir(), [], { env: { ARBOR_SHARDS: `${shards[0].query.base},http://127.0.0.1:${server.address().port}`,
    ARBOR_SHARD_TIMEOUT: '300ms' } });
  try {
    const l = await getJson(`${slow.base}/api/traces`);
    assert.equal(l.status, 200);
    assert.equal(l.body.partial, true);
    assert.ok(l.body.traces.length > 0);
    const m = await (await fetch(`${slow.base}/metrics`)).text();
    assert.match(m, /reason="timeout"\} 1/);
  } finally {
    for (const s of hung) s.destroy();
    server.close();
    assert.deepEqual(await slow.stop(), { code: 0, sig: null }, slow.log);
  }
});

test('no shard answering: 503, and a live stream closes with 1011', async () => {
  const dead = await startQuery(tempDir(), [], { env: { ARBOR_SHARDS: shards[2].query.base } });
  try {
    const r = await getJson(`${dead.base}/api/executions`);
    assert.equal(r.status, 503);
    assert.equal(r.body.detail, 'no shard answered');
    assert.equal((await getJson(`${dead.base}/ready`)).status, 200);
    const ws = new WebSocket(`${dead.base.replace('http', 'ws')}/api/executions/x/trace/live`);
    const code = await new Promise((resolve) => { ws.on('close', resolve); ws.on('error', () => {}); });
    assert.equal(code, 1011);
  } finally {
    assert.deepEqual(await dead.stop(), { code: 0, sig: null }, dead.log);
  }
});

test('auth and tenants: the caller is checked here and its credentials forwarded to the shards', async () => {
  const dir = tempDir();
  const tokens = writeTokensFile(path.join(dir, 'tokens'), { 'acme-r': 'acme traces:read a', 'acme-w': 'acme traces:write w',
    'beta-r': 'beta traces:read b' });
  const env = { ARBOR_AUTH: 'required', ARBOR_MULTITENANCY: 'on', ARBOR_AUTH_TOKENS_FILE: tokens,
    ARBOR_AUTH_WRITE_SCOPES: 'traces:write', ARBOR_AUTH_READ_SCOPES: 'traces:read' };
  const a = await startShard(env), b = await startShard(env);
  const f = await startQuery(tempDir(), [], { env: { ...env, ARBOR_SHARDS: `${a.query.base},${b.query.base}` } });
  try {
    for (const [shard, t] of [[a, 80], [b, 81]]) {
      const r = await fetch(shard.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer acme-w' },
        body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: runSpans({ trace: t, exec: 'exec-acme', start: 80000 + t }) }] }] }) });
      assert.equal(r.status, 200);
    }
    assert.equal((await getJson(`${f.base}/api/executions/exec-acme/trace`)).status, 401);
    const acme = await getJson(`${f.base}/api/executions/exec-acme/trace`, { headers: { authorization: 'Bearer acme-r' } });
    assert.equal(acme.status, 200);
    assert.equal(acme.body.spans.length, 14, 'both shards\' traces');
    const beta = await getJson(`${f.base}/api/executions/exec-acme/trace`, { headers: { authorization: 'Bearer beta-r' } });
    assert.equal(beta.status, 200);
    assert.equal(beta.body.execution.status, 'unknown');
    const wrong = await getJson(`${f.base}/api/executions`, { headers: { authorization: 'Bearer acme-r', 'x-scope-orgid': 'beta' } });
    assert.equal(wrong.status, 403);
  } finally {
    assert.deepEqual(await f.stop(), { code: 0, sig: null }, f.log);
  }
});

test('shards over TLS (ARBOR_SHARD_CA_FILE): lookups and live streams verify the shards\' certificates', async () => {
  const certs = makeCerts(tempDir());
  const tls = { ARBOR_TLS_CERT: certs.cert, ARBOR_TLS_KEY: certs.key };
  const data = tempDir();
  const c = await startCollector(data, [], { env: tls });
  const q = await startQuery(data, [], { env: { ...tls, ARBOR_LIVE_QUIET: '300ms' } });
  const https = `https://${q.query}`;
  const f = await startQuery(tempDir(), [], { env: { ARBOR_SHARDS: https, ARBOR_SHARD_CA_FILE: certs.ca } });
  const untrusting = await startQuery(tempDir(), [], { env: { ARBOR_SHARDS: https } });
  try {
    const frames = [];
    const ws = new WebSocket(`${f.base.replace('http', 'ws')}/api/executions/exec-tls/trace/live`);
    ws.on('message', (m) => frames.push(JSON.parse(String(m))));
    await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
    const body = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: runSpans({ trace: 95, exec: 'exec-tls', start: 95000, n: 1 }) }] }] });
    const posted = curl(['--cacert', certs.ca, '-H', 'content-type: application/json', '--data-binary', body, `https://${c.otlp_http}/v1/traces`]);
    assert.equal(posted.status, 0, String(posted.stderr));
    await eventually(() => frames.some((x) => x.complete), { timeoutMs: 20000 });
    assert.equal(new Set(frames.flatMap((x) => x.spans.map((y) => y.span_id))).size, 3);
    ws.close();
    const t = await getJson(`${f.base}/api/executions/exec-tls/trace`);
    assert.equal(t.status, 200);
    assert.equal(t.body.spans.length, 3);
    const refused = await getJson(`${untrusting.base}/api/executions/exec-tls/trace`);
    assert.equal(refused.status, 503, 'a shard whose certificate does not verify is not asked');
  } finally {
    for (const d of [untrusting, f]) assert.deepEqual(await d.stop(), { code: 0, sig: null }, d.log);
  }
});

test('the federating query stops cleanly (no leak under the sanitizers)', async () => {
  assert.deepEqual(await fed.stop(), { code: 0, sig: null }, fed.log);
});

run();
