// Grafana's Tempo datasource calls, answered as Tempo does (reference/tempo-jaeger.md
// §1): golden responses checked field by field, the TraceQL examples of §2 over a
// dataset built so each has a known answer, invalid queries, and protobuf bodies
// decoded by Debian's python3-protobuf.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test, setup, run, tempDir, startCollector, startQuery, getJson, span, postSpans, hex, isoNs, BUILD } from './lib.mjs';

const data = tempDir();
const collector = await startCollector(data);
const query = await startQuery(data);
const Q = query.base;
const S = 1_700_000_000_000_000_000n; // ns
const ms = (n) => BigInt(n) * 1_000_000n;
const T1 = 0xa1, T2 = 0xa2, T3 = 0xa3, T4 = 0xa4;

// T1 frontend (prod, us-east-1): POST /api/orders (error, 500, 6 s) > db (postgresql, error)
// T2 frontend (staging, us-west-1): GET /x (ok, 200, 50 ms)
// T3 gateway: GET /gw (150 ms) > child-a (http.url) > db (mysql, db-shard-001); GET /gw > child-b
// T4 two resources in one trace: us-east-1 and us-west-1
setup('four traces over OTLP/JSON', async () => {
  await postSpans(collector.url, [
    span({ trace: T1, id: 1, name: 'POST /api/orders', start: S, end: S + ms(6000), status: 2,
      attrs: { 'http.status_code': 500, 'odd/key name': 'v' } }),
    span({ trace: T1, id: 2, parent: 1, name: 'db', start: S + ms(1), end: S + ms(100), status: 2,
      attrs: { 'db.system': 'postgresql', 'db.name': 'db-shard-001' } })],
    { 'service.name': 'frontend', 'deployment.environment': 'prod-eu', 'cloud.region': 'us-east-1' });
  await postSpans(collector.url, [span({ trace: T2, id: 1, name: 'GET /x', start: S + ms(10000), end: S + ms(10050), status: 1,
    attrs: { 'http.status_code': 200 } })],
    { 'service.name': 'frontend', 'deployment.environment': 'staging', 'cloud.region': 'us-west-1' });
  await postSpans(collector.url, [
    span({ trace: T3, id: 1, name: 'GET /gw', start: S + ms(20000), end: S + ms(20150) }),
    span({ trace: T3, id: 2, parent: 1, name: 'child-a', start: S + ms(20001), attrs: { 'http.url': '/path/of/api' } }),
    span({ trace: T3, id: 3, parent: 2, name: 'db', start: S + ms(20002), attrs: { 'db.system': 'mysql', 'db.name': 'db-shard-001' } }),
    span({ trace: T3, id: 4, parent: 1, name: 'child-b', start: S + ms(20003) })], { 'service.name': 'gateway' });
  await postSpans(collector.url, [span({ trace: T4, id: 1, name: 'east', start: S + ms(30000), end: S + ms(30001) })],
    { 'service.name': 'multi', 'cloud.region': 'us-east-1' });
  await postSpans(collector.url, [span({ trace: T4, id: 2, parent: 1, name: 'west', start: S + ms(30000) })],
    { 'service.name': 'multi', 'cloud.region': 'us-west-1' });
});

test('Save & test: /api/echo and /api/status/buildinfo', async () => {
  const e = await fetch(`${Q}/api/echo`);
  assert.equal(e.status, 200);
  assert.match(e.headers.get('content-type'), /^text\/plain/);
  assert.equal(await e.text(), 'echo\n');
  const b = await getJson(`${Q}/api/status/buildinfo`);
  assert.deepEqual(Object.keys(b.body).sort(), ['branch', 'buildDate', 'buildUser', 'goVersion', 'revision', 'version']);
  assert.match(b.body.version, /^\d+\.\d+\.\d+$/, 'a semver Grafana can compare');
  // the commit the binary was built from (meson builds before it tests, so HEAD is it)
  const head = spawnSync('git', ['-C', path.join(import.meta.dirname, '../..'), 'rev-parse', 'HEAD'], { encoding: 'utf8' });
  if (head.status === 0) {
    assert.match(b.body.revision, /^[0-9a-f]{12}(-dirty)?$/, b.body.revision);
    assert.ok(head.stdout.startsWith(b.body.revision.replace(/-dirty$/, '')), `${b.body.revision} is HEAD ${head.stdout}`);
  } else {
    assert.equal(b.body.revision, `${b.body.version}-nogit`, 'no git: the version says which source');
  }
});

test('/api/prices prints each price as written (0.15, not 0.14999999999999999)', async () => {
  const priced = await startQuery(data, [`--prices=${path.join(import.meta.dirname, '../../deploy/prices.example')}`]);
  const text = await (await fetch(`${priced.base}/api/prices`)).text();
  assert.match(text, /\{"model":"gpt-4o-mini\*","input":0\.15,"output":0\.6\}/, text);
  assert.doesNotMatch(text, /\d{12}/, 'no float noise anywhere in the table');
  await priced.stop();
});

function decodePb(bytes, type) {
  const r = spawnSync('/usr/bin/python3', [path.join(import.meta.dirname, 'decode_tempo.py'), BUILD, type], { input: bytes });
  assert.equal(r.status, 0, r.stderr.toString());
  return JSON.parse(r.stdout.toString());
}

const pb = (url) => fetch(url, { headers: { accept: 'application/protobuf' } });

test('trace by ID v2, protobuf (what Grafana calls): a TraceByIDResponse python3-protobuf decodes', async () => {
  const r = await pb(`${Q}/api/v2/traces/${hex(T3, 32)}`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/protobuf');
  const d = decodePb(Buffer.from(await r.arrayBuffer()), 'tempopb.TraceByIDResponse');
  assert.equal(d.status, 0, 'COMPLETE');
  assert.equal(d.batches.length, 1);
  assert.equal(d.batches[0].resource['service.name'], 'gateway');
  const spans = d.batches[0].scopes[0].spans;
  assert.deepEqual(spans.map((s) => s.name), ['GET /gw', 'child-a', 'db', 'child-b'], 'pre-order');
  assert.equal(spans[0].trace_id, hex(T3, 32));
  assert.equal(spans[2].parent, hex(2, 16));
  // T4: two resources become two batches
  const d4 = decodePb(Buffer.from(await (await pb(`${Q}/api/v2/traces/${hex(T4, 32)}`)).arrayBuffer()), 'tempopb.TraceByIDResponse');
  assert.deepEqual(d4.batches.map((b) => b.resource['cloud.region']).sort(), ['us-east-1', 'us-west-1']);
});

test('trace by ID v1, protobuf Trace and {"batches": …} JSON in Tempo style', async () => {
  const r = await pb(`${Q}/api/traces/${hex(T1, 32)}`);
  const d = decodePb(Buffer.from(await r.arrayBuffer()), 'tempopb.Trace');
  assert.deepEqual(d.batches[0].scopes[0].spans.map((s) => [s.name, s.status, s.kind]), [['POST /api/orders', 2, 1], ['db', 2, 1]]);
  const j = await getJson(`${Q}/api/traces/${(T1).toString(16)}`); // short IDs are left-padded
  assert.equal(j.status, 200);
  assert.match(j.headers.get('content-type'), /^application\/json/);
  const batch = j.body.batches[0];
  assert.deepEqual(batch.resource.attributes.find((a) => a.key === 'service.name'), { key: 'service.name', value: { stringValue: 'frontend' } });
  assert.deepEqual(batch.scopeSpans[0].scope, { name: 'test-scope', version: '1.2.3' });
  const root = batch.scopeSpans[0].spans[0];
  assert.equal(Buffer.from(root.traceId, 'base64').toString('hex'), hex(T1, 32), 'IDs are base64 (Tempo quirk)');
  assert.equal(Buffer.from(root.spanId, 'base64').toString('hex'), hex(1, 16));
  assert.equal(root.parentSpanId, undefined);
  assert.equal(root.kind, 'SPAN_KIND_INTERNAL');
  assert.equal(root.startTimeUnixNano, String(S));
  assert.equal(root.endTimeUnixNano, String(S + ms(6000)));
  assert.deepEqual(root.status, { code: 'STATUS_CODE_ERROR' });
  assert.deepEqual(root.attributes.find((a) => a.key === 'http.status_code').value, { intValue: '500' }, 'int64 as a string');
  const child = batch.scopeSpans[0].spans[1];
  assert.equal(Buffer.from(child.parentSpanId, 'base64').toString('hex'), hex(1, 16));
});

test('missing traces: v1 404 with an empty body, v2 200 with an empty trace; bad IDs 400', async () => {
  const v1 = await fetch(`${Q}/api/traces/${hex(0xdead, 32)}`);
  assert.equal(v1.status, 404);
  assert.equal(await v1.text(), '');
  const v2 = await getJson(`${Q}/api/v2/traces/${hex(0xdead, 32)}`);
  assert.equal(v2.status, 200);
  assert.deepEqual(v2.body.trace, {});
  const v2pb = await pb(`${Q}/api/v2/traces/${hex(0xdead, 32)}`);
  assert.equal(v2pb.status, 200);
  assert.equal((await v2pb.arrayBuffer()).byteLength, 0);
  for (const id of ['xyz', 'a'.repeat(33)])
    assert.equal((await fetch(`${Q}/api/traces/${id}`)).status, 400, id);
});

test('v2: start/end outside the trace means not found; q keeps only matching spans (PARTIAL)', async () => {
  const t0 = Number(S / 1_000_000_000n);
  assert.deepEqual((await getJson(`${Q}/api/v2/traces/${hex(T1, 32)}?start=${t0 + 100}&end=${t0 + 200}`)).body.trace, {});
  assert.ok((await getJson(`${Q}/api/v2/traces/${hex(T1, 32)}?start=${t0 - 1}&end=${t0 + 1}`)).body.trace.resourceSpans);
  const f = (await getJson(`${Q}/api/v2/traces/${hex(T3, 32)}?q=${encodeURIComponent('{ name = "db" }')}`)).body;
  assert.equal(f.status, 'PARTIAL');
  assert.deepEqual(f.trace.resourceSpans[0].scopeSpans[0].spans.map((s) => s.name), ['db']);
  assert.equal((await fetch(`${Q}/api/v2/traces/${hex(T3, 32)}?q=${encodeURIComponent('{ .a = 1 } && { .b = 2 }')}`)).status, 400);
});

const search = async (params) => {
  const r = await getJson(`${Q}/api/search?${new URLSearchParams(params)}`);
  return r;
};
const ids = (r) => r.body.traces.map((t) => parseInt(t.traceID, 16));

// the TraceQL examples of reference §2, each with the traces it must return (newest first)
const examples = [
  ['{ resource.service.name = "frontend" && name = "POST /api/orders" }', [T1]],
  ['{ resource.service.name="frontend" && name = "POST /api/orders" && status = error }', [T1]],
  ['{ span.http.status_code >= 500 }', [T1]],
  ['{ resource.deployment.environment =~ "prod-.*" && span.http.status_code = 500 }', [T1]],
  ['{ span.db.system =~ "postgresql|mysql" }', [T3, T1]],
  ['{ trace:duration > 5s }', [T1]],
  ['{ traceDuration > 100ms }', [T3, T1]],
  ['{ rootServiceName = "gateway" }', [T3]],
  ['{ resource.cloud.region = "us-east-1" } && { resource.cloud.region = "us-west-1" }', [T4]],
  ['{ resource.service.name="frontend" } >> { status = error }', [T1]],
  ['{ span.http.url = "/path/of/api" } >> { span.db.name = "db-shard-001" }', [T3]],
  ['{ name = "GET /gw" } > { span.http.url = "/path/of/api" }', [T3]],
  ['{ name = "child-a" } ~ { name = "child-b" }', [T3]],
  ['{ !(status = error) && resource.service.name = "gateway" && (kind = internal || kind = server) }', [T3]],
  ['{ span.db.system =~ "postgres" }', []],
  ['{}', [T4, T3, T2, T1]],
];
for (const [q, want] of examples) {
  test(`TraceQL ${q}`, async () => {
    const r = await search({ q, limit: 20 });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(ids(r), want);
  });
}

test('search response fields as Grafana reads them', async () => {
  const r = await search({ q: '{ span.db.system = "postgresql" }', spss: 1 });
  const t = r.body.traces[0];
  assert.equal(t.traceID, 'a1', 'leading zeros trimmed');
  assert.equal(t.rootServiceName, 'frontend');
  assert.equal(t.rootTraceName, 'POST /api/orders');
  assert.equal(t.startTimeUnixNano, String(S), 'a string');
  assert.equal(t.durationMs, 6000);
  assert.deepEqual(t.spanSet, t.spanSets[0], 'spanSet mirrors spanSets[0]');
  assert.equal(t.spanSet.matched, 1);
  const s = t.spanSet.spans[0];
  assert.equal(s.spanID, hex(2, 16));
  assert.equal(s.durationNanos, String(ms(99)));
  assert.deepEqual(s.attributes, [{ key: 'db.system', value: { stringValue: 'postgresql' } }]);
  assert.equal(typeof r.body.metrics.inspectedTraces, 'number');
  assert.equal(typeof r.body.metrics.inspectedBytes, 'string');
  const all = await search({ q: '{}', spss: 2 });
  assert.ok(all.body.traces.every((x) => x.spanSet.spans.length <= 2));
  assert.equal(all.body.traces.find((x) => x.traceID === 'a3').spanSet.matched, 4);
  const starts = all.body.traces.map((x) => BigInt(x.startTimeUnixNano));
  assert.deepEqual(starts, [...starts].sort((a, b) => (a > b ? -1 : 1)), 'newest first');
});

test('search parameters: limit, min/maxDuration, start/end, logfmt tags', async () => {
  assert.deepEqual(ids(await search({ q: '{}', limit: 1 })), [T4]);
  assert.deepEqual(ids(await search({ q: '{}', minDuration: '1s' })), [T1]);
  assert.deepEqual(ids(await search({ q: '{}', minDuration: '100ms', maxDuration: '1m30s' })), [T3, T1]);
  assert.deepEqual(ids(await search({ q: '{}', minDuration: '100ms', maxDuration: '1s' })), [T3]);
  const t0 = Number(S / 1_000_000_000n);
  assert.deepEqual(ids(await search({ q: '{}', start: t0 + 5, end: t0 + 25 })), [T3, T2]);
  assert.deepEqual(ids(await search({ tags: 'service.name=front' })), [T2, T1], 'case-insensitive substring');
  assert.deepEqual(ids(await search({ tags: 'service.name=frontend db.system="postgre"' })), [T1]);
  assert.deepEqual(ids(await search({ tags: 'name=GW' })), [T3]);
});

test('invalid searches: 400 with the error position', async () => {
  const cases = [
    [{ q: '{ span.http.status_code >= }' }, /col 28: expected a value/],
    [{ q: '{ span.http.status_code = 200 } | count() > 3' }, /col 33: pipelines/],
    [{ q: '{ foo = "x" }' }, /col 3: unknown field/],
    [{ q: '{ .a =~ "(" }' }, /invalid regular expression/],
    [{ q: '{}', tags: 'a=b' }, /can't specify tags and q/],
    [{ tags: 'a=1 a=2' }, /duplicate key/],
    [{ q: '{}', limit: 0 }, /limit/],
    [{ q: '{}', spss: 101 }, /spss/],
    [{ q: '{}', minDuration: 'soon' }, /minDuration/],
    [{ q: '{}', minDuration: '2s', maxDuration: '1s' }, /maxDuration/],
    [{ q: '{}', start: 20, end: 10 }, /end must be after start/],
  ];
  for (const [params, re] of cases) {
    const r = await search(params);
    assert.equal(r.status, 400, JSON.stringify(params));
    assert.match(r.body.detail, re);
  }
});

test('a 20,000-term chain (as long as a request line may be): 400 with the position, and the service keeps answering', async () => {
  const chain = (op) => `{ true${` ${op} true`.repeat(20000)} }`;
  for (const op of ['||', '&&']) {
    const r = await search({ q: chain(op) });
    assert.equal(r.status, 400);
    assert.match(r.body.detail, /col 1032: more than 128 operators/);
  }
  const sets = `{}${' > {}'.repeat(20000)}`;
  const r = await search({ q: sets });
  assert.equal(r.status, 400);
  assert.match(r.body.detail, /more than 128 operators/);
  const v2 = await getJson(`${Q}/api/v2/traces/${hex(T1, 32)}?q=${encodeURIComponent(chain('||'))}`);
  assert.equal(v2.status, 400);
  assert.match(v2.body.detail, /more than 128 operators/);
  assert.equal((await fetch(`${Q}/healthz`)).status, 200);
});

test('tags: v2 scopes with intrinsics (no scope param), v1 tagNames, scope filter', async () => {
  const v2 = (await getJson(`${Q}/api/v2/search/tags`)).body;
  const scope = (n) => v2.scopes.find((s) => s.name === n).tags;
  assert.ok(scope('resource').includes('service.name') && scope('resource').includes('cloud.region'));
  assert.ok(scope('span').includes('http.status_code') && scope('span').includes('db.system'));
  for (const t of ['duration', 'kind', 'name', 'rootName', 'rootServiceName', 'status', 'statusMessage', 'traceDuration'])
    assert.ok(scope('intrinsic').includes(t), t);
  const v1 = (await getJson(`${Q}/api/search/tags`)).body;
  assert.ok(v1.tagNames.includes('service.name') && v1.tagNames.includes('db.name'));
  assert.deepEqual(v1.tagNames, [...v1.tagNames].sort());
  const res = (await getJson(`${Q}/api/v2/search/tags?scope=resource`)).body;
  assert.deepEqual(res.scopes.map((s) => s.name), ['resource']);
  assert.equal((await getJson(`${Q}/api/search/tags?scope=weird`)).status, 400);
});

test('tag values: typed in v2, plain in v1, keywords for status/kind, path encoded twice', async () => {
  const v = async (tag, v2 = true) => (await getJson(`${Q}/api${v2 ? '/v2' : ''}/search/tag/${encodeURIComponent(encodeURIComponent(tag))}/values`)).body.tagValues;
  assert.deepEqual(await v('resource.service.name'),
    ['frontend', 'gateway', 'multi'].map((value) => ({ type: 'string', value })));
  assert.deepEqual(await v('span.http.status_code'), [{ type: 'int', value: '200' }, { type: 'int', value: '500' }]);
  assert.deepEqual(await v('status'), ['error', 'ok', 'unset'].map((value) => ({ type: 'keyword', value })));
  assert.ok((await v('kind')).some((x) => x.value === 'server' && x.type === 'keyword'));
  assert.ok((await v('name')).some((x) => x.value === 'GET /gw'));
  assert.deepEqual(await v('span.odd/key name'), [{ type: 'string', value: 'v' }], 'a tag with / and space, encoded twice');
  assert.deepEqual(await v('service.name', false), ['frontend', 'gateway', 'multi']);
});

test("rootServiceName: empty for a root without service.name, Tempo's text only while the root is missing", async () => {
  const NOSVC = 0xa7, PENDING = 0xa8;
  await postSpans(collector.url, [span({ trace: NOSVC, id: 1, name: 'bare root', start: S + ms(40000), end: S + ms(40001) })], {});
  await postSpans(collector.url, [span({ trace: PENDING, id: 2, parent: 1, name: 'orphan', start: S + ms(41000) })]);
  const found = (await search({ q: '{ name = "bare root" || name = "orphan" }' })).body.traces;
  const byId = Object.fromEntries(found.map((t) => [t.traceID, t]));
  assert.equal(byId.a7.rootServiceName, '');
  assert.equal(byId.a7.rootTraceName, 'bare root');
  assert.equal(byId.a8.rootServiceName, '<root span not yet received>');
});

test('{ name = "" } finds a span sent without a name', async () => {
  const UNNAMED = 0xa9;
  await postSpans(collector.url, [span({ trace: UNNAMED, id: 1, name: '', start: S + ms(42000), end: S + ms(42001) })]);
  const r = await search({ q: '{ name = "" }' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.traces.map((t) => t.traceID), ['a9']);
});

// ---- every field a span can carry (as the Go SDK sends them), duplicate keys,
// arrays of each type, int64 bounds: what comes back on every route ----
const TX = 0xb1, TY = 0xb2, SX = S + ms(50000);
const I64MAX = '9223372036854775807', I64MIN = '-9223372036854775808';
const kv = (key, value) => ({ key, value });
const str = (v) => ({ stringValue: v }), int = (v) => ({ intValue: String(v) }), arr = (...v) => ({ arrayValue: { values: v } });
const postRaw = async (body) => {
  const r = await fetch(collector.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(r.status, 200, await r.text());
};
setup('a span with every field: dropped counts, link flags and state, schema URLs, kind 9, duplicates, arrays', async () => {
  await postRaw({ resourceSpans: [{
    resource: { attributes: [kv('service.name', str('fields')), kv('dup', str('r1')), kv('dup', str('r2'))], droppedAttributesCount: 3 },
    schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
    scopeSpans: [{
      scope: { name: 'fscope', version: '9', attributes: [kv('scope.attr', str('x'))], droppedAttributesCount: 4 },
      schemaUrl: 'https://example.com/scope-schema',
      spans: [{
        traceId: hex(TX, 32), spanId: hex(1, 16), traceState: 'a=b', flags: 257, name: 'every-field', kind: 9,
        startTimeUnixNano: String(SX), endTimeUnixNano: String(SX + ms(5)),
        attributes: [kv('d', str('first')), kv('sa', arr(str('a'), str('b'))), kv('d', str('last')),
          kv('ia', arr(int(1), int(2))), kv('da', arr({ doubleValue: 1.5 }, { doubleValue: 2.5 })), kv('ba', arr({ boolValue: true })),
          kv('imax', int(I64MAX)), kv('imin', int(I64MIN)), kv('m', { kvlistValue: { values: [kv('x', int(1))] } }),
          kv('orcheo.execution.id', str('exec-dup-first')), kv('orcheo.execution.id', str('exec-dup-last'))],
        droppedAttributesCount: 1, droppedEventsCount: 2, droppedLinksCount: 5,
        events: [{ timeUnixNano: String(SX + 124068791n), name: 'e1', attributes: [kv('ek', int(1)), kv('ek', int(2))], droppedAttributesCount: 6 },
          { name: 'at-zero', attributes: [kv('ez', str('z'))] }],
        links: [{ traceId: hex(TY, 32), spanId: hex(7, 16), traceState: 'l=1', flags: 1,
          attributes: [kv('lk', str('v'))], droppedAttributesCount: 7 }],
        status: { code: 2, message: 'bad' } },
      { traceId: hex(TX, 32), spanId: hex(2, 16), parentSpanId: hex(1, 16), name: 'plain', kind: 2,
        startTimeUnixNano: String(SX + 1n), endTimeUnixNano: String(SX + 2n) }] }] }] });
  await postSpans(collector.url, [span({ trace: TY, id: 1, name: 'other', start: SX + ms(10), attrs: { sa: ['a', 'c'], other: 'o' } })],
    { 'service.name': 'fields-other' });
});

test('Tempo v1/v2 JSON carry every non-zero field, as Tempo (gogo jsonpb) writes it; kind 9 stays 9', async () => {
  for (const url of [`${Q}/api/traces/${hex(TX, 32)}`, `${Q}/api/v2/traces/${hex(TX, 32)}`]) {
    const b = (await getJson(url)).body;
    const rs = (b.batches || b.trace.resourceSpans)[0];
    assert.equal(rs.resource.droppedAttributesCount, 3, url);
    assert.equal(rs.schemaUrl, 'https://opentelemetry.io/schemas/1.26.0');
    const ss = rs.scopeSpans[0];
    assert.equal(ss.schemaUrl, 'https://example.com/scope-schema', 'ScopeSpans.schemaUrl');
    assert.deepEqual(ss.scope, { name: 'fscope', version: '9', attributes: [kv('scope.attr', str('x'))], droppedAttributesCount: 4 });
    const [s, plain] = ss.spans;
    assert.equal(s.kind, 9, 'a kind outside the enum is its number, unquoted (jsonpb)');
    assert.equal(s.traceState, 'a=b');
    assert.equal(s.flags, 257);
    assert.equal(s.droppedAttributesCount, 1);
    assert.equal(s.droppedEventsCount, 2);
    assert.equal(s.droppedLinksCount, 5);
    assert.deepEqual(s.status, { code: 'STATUS_CODE_ERROR', message: 'bad' });
    assert.deepEqual(s.events[0], { timeUnixNano: String(SX + 124068791n), name: 'e1',
      attributes: [kv('ek', int(1)), kv('ek', int(2))], droppedAttributesCount: 6 }, 'duplicates kept: an OTLP pass-through');
    assert.deepEqual(s.events[1], { timeUnixNano: '0', name: 'at-zero', attributes: [kv('ez', str('z'))] });
    assert.deepEqual(s.links[0], { traceId: Buffer.from(hex(TY, 32), 'hex').toString('base64'),
      spanId: Buffer.from(hex(7, 16), 'hex').toString('base64'), traceState: 'l=1',
      attributes: [kv('lk', str('v'))], droppedAttributesCount: 7, flags: 1 });
    assert.deepEqual(s.attributes.filter((a) => a.key === 'd').map((a) => a.value.stringValue), ['first', 'last']);
    assert.deepEqual(s.attributes.find((a) => a.key === 'imax').value, int(I64MAX));
    assert.deepEqual(s.attributes.find((a) => a.key === 'imin').value, int(I64MIN));
    assert.equal(plain.kind, 'SPAN_KIND_SERVER');
    for (const f of ['droppedAttributesCount', 'droppedEventsCount', 'droppedLinksCount', 'traceState', 'flags'])
      assert.equal(plain[f], undefined, `${f}: zero, so left out`);
  }
});

test('span endpoint: event times in exact nanoseconds like the span\'s own, time 0 as "0", scope dropped count', async () => {
  const r = await getJson(`${Q}/api/traces/${hex(TX, 32)}/spans/${hex(1, 16)}`);
  const b = r.body;
  assert.equal(b.start_time_unix_nano, String(SX));
  assert.equal(b.events[0].time_unix_nano, String(SX + 124068791n), 'nanoseconds, as start_time_unix_nano');
  assert.equal(b.events[0].time, isoNs(SX + 124068791n), 'the ISO form as the span\'s start_time');
  assert.equal(b.events[1].time_unix_nano, '0', 'time 0: the epoch, as the span\'s own would be');
  assert.equal(b.events[0].dropped_attributes_count, 6);
  assert.deepEqual(b.links[0], { trace_id: hex(TY, 32), span_id: hex(7, 16), attributes: { lk: 'v' },
    trace_state: 'l=1', flags: 1, dropped_attributes_count: 7 });
  assert.equal(b.scope.dropped_attributes_count, 4);
  assert.equal(b.resource.dropped_attributes_count, 3);
  assert.equal(b.kind, 'UNSPECIFIED');
});

test('duplicate keys: one key per JSON object, the last value wins, on every route and in TraceQL', async () => {
  const raw = await (await fetch(`${Q}/api/traces/${hex(TX, 32)}/spans/${hex(1, 16)}`)).text();
  assert.equal(raw.match(/"d":/g).length, 1, 'span attribute once');
  assert.equal(raw.match(/"ek":/g).length, 1, 'event attribute once');
  assert.equal(raw.match(/"dup":/g).length, 1, 'resource attribute once');
  const full = JSON.parse(raw);
  assert.equal(full.attributes.d, 'last');
  assert.deepEqual(Object.keys(full.attributes).slice(0, 2), ['d', 'sa'], 'at the first one\'s place, as JSON.parse would put it');
  assert.equal(full.events[0].attributes.ek, 2);
  assert.equal(full.resource.attributes.dup, 'r2');
  const canvasRaw = await (await fetch(`${Q}/api/traces/${hex(TX, 32)}/trace`)).text();
  const canvas = JSON.parse(canvasRaw);
  const root = canvas.spans.find((x) => x.span_id === hex(1, 16));
  assert.equal(root.attributes.d, 'last');
  assert.equal(root.events[0].attributes.ek, 2);
  assert.equal(canvasRaw.match(/"d":/g).length, 1);
  assert.equal(canvas.execution.id, 'exec-dup-last', 'the collector reads the execution ID last-wins too');
  assert.equal((await getJson(`${Q}/api/executions/exec-dup-first/trace`)).body.execution.status, 'unknown');
  assert.deepEqual(ids(await search({ q: '{ span.d = "last" }' })), [TX]);
  assert.deepEqual(ids(await search({ q: '{ span.d = "first" }' })), [], 'a shadowed value is not there');
  assert.deepEqual(ids(await search({ q: '{ resource.dup = "r2" }' })), [TX]);
  assert.deepEqual(ids(await search({ q: '{ resource.dup = "r1" }' })), []);
  const vals = (await getJson(`${Q}/api/v2/search/tag/span.d/values`)).body.tagValues;
  assert.deepEqual(vals, [{ type: 'string', value: 'last' }], 'the tag catalog lists the value that counts');
});

test('TraceQL finds array elements of every type (bloom pre-filter included) and the int64 bounds', async () => {
  assert.deepEqual(ids(await search({ q: '{ span.sa = "a" }' })), [TY, TX], 'string array, as with || beside it');
  assert.deepEqual(ids(await search({ q: '{ span.sa = "a" || span.nonexist = "x" }' })), [TY, TX]);
  assert.deepEqual(ids(await search({ q: '{ span.sa = "b" }' })), [TX]);
  assert.deepEqual(ids(await search({ q: '{ span.sa != "z" && span.sa = "c" }' })), [TY]);
  assert.deepEqual(ids(await search({ q: '{ span.ia = 2 }' })), [TX], 'int array');
  assert.deepEqual(ids(await search({ q: '{ span.da = 2.5 }' })), [TX], 'double array');
  assert.deepEqual(ids(await search({ q: '{ span.ba = true }' })), [TX], 'bool array');
  assert.deepEqual(ids(await search({ q: '{ .sa = "c" }' })), [TY], 'unscoped');
  assert.deepEqual(ids(await search({ q: `{ span.imax = ${I64MAX} }` })), [TX], 'int64 max');
  assert.deepEqual(ids(await search({ q: '{ span.imax = 9223372036854775806 }' })), [], 'exact, not as a double');
  assert.deepEqual(ids(await search({ q: `{ span.imin = ${I64MIN} }` })), [TX], 'int64 min');
  assert.deepEqual(ids(await search({ q: `{ span.imin < -9223372036854775807 }` })), [TX]);
  assert.equal((await search({ q: '{ span.imax = 9223372036854775808 }' })).status, 400, 'past int64: refused');
  assert.deepEqual(ids(await search({ q: '{ span.m != nil }' })), [TX], 'a map is present');
});

test('tags list array and map keys; values list array elements, typed', async () => {
  const v2 = (await getJson(`${Q}/api/v2/search/tags?scope=span`)).body.scopes[0].tags;
  for (const k of ['sa', 'ia', 'da', 'ba', 'm', 'imax']) assert.ok(v2.includes(k), k);
  const v = async (tag) => (await getJson(`${Q}/api/v2/search/tag/${tag}/values`)).body.tagValues;
  assert.deepEqual(await v('span.sa'), ['a', 'b', 'c'].map((value) => ({ type: 'string', value })));
  assert.deepEqual(await v('span.ia'), [{ type: 'int', value: '1' }, { type: 'int', value: '2' }]);
  assert.deepEqual(await v('span.da'), [{ type: 'float', value: '1.5' }, { type: 'float', value: '2.5' }]);
  assert.deepEqual(await v('span.ba'), [{ type: 'bool', value: 'true' }]);
  assert.deepEqual(await v('span.imin'), [{ type: 'int', value: I64MIN }]);
  assert.deepEqual(await v('span.m'), [], 'a map has no listed values (TraceQL cannot compare one)');
});

test('tags and tag values honour q (spans that match it), start/end, and every scope', async () => {
  const tags = async (params) => (await getJson(`${Q}/api/v2/search/tags?${new URLSearchParams(params)}`)).body;
  const scope = (b, n) => (b.scopes.find((x) => x.name === n) || { tags: null }).tags;
  const all = await tags({});
  assert.deepEqual(all.scopes.map((x) => x.name), ['resource', 'span', 'event', 'link', 'intrinsic']);
  const one = await tags({ limit: 1 });
  assert.deepEqual(one.scopes.map((x) => x.tags.length), [1, 1, 1, 1, 1], 'limit bounds each scope\'s list');
  assert.deepEqual(scope(await tags({ limit: 1, q: '{ name = "every-field" }' }), 'span').length, 1);
  assert.ok(scope(all, 'event').includes('ek') && scope(all, 'event').includes('ez'));
  assert.ok(scope(all, 'link').includes('lk'));
  const q = await tags({ q: '{ resource.service.name = "fields-other" }' });
  assert.deepEqual(scope(q, 'span'), ['other', 'sa'], 'only the keys of spans q matches');
  assert.deepEqual(scope(q, 'resource'), ['service.name']);
  assert.deepEqual(scope(q, 'event'), []);
  assert.ok(scope(q, 'intrinsic').includes('name'));
  const qe = await tags({ q: '{ name = "every-field" }', scope: 'event' });
  assert.deepEqual(qe.scopes, [{ name: 'event', tags: ['ek', 'ez'] }]);
  assert.deepEqual((await tags({ q: '{ name = "every-field" }', scope: 'link' })).scopes, [{ name: 'link', tags: ['lk'] }]);
  const t0 = Number(SX / 1_000_000_000n);
  assert.deepEqual(scope(await tags({ q: '{ span.sa = "a" }', start: t0 - 100, end: t0 - 50 }), 'span'), [], 'outside start/end');
  assert.ok(scope(await tags({ q: '{ span.sa = "a" }', start: t0 - 1, end: t0 + 1 }), 'span').includes('ia'));
  const v1 = (await getJson(`${Q}/api/search/tags?${new URLSearchParams({ q: '{ name = "other" }' })}`)).body.tagNames;
  assert.deepEqual(v1, ['other', 'sa', 'service.name']);
  assert.deepEqual((await getJson(`${Q}/api/search/tags?scope=event`)).body.tagNames, ['ek', 'ez']);
  const values = async (tag, params) =>
    (await getJson(`${Q}/api/v2/search/tag/${tag}/values?${new URLSearchParams(params)}`)).body.tagValues.map((x) => x.value);
  assert.deepEqual(await values('resource.service.name', { q: '{ span.sa = "a" }' }), ['fields', 'fields-other']);
  assert.deepEqual(await values('resource.service.name', { q: '{ span.sa = "c" }' }), ['fields-other'], 'narrowed by q');
  assert.deepEqual(await values('span.sa', { q: '{ name = "other" }' }), ['a', 'c']);
  assert.deepEqual(await values('name', { q: '{ resource.service.name = "fields" }' }), ['every-field', 'plain']);
  assert.deepEqual(await values('status', { q: '{ resource.service.name = "fields" }' }), ['error', 'unset']);
  assert.deepEqual(await values('event.ek', {}), ['2'], 'event scope: the value that counts of a duplicate key');
  assert.deepEqual(await values('link.lk', { q: '{ name = "every-field" }' }), ['v']);
  assert.deepEqual(await values('event.ez', { q: '{ name = "other" }' }), []);
  const bad = await getJson(`${Q}/api/v2/search/tag/resource.service.name/values?q=${encodeURIComponent('{ resource.cluster = }')}`);
  assert.equal(bad.status, 200, 'an incomplete q (Grafana sends them while one types) is ignored, as Tempo does');
  assert.ok(bad.body.tagValues.length >= 4);
});

test('daemons exit cleanly', async () => {
  assert.deepEqual(await collector.stop(), { code: 0, sig: null });
  assert.deepEqual(await query.stop(), { code: 0, sig: null });
});

await run();
