// Hostile and malformed input: each gets its status code and a clear body, the
// service keeps serving, and nothing already stored is lost.
import assert from 'node:assert/strict';
import net from 'node:net';
import { gzipSync, deflateSync } from 'node:zlib';
import { test, run, tempDir, startCollector, startQuery, getJson, admin, curl } from './lib.mjs';
import { makeProvider, orcheoRun } from './otel.mjs';

const data = tempDir();
// a small limit makes the size tests cheap
const collector = await startCollector(data, ['--max-request-bytes=1MiB']);
const query = await startQuery(data);

const provider = makeProvider({ protocol: 'proto', url: collector.url });
await orcheoRun(provider, { executionId: 'exec-keep', nodes: 3 });
await provider.shutdown();
const keep = async () => (await getJson(`${query.base}/api/executions/exec-keep/trace`)).body;
const before = await keep();

const post = (body, headers = {}, method = 'POST') =>
  fetch(collector.url, { method, body, headers: { 'content-type': 'application/x-protobuf', ...headers } });

const TRACE = '5b8efff798038103d269b633813fc60c';
const jsonReq = (spans) => JSON.stringify({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ spans }] }] });

test('garbage protobuf: 400 with a google.rpc.Status body in protobuf', async () => {
  const r = await post(Buffer.from('this is not protobuf \xff\xff\xff'));
  assert.equal(r.status, 400);
  assert.equal(r.headers.get('content-type'), 'application/x-protobuf');
  const b = Buffer.from(await r.arrayBuffer());
  assert.equal(b[0], 0x08, 'Status.code field first'); // field 1 varint
  assert.ok(b.toString('latin1').includes('malformed'), 'Status.message explains');
});

test('malformed JSON: 400 with a JSON Status naming the problem', async () => {
  const r = await post('{"resourceSpans": [', { 'content-type': 'application/json' });
  assert.equal(r.status, 400);
  const b = await r.json();
  assert.equal(b.code, 3);
  assert.match(b.message, /invalid JSON/);
});

test('JSON of the wrong shape: 400 naming the field', async () => {
  const r = await post(jsonReq([{ traceId: TRACE, spanId: '0102030405060708', startTimeUnixNano: 'soon' }]),
    { 'content-type': 'application/json; charset=utf-8' });
  assert.equal(r.status, 400);
  assert.match((await r.json()).message, /startTimeUnixNano/);
});

test('wrong content type: 415; wrong method: 405 with Allow; other path: 404', async () => {
  assert.equal((await post('x', { 'content-type': 'text/plain' })).status, 415);
  assert.equal((await fetch(collector.url, { method: 'POST', body: 'x' })).status, 415);
  const g = await fetch(collector.url);
  assert.equal(g.status, 405);
  assert.equal(g.headers.get('allow'), 'POST');
  assert.equal((await fetch(`${collector.base}/v1/metrics`, { method: 'POST', body: '' })).status, 404);
  assert.equal((await post('x', { 'content-encoding': 'br' })).status, 415);
});

test('oversized body: 413', async () => {
  // curl announces the body (Expect: 100-continue) and gets the 413 before sending
  // it; a client that streams the whole body may instead see the connection close
  // under it, since the server stops reading (h2o has no lingering close).
  const c = curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', 'Expect: 100-continue', '-H',
    'Content-Type: application/x-protobuf', '--data-binary', '@-', collector.url], Buffer.alloc(2 << 20, 0x41));
  assert.equal(c.stdout.toString(), '413', c.stderr.toString());
  // h2o refuses it before the handler runs; the answer is still a google.rpc.Status
  // (over h2c, h2o 2.2.5 resets the stream with REFUSED_STREAM instead: no body to rewrite)
  const j = curl(['--http1.1', '-H', 'Content-Type: application/json', '--data-binary', '@-', '-w',
    '\n%{http_code} %{content_type}', collector.url], Buffer.alloc(2 << 20, 0x20));
  const [body, last] = j.stdout.toString().split('\n');
  assert.equal(last, '413 application/json');
  assert.deepEqual(JSON.parse(body), { code: 8, message: 'request body exceeds the size limit' });
  const pb = curl(['-H', 'Content-Type: application/x-protobuf', '-H', 'Expect: 100-continue', '--data-binary', '@-',
    '-w', '%{content_type}', '-o', '-', collector.url], Buffer.alloc(2 << 20, 0x41)).stdout;
  assert.equal(pb[0], 0x08, 'protobuf Status: code first');
  assert.match(pb.toString('latin1'), /request body exceeds the size limit(application\/x-protobuf)$/);
  const r = await post(Buffer.alloc(2 << 20, 0x41)).catch((e) => ({ status: 'closed', e }));
  assert.ok(r.status === 413 || r.status === 'closed', `streamed: ${r.status}`);
});

test('gzip bomb: 413, never an out-of-memory', async () => {
  const bomb = gzipSync(Buffer.alloc(64 << 20)); // 64 MiB of zeros in ~64 KiB
  assert.ok(bomb.length < 1 << 20);
  const r = await post(bomb, { 'content-encoding': 'gzip' });
  assert.equal(r.status, 413);
});

test('corrupt gzip: 400; deflate body accepted', async () => {
  const good = gzipSync(Buffer.from(jsonReq([])));
  const r = await post(good.subarray(0, good.length - 9), { 'content-encoding': 'gzip', 'content-type': 'application/json' });
  assert.equal(r.status, 400);
  const d = await post(deflateSync(Buffer.from(jsonReq([]))), { 'content-encoding': 'deflate', 'content-type': 'application/json' });
  assert.equal(d.status, 200);
});

test('multi-member gzip: every member decoded; trailing garbage refused', async () => {
  // two protobuf requests back to back are one request (repeated fields merge);
  // each gzipped on its own, as `cat a.gz b.gz` would make it
  const str = (field, bytes) => Buffer.concat([Buffer.from([field << 3 | 2, bytes.length]), bytes]);
  const oneSpan = (trace, id, name) => str(1, str(2, str(2, Buffer.concat([str(1, Buffer.from(trace, 'hex')),
    str(2, Buffer.from(id, 'hex')), str(5, Buffer.from(name)),
    str(9, Buffer.concat([str(1, Buffer.from('orcheo.execution.id')), str(2, str(1, Buffer.from('exec-members')))]))]))));
  const trace = TRACE.replace(/^5b/, '9b');
  const body = Buffer.concat([gzipSync(oneSpan(trace, '1000000000000001', 'first member')),
    gzipSync(oneSpan(trace, '1000000000000002', 'second member'))]);
  const r = await post(body, { 'content-encoding': 'gzip' });
  assert.equal(r.status, 200);
  const t = await getJson(`${query.base}/api/executions/exec-members/trace`);
  assert.deepEqual(t.body.spans.map((s) => s.name).sort(), ['first member', 'second member']);
  const junk = await post(Buffer.concat([gzipSync(oneSpan(trace, '1000000000000003', 'junk after')), Buffer.from('garbage')]),
    { 'content-encoding': 'gzip' });
  assert.equal(junk.status, 400);
  const after = await getJson(`${query.base}/api/executions/exec-members/trace`);
  assert.equal(after.body.spans.length, 2, 'nothing of the refused body stored');
});

test('invalid span IDs: valid spans stored, partial_success counts the rest', async () => {
  const spans = [
    { traceId: TRACE, spanId: '1111111111111111', name: 'good', startTimeUnixNano: '1', endTimeUnixNano: '2',
      attributes: [{ key: 'orcheo.execution.id', value: { stringValue: 'exec-partial' } }] },
    { traceId: '00000000000000000000000000000000', spanId: '2222222222222222', name: 'zero trace' },
    { traceId: TRACE, spanId: '00', name: 'short span id' },
    { traceId: 'xyz', spanId: '3333333333333333', name: 'not hex' },
  ];
  const r = await post(jsonReq(spans), { 'content-type': 'application/json' });
  assert.equal(r.status, 200);
  const b = await r.json();
  assert.equal(b.partialSuccess.rejectedSpans, '3');
  assert.match(b.partialSuccess.errorMessage, /trace_id/);
  const t = await getJson(`${query.base}/api/executions/exec-partial/trace`);
  assert.deepEqual(t.body.spans.map((s) => s.name), ['good']);
});

test('invalid UTF-8 in span strings: stored, served as valid UTF-8', async () => {
  // hand-built protobuf: Request{ResourceSpans{ScopeSpans{Span{trace, span, name="\xff\xfeok", attr orcheo.execution.id}}}}
  const str = (field, bytes) => Buffer.concat([Buffer.from([field << 3 | 2, bytes.length]), bytes]);
  const kv = str(9, Buffer.concat([str(1, Buffer.from('orcheo.execution.id')), str(2, str(1, Buffer.from('exec-utf8')))]));
  const span = Buffer.concat([str(1, Buffer.from(TRACE.replace(/5b/, '6b'), 'hex')), str(2, Buffer.from('4444444444444444', 'hex')),
    str(5, Buffer.from([0xff, 0xfe, 0x6f, 0x6b])), kv]);
  const body = str(1, str(2, str(2, span)));
  const r = await post(body);
  assert.equal(r.status, 200);
  const t = await getJson(`${query.base}/api/executions/exec-utf8/trace`);
  assert.equal(t.status, 200);
  assert.equal(t.body.spans[0].name, '\ufffd\ufffdok');
  assert.ok(Buffer.from(t.text, 'utf8').toString('utf8') === t.text);
});

test('deep nesting and huge attribute counts: answered, not crashed', async () => {
  let v = '{"intValue":1}';
  for (let i = 0; i < 200; i++) v = `{"arrayValue":{"values":[${v}]}}`;
  const deep = jsonReq([{ traceId: TRACE, spanId: '5555555555555555', attributes: [{ key: 'd', value: JSON.parse(v) }] }]);
  const r = await post(deep, { 'content-type': 'application/json' });
  assert.equal(r.status, 400);
  assert.match((await r.json()).message, /nested/);
  const attrs = Array.from({ length: 20000 }, (_, i) => ({ key: `k${i}`, value: { intValue: i } }));
  const many = await post(jsonReq([{ traceId: TRACE.replace(/^5b/, '7b'), spanId: '6666666666666666', name: 'wide', attributes: [
    ...attrs, { key: 'orcheo.execution.id', value: { stringValue: 'exec-wide' } }] }]), { 'content-type': 'application/json' });
  assert.equal(many.status, 200);
  const t = await getJson(`${query.base}/api/executions/exec-wide/trace`);
  assert.equal(Object.keys(t.body.spans[0].attributes).length, 20001);
});

test('a body of ~110k one-byte attributes within the size limit: decoded and stored', async () => {
  const len = (n) => { const b = []; do { b.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0)); n >>>= 7; } while (n); return Buffer.from(b); };
  const wrap = (field, buf) => Buffer.concat([Buffer.from([field << 3 | 2]), len(buf.length), buf]);
  const kv = Buffer.from([0x4a, 7, 0x0a, 1, 0x61, 0x12, 2, 0x18, 1]); // attributes {key:"a", value{int 1}}
  const span = Buffer.concat([wrap(1, Buffer.alloc(16, 9)), wrap(2, Buffer.alloc(8, 9)), Buffer.concat(Array(110000).fill(kv))]);
  const body = wrap(1, wrap(2, wrap(2, span)));
  assert.ok(body.length < 1 << 20);
  const r = await post(body);
  assert.equal(r.status, 200);
  const s = await getJson(`${query.base}/api/traces/${'09'.repeat(16)}/spans/${'09'.repeat(8)}`);
  assert.equal(s.status, 200);
});

test('chunked HTTP/1.1 body and h2c prior knowledge are accepted', async () => {
  const body = jsonReq([{ traceId: TRACE.replace(/^5b/, '8b'), spanId: '7777777777777777', name: 'chunked',
    attributes: [{ key: 'orcheo.execution.id', value: { stringValue: 'exec-chunked' } }] }]);
  const c = curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', 'Transfer-Encoding: chunked',
    '-H', 'Content-Type: application/json', '--data-binary', '@-', collector.url], body);
  assert.equal(c.stdout.toString(), '200');
  const h2 = curl(['--http2-prior-knowledge', '-o', '/dev/null', '-w', '%{http_version} %{http_code}',
    '-H', 'Content-Type: application/json', '--data-binary', '@-', collector.url], jsonReq([]));
  assert.equal(h2.stdout.toString(), '2 200');
  const t = await getJson(`${query.base}/api/executions/exec-chunked/trace`);
  assert.equal(t.body.spans[0].name, 'chunked');
});

test('a client that vanishes mid-request does not disturb the collector', async () => {
  const net = await import('node:net');
  const [host, port] = collector.otlp_http.split(':');
  await new Promise((resolve) => {
    const s = net.connect(Number(port), host, () => {
      s.write('POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"resourceSpans":');
      setTimeout(() => { s.destroy(); resolve(); }, 50);
    });
  });
  assert.equal((await post(jsonReq([]), { 'content-type': 'application/json' })).status, 200);
});

test('bad IDs in query URLs: 400 with detail; odd execution IDs are just unknown', async () => {
  for (const id of ['zz', 'abc', 'g'.repeat(32)]) {
    const r = await getJson(`${query.base}/api/traces/${id}/trace`);
    assert.equal(r.status, 400);
    assert.ok(r.body.detail);
  }
  const odd = await getJson(`${query.base}/api/executions/${encodeURIComponent('a/b %ff\u00e9')}/trace`);
  assert.equal(odd.status, 200);
  assert.equal(odd.body.execution.status, 'unknown');
  assert.equal(odd.body.execution.id, 'a/b %ff\u00e9');
  assert.equal((await fetch(`${query.base}/api/executions/x/trace`, { method: 'POST' })).status, 405);
});

test('request logs: no query strings at info, and a path cannot forge log fields', async () => {
  const net = await import('node:net');
  const [host, port] = query.query.split(':');
  // a raw request: a quote and a non-ASCII byte in the path, a secret in the query
  await new Promise((resolve) => {
    const s = net.connect(Number(port), host, () => s.end(Buffer.concat([Buffer.from('GET /api/x"'), Buffer.from([0xe9]),
      Buffer.from('forged=1?q=supersecret-token HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')])));
    s.on('data', () => {});
    s.on('close', resolve);
  });
  await getJson(`${query.base}/api/search?q=${encodeURIComponent('{ .password = "hunter2" }')}`);
  const lines = query.log.split('\n').filter((l) => /event=request/.test(l));
  const forged = lines.find((l) => l.includes('/api/x'));
  assert.ok(forged, 'the odd request is logged');
  assert.match(forged, /path="\/api\/x\\"\\xe9forged=1" status=404/);
  assert.doesNotMatch(query.log, /supersecret-token|hunter2/);
  assert.ok(lines.every((l) => /^ts=\S+ level=\w+ event=request method="[A-Z]+" path="(?:[^"\\]|\\.)*" status=\d+ duration_us=\d+$/.test(l)),
    'every request line parses as key=value');
});

// One connection: write @p bytes, read until the server closes it (or @p quietMs
// pass without it doing so). Returns what came back and whether it closed.
function exchange(hostPort, bytes, quietMs = 3000) {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve, reject) => {
    let got = '';
    let timer;
    const s = net.connect(Number(port), host, () => s.write(bytes));
    const done = (closed) => { clearTimeout(timer); s.destroy(); resolve({ got, closed, statuses: [...got.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])) }); };
    const arm = () => { clearTimeout(timer); timer = setTimeout(() => done(false), quietMs); };
    s.on('data', (d) => { got += d; arm(); });
    s.on('end', () => done(true));
    s.on('error', (e) => (e.code === 'ECONNRESET' ? done(true) : reject(e)));
    arm();
  });
}

const SMUGGLED = 'e00000000000000000000000000000f1';
const smuggledBody = jsonReq([{ traceId: SMUGGLED, spanId: '00000000000000f1', name: 'smuggled', startTimeUnixNano: '1', endTimeUnixNano: '2' }]);
const smuggledRequest = `POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${smuggledBody.length}\r\n\r\n${smuggledBody}`;

test('HTTP/1.1 framing: Content-Length with Transfer-Encoding, or two Content-Lengths that differ: 400, closed, nothing stored', async () => {
  const head = 'POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';
  const shapes = {
    // a front end going by Content-Length sends it all as one request; h2o reads the chunked body and then a second request
    'CL.TE': `${head}Content-Length: ${7 + smuggledRequest.length}\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n${smuggledRequest}`,
    'TE.CL': `${head}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2\r\n{}\r\n0\r\n\r\n${smuggledRequest}`,
    // one going by the last Content-Length (0) sees the body as a request of its own
    'CL.CL': `${head}Content-Length: ${smuggledBody.length}\r\nContent-Length: 0\r\n\r\n${smuggledBody}`,
    'TE.TE': `${head}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n${smuggledRequest}`,
  };
  for (const [name, bytes] of Object.entries(shapes)) {
    const r = await exchange(collector.otlp_http, bytes);
    assert.deepEqual(r.statuses, [400], `${name}: one answer, 400:\n${r.got}`);
    assert.ok(r.closed, `${name}: the connection is closed`);
    assert.match(r.got, /connection: close/i);
    assert.match(r.got, /"code":3,"message":"(both Content-Length and Transfer-Encoding|conflicting Content-Length|more than one Transfer-Encoding)/, r.got);
  }
  const q = await exchange(query.query, `GET /api/traces HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/traces HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  assert.deepEqual(q.statuses, [400], q.got);
  assert.ok(q.closed);
  assert.match(q.got, /\{"detail":"both Content-Length and Transfer-Encoding/);
  const stored = await getJson(`${query.base}/api/traces/${SMUGGLED}/trace`);
  assert.equal(stored.status, 404, 'nothing of any of them was stored');
});

test('HTTP/1.1 framing that is not ambiguous still works: a repeated equal Content-Length, chunked, pipelined', async () => {
  const body = jsonReq([]);
  const one = (extra, b = body) => `POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}\r\n${b}`;
  const same = await exchange(collector.otlp_http, one(`Content-Length: ${body.length}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n`));
  assert.deepEqual(same.statuses, [200], same.got);
  const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  // three in one write: the guard reads each request's own head, not the first one's
  const piped = await exchange(collector.otlp_http, one(`Content-Length: ${body.length}\r\n`) +
    one('Transfer-Encoding: chunked\r\n', chunked) + one(`Content-Length: ${body.length}\r\nConnection: close\r\n`), 10000);
  assert.deepEqual(piped.statuses, [200, 200, 200], piped.got);
  const bad = await exchange(collector.otlp_http, one(`Content-Length: ${body.length}\r\n`) +
    one(`Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n`, chunked) + one(`Content-Length: ${body.length}\r\n`));
  assert.deepEqual(bad.statuses, [200, 400], `the second of three is refused and ends the connection:\n${bad.got}`);
  assert.ok(bad.closed);
});

test('after all of that: nothing lost, still serving, store consistent', async () => {
  assert.deepEqual(await keep(), { ...before, seq: (await keep()).seq });
  const p = makeProvider({ protocol: 'proto', url: collector.url });
  await orcheoRun(p, { executionId: 'exec-after', nodes: 1 });
  await p.shutdown();
  assert.equal((await getJson(`${query.base}/api/executions/exec-after/trace`)).body.spans.length, 2);
  const check = admin(data, 'check');
  assert.equal(check.status, 0, check.stdout);
});

test('both daemons exit cleanly on SIGTERM', async () => {
  assert.deepEqual(await collector.stop(), { code: 0, sig: null });
  assert.deepEqual(await query.stop(), { code: 0, sig: null });
});

await run();
