// The Canvas Trace tab contract beyond the basics: previews and full spans,
// artifacts and their proxy, external links, executions split over traces,
// paging and depth, skeletons, lists, CORS, metrics.
import assert from 'node:assert/strict';
import http from 'node:http';
import WebSocket from 'ws';
import { test, setup, run, tempDir, startCollector, startQuery, getJson, span, postSpans, hex, isoNs, curl, eventually } from './lib.mjs';

// an artifact backend the query service proxies to
const seen = [];
const upstream = http.createServer((req, res) => {
  seen.push({ url: req.url, method: req.method, auth: req.headers.authorization, cookie: req.headers.cookie });
  if (req.url === '/api/artifacts/report%201/download') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-disposition': 'attachment; filename="r.txt"' });
    res.end('artifact bytes');
  } else {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"detail":"no such artifact"}');
  }
});
await new Promise((r) => upstream.listen(0, '127.0.0.1', r));

const data = tempDir();
const collector = await startCollector(data);
const query = await startQuery(data, [
  '--preview-max-length=100',
  `--artifact-upstream=http://127.0.0.1:${upstream.address().port}`,
  '--trace-links=Grafana=http://grafana.local/explore?trace={trace_id},Logs=http://logs.local/{execution_id}',
  '--cors-origins=http://localhost:5173,http://canvas.local',
]);
const get = (path, init) => getJson(`${query.base}${path}`, init);
const T = 0x1000;
const NOW = 1_800_000_000_000_000_000n;

test('content values are cut to the preview length in code points, marked, and whole on the span endpoint', async () => {
  const long = 'é'.repeat(300); // 300 code points, 600 bytes
  await postSpans(collector.url, [span({ trace: T, id: 1, name: 'llm', start: NOW, attrs: {
    'orcheo.execution.id': 'exec-preview', 'gen_ai.input.messages': long, 'gen_ai.prompt.0.content': long,
    'not.content': long, 'short.prompt': 'hi' },
    events: [{ name: 'prompt', attrs: { preview: long, n: 3 } }, { name: 'other', attrs: { preview: long } }] })]);
  const b = (await get('/api/executions/exec-preview/trace')).body;
  const a = b.spans[0].attributes;
  assert.equal([...a['gen_ai.input.messages']].length, 100);
  assert.ok(a['gen_ai.input.messages'].endsWith('…'));
  assert.equal([...a['gen_ai.prompt.0.content']].length, 100);
  assert.equal(a['not.content'], long, 'non-content attributes are not cut');
  assert.deepEqual(a['arbor.truncated'],
    { 'gen_ai.input.messages': 300, 'gen_ai.prompt.0.content': 300, 'events[0].preview': 300 });
  assert.equal([...b.spans[0].events[0].attributes.preview].length, 100);
  assert.equal(b.spans[0].events[1].attributes.preview, long, 'only content events are cut');
  const full = (await get(`/api/traces/${hex(T, 32)}/spans/${hex(1, 16)}`)).body;
  assert.equal(full.attributes['gen_ai.input.messages'], long);
  assert.equal(full.events[0].attributes.preview, long);
  assert.equal(full.attributes['arbor.truncated'], undefined);
  assert.equal(full.resource.attributes['service.name'], 'test-svc');
  assert.deepEqual([full.scope.name, full.scope.version], ['test-scope', '1.2.3']);
  assert.equal(full.start_time_unix_nano, String(NOW));
  assert.equal((await get(`/api/traces/${hex(T, 32)}/spans/${hex(99, 16)}`)).status, 404);
  assert.equal((await get(`/api/traces/${hex(T, 32)}/spans/xyz`)).status, 400);
});

test('token badges: gen_ai.usage.* added only for the halves a span carried, listed as derived, never on the span endpoint', async () => {
  const TT = T + 40;
  await postSpans(collector.url, [
    span({ trace: TT, id: 1, name: 'SELECT orders', start: NOW, attrs: { 'orcheo.execution.id': 'exec-derived', 'db.system': 'postgresql' } }),
    span({ trace: TT, id: 2, parent: 1, name: 'embed', start: NOW + 1n, attrs: { 'llm.token_count.prompt': 5 } }),
    span({ trace: TT, id: 3, parent: 1, name: 'chat', start: NOW + 2n, attrs: { 'orcheo.token.input': 3, 'orcheo.token.output': 4 } }),
    span({ trace: TT, id: 4, parent: 1, name: 'native', start: NOW + 3n, attrs: { 'gen_ai.usage.input_tokens': 9 } })]);
  const spans = Object.fromEntries((await get('/api/executions/exec-derived/trace')).body.spans.map((s) => [s.name, s]));
  const usage = (s) => Object.keys(s.attributes).filter((k) => k.startsWith('gen_ai.usage.'));
  assert.deepEqual(usage(spans['SELECT orders']), [], 'a span without tokens gets none');
  assert.equal(spans['SELECT orders'].derived_attributes, undefined);
  assert.deepEqual(usage(spans.embed), ['gen_ai.usage.input_tokens'], 'only the half it carried');
  assert.equal(spans.embed.attributes['gen_ai.usage.input_tokens'], 5);
  assert.deepEqual(spans.embed.derived_attributes, ['gen_ai.usage.input_tokens']);
  assert.deepEqual(spans.chat.derived_attributes, ['gen_ai.usage.input_tokens', 'gen_ai.usage.output_tokens']);
  assert.equal(spans.native.derived_attributes, undefined, 'its own gen_ai.usage.* is not derived');
  assert.deepEqual(usage(spans.native), ['gen_ai.usage.input_tokens']);
  const full = (await get(`/api/traces/${hex(TT, 32)}/spans/${hex(3, 16)}`)).body;
  assert.deepEqual(usage(full), [], 'the span endpoint shows the span as it was sent');
  assert.equal(full.derived_attributes, undefined);
  assert.deepEqual(full.token_usage, { input: 3, output: 4 }, 'the counts stay in token_usage');
});

test('artifacts: IDs and artifact events become download links; the download is proxied', async () => {
  await postSpans(collector.url, [span({ trace: T + 1, id: 1, start: NOW, attrs: {
    'orcheo.execution.id': 'exec-art', 'orcheo.artifact.ids': ['report 1', 'b/2'] },
    events: [{ name: 'artifact', attrs: { 'artifact.id': 'report 1', name: 'report.txt', mime_type: 'text/plain', size: 14 } },
      { name: 'artifact', attrs: { id: 'only-event', preview: 'x'.repeat(200) } }] })]);
  const s = (await get('/api/executions/exec-art/trace')).body.spans[0];
  assert.deepEqual(s.attributes['orcheo.artifact.ids'], ['report 1', 'b/2'], 'kept as is');
  assert.deepEqual(s.artifacts.map((x) => x.id), ['report 1', 'b/2', 'only-event']);
  assert.deepEqual(s.artifacts[0], { id: 'report 1', download_url: '/api/artifacts/report%201/download',
    name: 'report.txt', mime_type: 'text/plain', size: 14 });
  assert.equal(s.artifacts[1].download_url, '/api/artifacts/b%2F2/download');
  assert.equal([...s.artifacts[2].preview].length, 100);
  // a plain navigation, no bearer header: the proxy passes it through
  const r = await fetch(`${query.base}${s.artifacts[0].download_url}`);
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'artifact bytes');
  assert.match(r.headers.get('content-disposition'), /attachment/);
  assert.equal(seen.at(-1).url, '/api/artifacts/report%201/download');
  assert.equal((await fetch(`${query.base}/api/artifacts/missing/download`)).status, 404);
});

test('the artifact proxy: GET/HEAD of /api/artifacts/{id}/download only, no credentials forwarded unless configured', async () => {
  // IDs a span names but that would walk an upstream that decodes paths off its artifacts
  await postSpans(collector.url, [span({ trace: T + 2, id: 1, start: NOW,
    attrs: { 'orcheo.artifact.ids': ['../secret', 'a/../../etc', 'x\\..\\y'] } })]);
  await eventually(async () => (await fetch(`${query.base}/api/artifacts/..%2Fsecret`)).status === 200);
  const url = `${query.base}/api/artifacts/report%201/download`;
  const before = seen.length;
  const r = await fetch(url, { headers: { authorization: 'Bearer arbor-token', cookie: 'session=s3cret' } });
  assert.equal(r.status, 200);
  assert.equal(seen.at(-1).auth, undefined, "the caller's token stays here");
  assert.equal(seen.at(-1).cookie, undefined);
  assert.equal((await fetch(url, { method: 'HEAD' })).status, 200);
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    const m = await fetch(url, { method, body: method === 'DELETE' ? undefined : 'x' });
    assert.equal(m.status, 405, method);
    assert.equal(m.headers.get('allow'), 'GET, HEAD');
  }
  const ref = await fetch(`${query.base}/api/artifacts/report%201`); // does a span name it? (what federation asks)
  assert.deepEqual([ref.status, await ref.json()], [200, { id: 'report 1', referenced: true }]);
  for (const path of ['/api/artifacts/nobody-names-this', '/api/artifacts/report%201/other', '/api/artifacts/a/b/download',
    '/api/artifacts//download', '/api/artifacts/x/download/more', '/api/artifacts'])
    assert.equal((await fetch(`${query.base}${path}`)).status, 404, path);
  // dot segments, encoded or not, sent as they are (fetch would normalise them away)
  for (const path of ['/api/artifacts/%2e%2e/download', '/api/artifacts/%2E/download', '/api/artifacts/../download',
    '/api/artifacts/..%2Fsecret/download', '/api/artifacts/a%2F..%2F..%2Fetc/download', '/api/artifacts/x%5C..%5Cy/download'])
    assert.equal(curl(['--path-as-is', '-o', '/dev/null', '-w', '%{http_code}', `${query.base}${path}`]).stdout.toString(),
      '404', path);
  assert.equal(seen.length, before + 2, 'only the GET and the HEAD reached the upstream');
  const q2 = await startQuery(data, [`--artifact-upstream=http://127.0.0.1:${upstream.address().port}`,
    '--artifact-forward-credentials=true']);
  await fetch(`${q2.base}/api/artifacts/report%201/download`, { headers: { authorization: 'Bearer for-upstream' } });
  assert.equal(seen.at(-1).auth, 'Bearer for-upstream', 'forwarded when asked');
  await q2.stop();
});

test('external links from ARBOR_TRACE_LINKS', async () => {
  const b = (await get('/api/executions/exec-art/trace')).body;
  assert.deepEqual(b.execution.external_links, [
    { name: 'Grafana', url: `http://grafana.local/explore?trace=${hex(T + 1, 32)}` },
    { name: 'Logs', url: 'http://logs.local/exec-art' }]);
});

test('an execution split over two traces (a resumed run) merges; running until both roots arrive', async () => {
  const E = { 'orcheo.execution.id': 'exec-resumed', 'orcheo.workflow.id': 'wf-r' };
  await postSpans(collector.url, [
    span({ trace: T + 2, id: 1, start: NOW, end: NOW + 5000n, attrs: { ...E, 'orcheo.token.input': 5 } }),
    span({ trace: T + 2, id: 2, parent: 1, start: NOW + 1n, attrs: { 'orcheo.token.output': 7 } })]);
  // second run: its node arrives, the root (with the ID) not yet; a span carrying the ID maps it
  await postSpans(collector.url, [
    span({ trace: T + 3, id: 3, parent: 4, start: NOW + 10000n, attrs: { 'execution.id': 'exec-resumed', 'orcheo.token.input': 1 } })]);
  let b = (await get('/api/executions/exec-resumed/trace')).body;
  assert.deepEqual(b.execution.trace_ids.sort(), [hex(T + 2, 32), hex(T + 3, 32)]);
  assert.equal(b.execution.trace_id, hex(T + 2, 32), 'the earliest trace');
  assert.equal(b.execution.status, 'running');
  assert.deepEqual(b.spans.map((s) => s.span_id), [1, 2, 4, 3].map((i) => hex(i, 16)));
  assert.equal(b.spans[2].attributes['arbor.placeholder'], true);
  assert.deepEqual(b.execution.token_usage, { input: 6, output: 7 });
  await postSpans(collector.url, [span({ trace: T + 3, id: 4, start: NOW + 9000n, end: NOW + 20000n, status: 2, attrs: E }),
    span({ trace: T + 3, id: 5, parent: 4, start: NOW + 10001n, end: NOW + 25000n })]); // detached work ends after the root
  b = (await get('/api/executions/exec-resumed/trace')).body;
  assert.equal(b.execution.status, 'error', 'the latest root decides');
  assert.equal(b.execution.finished_at, isoNs(NOW + 20000n), "the root's end, not the latest span's");
  const listed = (await get('/api/executions?limit=100')).body.executions.find((e) => e.execution_id === 'exec-resumed');
  assert.equal(listed.finished_at, isoNs(NOW + 20000n), 'the list agrees');
  assert.equal(b.execution.started_at, isoNs(NOW));
});

// a 2,525-span trace: a root, 25 children of 100 children each; child 7 never arrives
const BIG = T + 10;
const bigSpans = [];
setup('a 2,525-span trace', async () => {
  bigSpans.push(span({ trace: BIG, id: 1, start: NOW, end: NOW + 10n ** 9n, attrs: { 'orcheo.execution.id': 'exec-big' } }));
  for (let c = 0; c < 25; c++) {
    const cid = 1000 + c;
    if (c !== 7) // child 7 never arrives: its children hang under a placeholder
      bigSpans.push(span({ trace: BIG, id: cid, parent: 1, start: NOW + BigInt(c * 1000), status: c === 3 ? 2 : 0, attrs: { 'orcheo.token.input': 1 } }));
    for (let g = 0; g < 100; g++)
      bigSpans.push(span({ trace: BIG, id: 100000 + c * 1000 + g, parent: cid, start: NOW + BigInt(c * 1000 + 100 - g), attrs: { 'orcheo.token.output': 2 } }));
  }
  for (let i = 0; i < bigSpans.length; i += 1000) await postSpans(collector.url, bigSpans.slice(i, i + 1000));
});

async function walk(path, limit, extra = '') {
  const all = [];
  let cursor = null, pages = 0;
  do {
    const r = await get(`${path}?limit=${limit}${extra}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(r.status, 200, r.text);
    all.push(...r.body.spans);
    cursor = r.body.page_info.cursor;
    assert.equal(r.body.page_info.has_next_page, cursor !== null);
    pages++;
  } while (cursor);
  return { all, pages };
}

test('pages continue one pre-order walk: same order as one big page, parents first, nothing twice', async () => {
  const whole = (await get('/api/executions/exec-big/trace?limit=10000')).body;
  assert.equal(whole.spans.length, 2525 + 1, 'stored spans and one placeholder');
  const dflt = (await get('/api/executions/exec-big/trace')).body;
  assert.equal(dflt.spans.length, 2526, 'the default page (10,000: the Canvas never loads more) holds it all');
  assert.equal(dflt.page_info.has_next_page, false);
  const { all, pages } = await walk('/api/executions/exec-big/trace', 1000);
  assert.equal(pages, 3);
  assert.deepEqual(all.map((s) => s.span_id), whole.spans.map((s) => s.span_id));
  const seenIds = new Set();
  for (const s of all) {
    if (s.parent_span_id !== null) assert.ok(seenIds.has(s.parent_span_id), `parent of ${s.span_id} came first`);
    assert.ok(!seenIds.has(s.span_id));
    seenIds.add(s.span_id);
  }
  // siblings by start time: grandchildren were sent in reverse start order
  const kids = all.filter((s) => s.parent_span_id === hex(1000, 16)).map((s) => s.span_id);
  assert.deepEqual(kids, [...Array(100).keys()].map((g) => hex(100000 + 99 - g, 16)));
  assert.equal(all.find((s) => s.span_id === hex(1007, 16)).attributes['arbor.placeholder'], true);
  assert.equal(whole.execution.span_count, 2525);
});

test('depth limits the tree; cut spans report child_count', async () => {
  const d1 = (await get('/api/executions/exec-big/trace?depth=1')).body;
  assert.deepEqual(d1.spans.map((s) => [s.span_id, s.child_count]), [[hex(1, 16), 24], [hex(1007, 16), 100]]);
  const { all } = await walk('/api/executions/exec-big/trace', 7, '&depth=2');
  // the placeholder is a root: its 100 children sit at depth 1
  assert.equal(all.length, 2 + 24 + 100);
  assert.ok(all.every((s) => s.depth < 2));
});

test('bad paging parameters: 400', async () => {
  for (const q of ['limit=0', 'limit=10001', 'limit=abc', 'depth=0', 'cursor=garbage', 'cursor=12.zz'])
    assert.equal((await get(`/api/executions/exec-big/trace?${q}`)).status, 400, q);
});

test('skeleton: compact entries with subtree aggregates; ?parent= pages one span\'s children', async () => {
  const sk = (await get(`/api/traces/${hex(BIG, 32)}/tree?limit=30`)).body;
  const root = sk.spans[0];
  assert.deepEqual(Object.keys(root).sort(), ['child_count', 'depth', 'end_time', 'error_count', 'kind', 'name',
    'parent_span_id', 'service', 'span_id', 'start_time', 'status', 'subtree_tokens', 'tokens', 'trace_id'].sort());
  assert.equal(root.service, 'test-svc', 'the span\'s resource service.name');
  const withEvents = (await get(`/api/traces/${hex(BIG, 32)}/tree?limit=3&events=1`)).body.spans;
  assert.ok(withEvents.every((x) => Array.isArray(x.events)), '?events=1 lists each span\'s events');
  assert.equal(root.child_count, 24);
  assert.deepEqual(root.subtree_tokens, { input: 24, output: 2 * 2400 });
  assert.equal(root.error_count, 1);
  assert.equal(sk.spans.length, 30);
  assert.equal(sk.execution.span_count, 2525);
  const { all, pages } = await walk(`/api/traces/${hex(BIG, 32)}/tree`, 40, `&parent=${hex(1003, 16)}`);
  assert.equal(pages, 3);
  assert.equal(all.length, 100);
  assert.ok(all.every((s) => s.parent_span_id === hex(1003, 16) && s.depth === 2));
  assert.equal(all.find((s) => s).status, 'UNSET');
  const ph = (await get(`/api/executions/exec-big/tree?depth=1`)).body.spans[1];
  assert.equal(ph.placeholder, true);
  assert.equal((await get(`/api/traces/${hex(BIG, 32)}/tree?parent=${hex(424242, 16)}`)).status, 404);
});

test('lists: executions and traces newest first, in-flight included, filters, bounds', async () => {
  await postSpans(collector.url, [span({ trace: T + 20, id: 5, parent: 6, start: NOW + 10n ** 12n })]); // in-flight, no execution yet
  const tr = (await get('/api/traces?limit=3')).body.traces;
  assert.equal(tr.length, 3);
  assert.equal(tr[0].trace_id, hex(T + 20, 32));
  assert.equal(tr[0].status, 'running');
  assert.equal(tr[0].execution_id, null);
  const ex = (await get('/api/executions')).body.executions;
  const ids = ex.map((e) => e.execution_id);
  // newest first by trace start: the resumed run's second trace started last
  assert.deepEqual(ids.slice(0, 1), ['exec-resumed']);
  assert.ok(ids.includes('exec-resumed') && ids.includes('exec-preview'));
  const resumed = ex.find((e) => e.execution_id === 'exec-resumed');
  assert.equal(resumed.trace_ids.length, 2);
  assert.equal(resumed.workflow_id, 'wf-r');
  assert.equal(resumed.status, 'error');
  assert.deepEqual((await get('/api/executions?workflow_id=wf-r')).body.executions.map((e) => e.execution_id), ['exec-resumed']);
  assert.deepEqual((await get('/api/executions?status=error')).body.executions.map((e) => e.execution_id), ['exec-resumed']);
  const since = new Date(Number((NOW + 500n * 10n ** 9n) / 1000000n)).toISOString();
  assert.deepEqual((await get(`/api/traces?since=${since}`)).body.traces.map((t) => t.trace_id), [hex(T + 20, 32)]);
  for (const q of ['limit=0', 'limit=1001', 'status=weird', 'since=yesterday'])
    assert.equal((await get(`/api/executions?${q}`)).status, 400, q);
});

test('CORS: allowed origins get headers, preflight allows Authorization; others are refused', async () => {
  const ok = await fetch(`${query.base}/api/executions/x/trace`, { headers: { origin: 'http://canvas.local' } });
  assert.equal(ok.headers.get('access-control-allow-origin'), 'http://canvas.local');
  assert.match(ok.headers.get('vary'), /Origin/);
  const no = await fetch(`${query.base}/api/executions/x/trace`, { headers: { origin: 'http://evil.example' } });
  assert.equal(no.status, 200);
  assert.equal(no.headers.get('access-control-allow-origin'), null);
  const pre = await fetch(`${query.base}/api/executions/x/trace`, { method: 'OPTIONS', headers: {
    origin: 'http://localhost:5173', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), 'http://localhost:5173');
  assert.match(pre.headers.get('access-control-allow-headers'), /authorization/i);
  assert.match(pre.headers.get('access-control-allow-methods'), /GET/);
  const bad = await fetch(`${query.base}/api/executions/x/trace`, { method: 'OPTIONS', headers: {
    origin: 'http://evil.example', 'access-control-request-method': 'GET' } });
  assert.equal(bad.status, 403);
  assert.equal(ok.headers.get('access-control-allow-credentials'), 'true', 'a listed origin may send credentials');
});

test('CORS "*": any origin may read, never with credentials', async () => {
  const q2 = await startQuery(data, ['--cors-origins=*']);
  const r = await fetch(`${q2.base}/api/executions/x/trace`, { headers: { origin: 'http://evil.example' } });
  assert.equal(r.headers.get('access-control-allow-origin'), '*', 'not the caller\'s origin echoed back');
  assert.equal(r.headers.get('access-control-allow-credentials'), null);
  const pre = await fetch(`${q2.base}/api/executions/x/trace`, { method: 'OPTIONS', headers: {
    origin: 'http://evil.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  assert.equal(pre.headers.get('access-control-allow-credentials'), null);
  await q2.stop();
});

test('DNS rebinding: a loopback install answers loopback Host names only, or ARBOR_ALLOWED_HOSTS', async () => {
  const status = (base, host) => curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', `Host: ${host}`,
    `${base}/api/executions/x/trace`]).stdout.toString();
  const port = query.query.split(':')[1];
  assert.equal(status(query.base, 'evil.example'), '403');
  assert.equal(status(query.base, `evil.example:${port}`), '403');
  for (const h of [`localhost:${port}`, `127.0.0.1:${port}`, 'LOCALHOST', `[::1]:${port}`])
    assert.equal(status(query.base, h), '200', h);
  const q2 = await startQuery(data, ['--allowed-hosts=arbor.internal,traces.example.com']);
  assert.equal(status(q2.base, 'arbor.internal:3200'), '200');
  assert.equal(status(q2.base, 'traces.example.com'), '200');
  assert.equal(status(q2.base, 'localhost'), '403', 'the list replaces the loopback names');
  await q2.stop();
});

test('cross-site WebSocket hijacking: an upgrade from a foreign Origin is refused', async () => {
  const url = `ws://${query.query}/api/executions/exec-big/trace/live`;
  const attempt = (origin) => new Promise((resolve) => {
    const ws = new WebSocket(url, origin ? { origin } : {});
    ws.on('open', () => { ws.close(); resolve('open'); });
    ws.on('unexpected-response', (req, res) => { resolve(res.statusCode); req.destroy(); });
    ws.on('error', () => {});
  });
  assert.equal(await attempt('http://evil.example'), 403);
  assert.equal(await attempt('http://canvas.local'), 'open', 'a CORS origin');
  assert.equal(await attempt(`http://${query.query}`), 'open', 'its own UI');
  assert.equal(await attempt(null), 'open', 'a client that is not a browser');
});

test('/metrics: Prometheus text with ingest, store and request figures', async () => {
  const r = await fetch(`${query.base}/metrics`);
  assert.match(r.headers.get('content-type'), /^text\/plain/);
  const text = await r.text();
  const value = (re) => Number(re.exec(text)?.[1]);
  assert.ok(value(/^arbor_spans_stored_total (\d+)$/m) >= 2525);
  assert.equal(value(/^arbor_spans_rejected_total (\d+)$/m), 0);
  assert.ok(value(/^arbor_commit_duration_seconds_count (\d+)$/m) >= 1);
  assert.match(text, /^arbor_commit_duration_seconds_bucket\{le="\+Inf"\} \d+$/m);
  assert.ok(value(/^arbor_store_entries\{index="spans"\} (\d+)$/m) >= 2525);
  assert.ok(value(/^arbor_query_requests_total\{route="execution_trace",code="200"\} (\d+)$/m) > 5);
  assert.match(text, /^arbor_query_request_duration_seconds_bucket\{route="execution_trace",le="0.001"\} \d+$/m);
  assert.match(text, /^# TYPE arbor_live_subscribers gauge$/m);
  for (const line of text.split('\n').filter((l) => l && !l.startsWith('#')))
    assert.match(line, /^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$/, line);
});

test('daemons exit cleanly', async () => {
  upstream.close();
  assert.deepEqual(await collector.stop(), { code: 0, sig: null });
  assert.deepEqual(await query.stop(), { code: 0, sig: null });
});

await run();
