// Federation when shards misbehave (SPEC §9 "a bad shard costs only itself"):
// real shards beside fake ones (node servers) that hang, page forever, answer
// garbage or a huge body. Every route stays 200 with "partial": true within
// ARBOR_SHARD_TIMEOUT for the whole request, concurrent requests do not queue
// behind a hanging shard, the federating process stays small, and it stops
// promptly. Also: replicas whose traces differ are merged, not taken for
// copies; live streams reach IPv6 shards, say "complete" only once every shard
// holding spans has, and no header value with CR/LF goes upstream.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { test as anyTest, setup, run, tempDir, startCollector, startQuery, getJson, postSpans, span, hex } from './lib.mjs';

// ARBOR_TEST_FILTER=regex runs only the cases it matches (the setup always runs).
const only = process.env.ARBOR_TEST_FILTER ? new RegExp(process.env.ARBOR_TEST_FILTER) : null;
const test = (name, fn) => (!only || only.test(name) || /stop cleanly/.test(name)) && anyTest(name, fn);

const T0 = 1700000000000000000n;
const at = (ms) => T0 + BigInt(ms) * 1000000n;
const servers = [];

// root + n children (+ a grandchild each, the second one an error), as federation.test.mjs
function runSpans({ trace, exec, start, n = 2 }) {
  const attrs = exec ? { 'orcheo.execution.id': exec, 'orcheo.workflow.id': 'wf-faults' } : {};
  const root = 1000 + trace * 100;
  const out = [span({ trace, id: root, name: 'workflow', start: at(start), end: at(start + 100 + n * 10), attrs })];
  for (let i = 0; i < n; i++) {
    out.push(span({ trace, id: root + 1 + i * 2, parent: root, name: `node-${i}`, start: at(start + 1 + i * 10),
      end: at(start + 9 + i * 10), attrs: { ...attrs, 'faults.tag': `v${trace}` } }));
    out.push(span({ trace, id: root + 2 + i * 2, parent: root + 1 + i * 2, name: `llm-${i}`, start: at(start + 2 + i * 10),
      end: at(start + 8 + i * 10), status: i === 1 ? 2 : undefined, attrs }));
  }
  return out;
}

async function startShard(addr = '127.0.0.1:0') {
  const data = tempDir();
  const collector = await startCollector(data);
  const query = await startQuery(data, [`--query-addr=${addr}`], { env: { ARBOR_LIVE_QUIET: '300ms' } });
  return { collector, query, url: collector.url, base: query.base };
}

// A fake shard: @p handler(req, res, url) answers every request.
async function fakeShard(handler) {
  const sockets = new Set();
  const srv = http.createServer((req, res) => handler(req, res, new URL(req.url, 'http://x')));
  srv.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const h = { base: `http://127.0.0.1:${srv.address().port}`, close: () => { for (const s of sockets) s.destroy(); srv.close(); } };
  servers.push(h);
  return h;
}

// A TCP listener that accepts and never answers; what it received, in `got`.
async function silentShard() {
  const socks = [];
  const h = { got: '' };
  const srv = net.createServer((s) => { socks.push(s); s.on('data', (d) => { h.got += d; }); });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  h.base = `http://127.0.0.1:${srv.address().port}`;
  h.close = () => { for (const s of socks) s.destroy(); srv.close(); };
  servers.push(h);
  return h;
}

const json = (res, body, status = 200) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};
const strip = (b) => JSON.parse(JSON.stringify(b, (k, v) => (k === 'seq' || k === 'last_seq' || k === 'partial' || k === 'partialReason' ? undefined : v)));
const vmHWM = (pid) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;

let A, B;
const fed = (shardBases, env = {}) => startQuery(tempDir(), [], { env: { ARBOR_SHARDS: shardBases.join(','), ARBOR_SHARD_TIMEOUT: '2s', ...env } });
async function stopped(q) { assert.deepEqual(await q.stop('SIGTERM', 15000), { code: 0, sig: null }, q.log); }

setup('two shards: an execution on each, and one whose traces the two hold in part (T1 on both, T2 on A, T3 on B)', async () => {
  A = await startShard();
  B = await startShard();
  for (let t = 1; t <= 5; t++) await postSpans(A.url, runSpans({ trace: t, exec: `exec-a${t}`, start: t * 1000 }));
  await postSpans(B.url, runSpans({ trace: 9, exec: 'exec-b', start: 9000 }));
  const t1 = runSpans({ trace: 11, exec: 'exec-rep', start: 20000 });
  await postSpans(A.url, t1);
  await postSpans(B.url, t1);
  await postSpans(A.url, runSpans({ trace: 12, exec: 'exec-rep', start: 20500 }));
  await postSpans(B.url, runSpans({ trace: 13, exec: 'exec-rep', start: 20500 }));
});

test('replicas whose trace sets differ ({T1,T2} and {T1,T3}, same counts) are merged, not taken for copies', async () => {
  const f = await fed([A.base, B.base]);
  try {
    for (const route of ['trace', 'tree']) {
      const r = await getJson(`${f.base}/api/executions/exec-rep/${route}`);
      assert.equal(r.status, 200);
      assert.deepEqual([...r.body.execution.trace_ids].sort(), [11, 12, 13].map((t) => hex(t, 32)), route);
      assert.equal(r.body.execution.span_count, 15, `${route}: every trace's spans, T1's once`);
    }
    const l = await getJson(`${f.base}/api/executions?limit=100`);
    const rep = l.body.executions.find((e) => e.execution_id === 'exec-rep');
    assert.equal(rep.span_count, 15, 'the list counts T1 once');
    assert.equal(rep.trace_ids.length, 3);
  } finally {
    await stopped(f);
  }
});

// Garbage: malformed JSON, or JSON whose members have the wrong types.
const GARBAGE = {
  malformed: () => '{"execution":{"id":"exec-a1","status":"completed","trace_ids":["',
  types: (url) => {
    if (url.pathname.includes('/search/tags')) return { tagNames: [1, { x: 2 }, null], scopes: [{ name: 5, tags: ['x'] }, { name: 'span', tags: [1, false] }] };
    if (url.pathname.includes('/values')) return { tagValues: [1, { type: 5 }, ['x']] };
    if (url.pathname === '/api/executions') return { executions: [{ execution_id: 7, span_count: 'x' }], seq: 1 };
    if (url.pathname === '/api/traces') return { traces: 'nope', seq: 1 };
    if (url.pathname === '/api/search') return { traces: [{ traceID: 5 }], metrics: {} };
    return { execution: { id: 'exec-a1', status: 'completed', trace_ids: [5, null], span_count: '7', error_count: {}, token_usage: 3 },
      spans: [{ span_id: 7, parent_span_id: [], start_time: 1 }], page_info: { has_next_page: 'yes', cursor: 5 }, matches: [1], seq: 1 };
  },
};

test('a garbage shard (malformed, or wrongly typed JSON) is partial on every route, trees included; nothing of it passes through', async () => {
  let mode = 'malformed';
  const g = await fakeShard((req, res, url) => json(res, GARBAGE[mode](url)));
  const f = await fed([A.base, g.base]);
  const only = await fed([A.base]);
  try {
    for (mode of ['malformed', 'types']) {
      for (const url of ['/api/executions/exec-a1/trace', '/api/executions/exec-a1/tree', `/api/traces/${hex(1, 32)}/trace`,
        '/api/executions/exec-a1/tree?match=node', '/api/executions', '/api/traces', '/api/search?limit=50', '/api/search/tags',
        '/api/v2/search/tags', '/api/search/tag/faults.tag/values', '/api/v2/search/tag/span.faults.tag/values']) {
        const [r, want] = [await getJson(`${f.base}${url}`), await getJson(`${only.base}${url}`)];
        assert.equal(r.status, 200, `${mode} ${url}: ${r.text.slice(0, 200)}`);
        assert.equal(r.body.partial, true, `${mode} ${url}: partial`);
        const cut = (b) => { const x = strip(b); delete x.metrics; return x; };
        assert.deepEqual(cut(r.body), cut(want.body), `${mode} ${url}: the good shard's answer, nothing of the garbage`);
      }
    }
    const m = await (await fetch(`${f.base}/metrics`)).text();
    assert.match(m, new RegExp(`arbor_shard_errors_total\\{shard="${g.base.replace(/[/.]/g, '\\$&')}",reason="invalid"\\} [1-9]`));
  } finally {
    await stopped(f);
    await stopped(only);
    g.close();
  }
});

// A shard holding "exec-a1" differently from A (so its pages are read), whose
// every page says there is another: after a pause of @p delayMs each, with a
// new cursor (or always the same one).
async function pagingShard({ delayMs = 0, sameCursor = false } = {}) {
  let pages = 0;
  const s = await fakeShard((req, res, url) => {
    const k = ++pages;
    const id = hex(0x5000000 + k, 16);
    const body = { execution: { id: 'exec-a1', status: 'running', thread_id: null, started_at: '2023-11-14T22:13:21Z', finished_at: null,
      trace_id: hex(1, 32), token_usage: { input: 0, output: 0 }, trace_ids: [hex(1, 32)], workflow_id: null, span_count: 99999, error_count: 0,
      external_links: [] },
    spans: [{ span_id: id, parent_span_id: hex(1100, 16), trace_id: hex(1, 32), name: `page-${k}`, start_time: '2023-11-14T22:13:21Z',
      end_time: '2023-11-14T22:13:22Z', attributes: {}, events: [], status: { code: 'UNSET', message: null }, links: [], kind: 'INTERNAL',
      token_usage: { input: 0, output: 0 }, child_count: 0, depth: 1 }],
    page_info: { has_next_page: true, cursor: sameCursor ? '1.0000000000000001' : `${k}.${id}` }, seq: k };
    setTimeout(() => json(res, body), delayMs);
  });
  s.pages = () => pages;
  return s;
}

test('a shard that always has another page: the tree answers partial within ARBOR_SHARD_TIMEOUT (every page of it)', async () => {
  for (const opts of [{ delayMs: 0 }, { delayMs: 150 }, { sameCursor: true }]) {
    const p = await pagingShard(opts);
    const f = await fed([A.base, p.base], { ARBOR_SHARD_TIMEOUT: '1500ms' });
    try {
      const t0 = Date.now();
      const r = await getJson(`${f.base}/api/executions/exec-a1/trace`);
      const took = Date.now() - t0;
      assert.equal(r.status, 200, JSON.stringify(opts));
      assert.equal(r.body.partial, true);
      assert.ok(r.body.spans.some((x) => x.name === 'workflow'), 'A\'s spans are there');
      assert.ok(took < 6000, `${JSON.stringify(opts)}: answered in ${took} ms (timeout 1.5 s)`);
    } finally {
      await stopped(f);
      p.close();
    }
  }
});

test('ten concurrent requests with a hanging shard all return within about one timeout, not one after another', async () => {
  const h = await silentShard();
  const f = await fed([A.base, h.base], { ARBOR_SHARD_TIMEOUT: '2s' });
  try {
    const t0 = Date.now();
    const urls = ['/api/executions', '/api/traces', '/api/executions/exec-a1/trace', '/api/search?limit=5', '/api/search/tags'];
    const done = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      const r = await getJson(`${f.base}${urls[i % urls.length]}`);
      return { status: r.status, partial: r.body.partial, ms: Date.now() - t0 };
    }));
    for (const d of done) {
      assert.equal(d.status, 200);
      assert.equal(d.partial, true);
    }
    const last = Math.max(...done.map((d) => d.ms));
    console.log(`# answered after (ms): ${done.map((d) => d.ms).join(', ')}`);
    // in series (two worker threads) the last would come after 5 timeouts (10 s)
    assert.ok(last < 6000, `the last of 10 answered after ${last} ms: ${done.map((d) => d.ms).join(', ')}`);
  } finally {
    await stopped(f);
    h.close();
  }
});

test('a list whose copies disagree, with the shard that disagrees hanging on trees: settled within one timeout', async () => {
  // S lists A's executions with one more span each (a replica ahead), and never answers a tree
  const s = await fakeShard(async (req, res, url) => {
    if (url.pathname !== '/api/executions') return; // hang
    const a = await getJson(`${A.base}${url.pathname}${url.search}`);
    for (const e of a.body.executions) e.span_count += 1;
    json(res, a.body);
  });
  const f = await fed([A.base, s.base], { ARBOR_SHARD_TIMEOUT: '1500ms' });
  try {
    const t0 = Date.now();
    const r = await getJson(`${f.base}/api/executions?limit=100`);
    const took = Date.now() - t0;
    assert.equal(r.status, 200);
    // one by one, 6 conflicts would take 6 timeouts (9 s)
    assert.ok(took < 5000, `answered in ${took} ms`);
    assert.equal(r.body.partial, true, 'a shard did not answer the trees that settle');
    assert.ok(r.body.executions.length >= 6);
  } finally {
    await stopped(f);
    s.close();
  }
});

test('shutdown with a request reading a never-ending shard: the process stops at once and cleanly', async () => {
  const p = await pagingShard({ delayMs: 100 });
  const f = await fed([A.base, p.base], { ARBOR_SHARD_TIMEOUT: '60s' });
  try {
    const pending = getJson(`${f.base}/api/executions/exec-a1/trace`).catch((e) => e);
    while (p.pages() < 3) await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    assert.deepEqual(await f.stop('SIGTERM', 15000), { code: 0, sig: null }, f.log);
    assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
    await pending;
  } finally {
    p.close();
  }
});

test('a shard answering a huge body: partial past ARBOR_SHARD_MAX_BYTES, and the federating process stays small', async () => {
  const MB = 1 << 20, total = 100 * MB, chunk = Buffer.alloc(MB, 'x');
  // one body with a Content-Length, one without (chunked): a list with a huge string member
  const z = await fakeShard((req, res, url) => {
    const head = Buffer.from('{"traces":[],"pad":"'), tail = Buffer.from('","seq":1}');
    const len = total + head.length + tail.length;
    res.writeHead(200, url.searchParams.has('chunked') ? { 'content-type': 'application/json' }
      : { 'content-type': 'application/json', 'content-length': len });
    res.on('error', () => {});
    let sent = 0;
    const more = () => {
      if (res.destroyed) return;
      if (sent === 0) res.write(head);
      while (sent < total) {
        sent += MB;
        if (!res.write(chunk)) { res.once('drain', more); return; }
      }
      res.end(tail);
    };
    more();
  });
  const f = await fed([A.base, z.base], { ARBOR_SHARD_MAX_BYTES: '8MiB', ARBOR_SHARD_TIMEOUT: '20s' });
  try {
    await getJson(`${f.base}/api/traces`); // warm up
    const before = vmHWM(f.proc.pid);
    const rs = await Promise.all(['', '?chunked', '', '?chunked'].map((q) => getJson(`${f.base}/api/traces${q}`)));
    const grew = vmHWM(f.proc.pid) - before;
    console.log(`# peak RSS grew by ${(grew / MB).toFixed(1)} MiB`);
    assert.ok(grew < 160 * MB, `peak RSS grew by ${(grew / MB).toFixed(0)} MiB for 4 answers of 100 MiB (cap 8 MiB)`);
    for (const r of rs) {
      assert.equal(r.status, 200);
      assert.equal(r.body.partial, true);
      assert.ok(r.body.traces.length > 0, 'A\'s traces');
    }
    const m = await (await fetch(`${f.base}/metrics`)).text();
    assert.match(m, /reason="too_large"\} [1-9]/);
  } finally {
    await stopped(f);
    z.close();
  }
});

// A live stream through a federating query: its frames, as they come.
function follow(base, url) {
  const frames = [];
  const ws = new WebSocket(`${base.replace('http', 'ws')}${url}`);
  ws.on('message', (m) => frames.push(JSON.parse(String(m))));
  const opened = new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  return { ws, frames, opened, closed };
}
const waitFor = async (fn, ms, what) => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('live: "complete" only once every shard holding spans of the execution has said so', async () => {
  // both shards finished exec-rep long ago: each says complete right after its snapshot
  for (let round = 0; round < 3; round++) {
    const f = await fed([A.base, B.base]);
    try {
      const sub = follow(f.base, '/api/executions/exec-rep/trace/live');
      await sub.opened;
      await waitFor(() => sub.frames.some((x) => x.complete), 20000, 'complete');
      const first = sub.frames.findIndex((x) => x.complete);
      const before = new Set(sub.frames.slice(0, first + 1).flatMap((x) => x.spans.map((s) => s.span_id)));
      assert.equal(before.size, 15, `round ${round}: every span of both shards came before "complete" (${before.size})`);
      sub.ws.close();
    } finally {
      await stopped(f);
    }
  }
});

test('live: a shard at an IPv6 URL (http://[::1]:port) streams', async () => {
  const C = await startShard('[::1]:0');
  assert.match(C.base, /^http:\/\/\[::1\]:\d+$/);
  const f = await fed([C.base]);
  try {
    const sub = follow(f.base, '/api/executions/exec-v6/trace/live');
    await sub.opened;
    await postSpans(C.url, runSpans({ trace: 40, exec: 'exec-v6', start: 40000 }));
    await waitFor(() => sub.frames.some((x) => x.complete), 20000, 'the IPv6 shard\'s frames');
    assert.equal(new Set(sub.frames.flatMap((x) => x.spans.map((s) => s.span_id))).size, 5);
    sub.ws.close();
  } finally {
    await stopped(f);
  }
});

test('live: a token or tenant with CR/LF is refused before the upgrade, and nothing reaches the shards', async () => {
  const s = await silentShard();
  const f = await fed([s.base]);
  try {
    const u = new URL(f.base);
    for (const q of ['access_token=abc%0D%0AX-Evil:%201', 'access_token=abc%0AX-Evil:%201', 'access_token=a%00b', 'org=acme%0D%0AX-Evil:%201']) {
      const answer = await new Promise((resolve) => {
        let got = '';
        const c = net.connect(Number(u.port), u.hostname, () => c.write(`GET /api/executions/x/trace/live?${q} HTTP/1.1\r\nHost: 127.0.0.1\r\n`
          + 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'));
        c.on('data', (d) => { got += d; if (got.includes('\r\n\r\n')) c.end(); });
        c.on('close', () => resolve(got));
      });
      assert.match(answer, /^HTTP\/1\.1 400 /, q);
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s.got, '', 'no upstream request was made');
  } finally {
    await stopped(f);
    s.close();
  }
});

test('the shards stop cleanly', async () => {
  for (const h of servers) h.close();
  for (const s of [A, B]) {
    await stopped(s.query);
    await s.collector.stop();
  }
});

run();
