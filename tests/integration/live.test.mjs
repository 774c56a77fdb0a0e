// Live updates over WebSocket with the real `ws` client: every span as it
// commits, placeholders replaced, complete, resume without gap or duplicate,
// whole-tree chunks, slow and vanished clients, pings, many idle subscribers,
// reconnect after a restart.
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { test, run, tempDir, startCollector, startQuery, getJson, span, postSpans, hex, eventually } from './lib.mjs';
import { makeProvider, orcheoRun } from './otel.mjs';

const data = tempDir();
const collector = await startCollector(data);
let query = await startQuery(data, ['--live-quiet=300ms', '--live-ping-interval=250ms', '--live-max-queued-bytes=64KiB',
  '--live-slow-timeout=1s']);
const wsBase = () => `ws://${query.query}`;
const NOW = 1_800_000_000_000_000_000n;

// A subscriber that records every message and lets a test wait for a condition.
function subscribe(path) {
  const ws = new WebSocket(`${wsBase()}${path}`);
  const c = { ws, messages: [], spans: new Map(), pings: 0, closed: null, waiters: [] };
  const check = () => { c.waiters = c.waiters.filter((w) => (w.pred() ? (w.resolve(), false) : true)); };
  ws.on('message', (m) => {
    const msg = JSON.parse(m.toString());
    c.messages.push(msg);
    for (const s of msg.spans) c.spans.set(s.span_id, { ...(c.spans.get(s.span_id) || {}), ...s,
      attributes: { ...(c.spans.get(s.span_id)?.attributes || {}), ...s.attributes } }); // the Canvas's shallow merge
    check();
  });
  ws.on('ping', () => { c.pings++; check(); });
  ws.on('close', (code) => { c.closed = code; check(); });
  c.until = (pred, ms = 8000) => new Promise((resolve, reject) => {
    if (pred()) return resolve();
    const t = setTimeout(() => reject(new Error(`timed out; ${c.messages.length} messages, closed=${c.closed}`)), ms);
    c.waiters.push({ pred, resolve: () => { clearTimeout(t); resolve(); } });
  });
  c.opened = new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
  return c;
}

test('subscribed before a run starts: every span as it commits, placeholder replaced, then complete', async () => {
  const c = subscribe('/api/executions/exec-live-1/trace/live');
  await c.opened;
  const provider = makeProvider({ protocol: 'proto', url: collector.url }); // exports each span as it ends
  const { trace, context } = await import('@opentelemetry/api');
  const tracer = provider.getTracer('t');
  const root = tracer.startSpan('workflow.execution');
  const ctx = trace.setSpan(context.active(), root);
  const kids = [];
  for (let i = 0; i < 3; i++) {
    const k = tracer.startSpan(`node-${i}`, {}, ctx);
    k.setAttribute('execution.id', 'exec-live-1'); // a child carrying the ID lets the stream start early
    k.end();
    kids.push(k.spanContext().spanId);
    await provider.forceFlush();
    await c.until(() => c.spans.has(k.spanContext().spanId));
  }
  const rootId = root.spanContext().spanId;
  assert.equal(c.spans.get(rootId).attributes['arbor.placeholder'], true, 'placeholder while the root is pending');
  assert.ok(!c.messages.some((m) => m.complete), 'not complete before the root');
  root.setAttribute('orcheo.execution.id', 'exec-live-1');
  root.end();
  await provider.shutdown();
  await c.until(() => c.messages.some((m) => m.complete));
  const r = c.spans.get(rootId);
  assert.equal(r.name, 'workflow.execution');
  assert.equal(r.attributes['arbor.placeholder'], false, 'the real root overwrote the placeholder flag');
  assert.deepEqual([...c.spans.keys()].sort(), [rootId, ...kids].sort());
  for (const m of c.messages) {
    assert.equal(m.type, 'trace:update');
    assert.equal(m.execution_id, 'exec-live-1');
    assert.equal(m.trace_id, root.spanContext().traceId);
  }
  const seqs = c.messages.map((m) => m.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'seq never goes back');
  c.ws.close();
});

test('an execution subscription picks up a trace whose ID only comes with the root, whole', async () => {
  const c = subscribe('/api/executions/exec-live-2/trace/live');
  await c.opened;
  const provider = makeProvider({ protocol: 'proto', url: collector.url });
  const run = orcheoRun(provider, { executionId: 'exec-live-2', nodes: 4 }); // ID only on the root, exported last
  const r = await run;
  await provider.shutdown();
  await c.until(() => c.spans.size === 5 && c.messages.some((m) => m.complete));
  assert.deepEqual([...c.spans.keys()].sort(), [r.rootId, ...r.nodeIds].sort());
  c.ws.close();
});

test('load then subscribe with ?since=seq: nothing missed, nothing twice', async () => {
  const T = 0xabc;
  const rec = (id, parent, extra = {}) => span({ trace: T, id, parent, start: NOW + BigInt(id), attrs: extra });
  await postSpans(collector.url, [rec(2, 1, { 'execution.id': 'exec-resume' }), rec(3, 1)]);
  const rest = (await getJson(`${query.base}/api/executions/exec-resume/trace`)).body;
  assert.deepEqual(rest.spans.map((s) => s.span_id), [hex(1, 16), hex(2, 16), hex(3, 16)]); // placeholder + 2
  await postSpans(collector.url, [rec(4, 2)]); // committed between the load and the subscription
  const c = subscribe(`/api/executions/exec-resume/trace/live?since=${rest.seq}`);
  await c.opened;
  await c.until(() => c.spans.has(hex(4, 16)));
  await postSpans(collector.url, [rec(1, undefined, { 'orcheo.execution.id': 'exec-resume' })]);
  await c.until(() => c.spans.has(hex(1, 16)));
  await c.until(() => c.messages.some((m) => m.complete));
  const received = c.messages.flatMap((m) => m.spans.map((s) => s.span_id));
  assert.deepEqual(received.sort(), [hex(1, 16), hex(4, 16)].sort(), 'only what came after seq');
  assert.equal(c.spans.get(hex(1, 16)).attributes['arbor.placeholder'], false,
    'the client held the placeholder from the REST load; the real root says it is no longer one');
  c.ws.close();
});

test('a trace subscription without since gets the whole tree first, in pre-order chunks of 1,000', async () => {
  const T = 0xdef;
  const spans = [span({ trace: T, id: 1, start: NOW })];
  for (let i = 2; i <= 2500; i++) spans.push(span({ trace: T, id: i, parent: 1, start: NOW + BigInt(i) }));
  await postSpans(collector.url, spans);
  const c = subscribe(`/api/traces/${hex(T, 32)}/live`);
  await c.opened;
  await c.until(() => c.spans.size === 2500);
  const sizes = c.messages.filter((m) => m.spans.length).map((m) => m.spans.length);
  assert.deepEqual(sizes, [1000, 1000, 500]);
  assert.equal(c.messages[0].spans[0].span_id, hex(1, 16), 'parent first');
  c.ws.close();
});

test('one span at a time, each awaited: every commit reaches the subscriber without a later one to push it', async () => {
  // A commit seen by the environment but not yet by a new snapshot used to be
  // remembered as delivered: its frame then waited for the next commit, forever here.
  const T = 0xe11;
  const c = subscribe(`/api/traces/${hex(T, 32)}/live`);
  await c.opened;
  for (let i = 1; i <= 1000; i++) {
    await postSpans(collector.url, [span({ trace: T, id: 10 + i, parent: 1, start: NOW + BigInt(i) })]);
    await c.until(() => c.spans.has(hex(10 + i, 16)), 5000);
  }
  assert.equal([...c.spans.values()].filter((s) => !s.attributes['arbor.placeholder']).length, 1000);
  c.ws.close();
});

test("a subscriber whose snapshot is ahead of the feed gets no span twice", async () => {
  // polling once a minute: only requests wake the loop, so a commit can land
  // between two ticks and a new subscriber's snapshot then already holds it
  const q = await startQuery(data, ['--live-poll-interval=60s']);
  const TT = 0x77aa, at = (n) => NOW + BigInt(n);
  const live = (sock) => new WebSocket(`ws://${q.query}/api/traces/${hex(TT, 32)}/live`,
    sock ? { createConnection: () => sock } : {});
  const watch = (ws) => {
    const c = { seen: [], waiters: [] };
    ws.on('message', (m) => {
      for (const s of JSON.parse(m.toString()).spans) c.seen.push(s.span_id);
      c.waiters = c.waiters.filter((w) => (w.pred() ? (w.resolve(), false) : true));
    });
    c.until = (pred) => new Promise((resolve) => (pred() ? resolve() : c.waiters.push({ pred, resolve })));
    return c;
  };
  await postSpans(collector.url, [span({ trace: TT, id: 1, parent: 9, start: at(1) })]);
  const wsA = live(), a = watch(wsA);
  await a.until(() => a.seen.includes(hex(1, 16)));
  // B's connection is accepted first (the loop ticks then), the commit comes, and
  // only then B's upgrade request: its snapshot holds span 2, the feed has not
  const [host, port] = q.query.split(':');
  const sock = net.connect(Number(port), host);
  await new Promise((r) => sock.on('connect', r));
  await fetch(`${q.base}/healthz`); // the loop has run since B's accept
  await postSpans(collector.url, [span({ trace: TT, id: 2, parent: 9, start: at(2) })]); // no tick yet
  const wsB = live(sock), b = watch(wsB);
  await b.until(() => b.seen.includes(hex(2, 16)));  // in B's snapshot
  await a.until(() => a.seen.includes(hex(2, 16)));  // the tick after B's upgrade delivered it to A
  await postSpans(collector.url, [span({ trace: TT, id: 3, parent: 9, start: at(3) })]);
  await fetch(`${q.base}/healthz`); // wakes the loop: the next tick sends span 3
  await b.until(() => b.seen.includes(hex(3, 16)));  // anything queued for B before it has arrived
  assert.equal(b.seen.filter((id) => id === hex(2, 16)).length, 1, `B got span 2 once: ${b.seen.join(' ')}`);
  assert.equal(a.seen.filter((id) => id === hex(2, 16)).length, 1, 'A got span 2 once');
  wsA.close();
  wsB.close();
  assert.deepEqual(await q.stop(), { code: 0, sig: null });
});

test('pings keep idle connections alive', async () => {
  const c = subscribe('/api/executions/nobody/trace/live');
  await c.opened;
  await c.until(() => c.pings >= 2);
  c.ws.close();
});

test('a client too slow to drain is closed with 1013, others carry on', async () => {
  const T = 0x510;
  const slow = subscribe(`/api/traces/${hex(T, 32)}/live`);
  const fine = subscribe(`/api/traces/${hex(T, 32)}/live`);
  await slow.opened;
  await fine.opened;
  slow.ws._socket.pause(); // stop reading: the kernel buffers fill, then Arbor's queue
  const big = 'x'.repeat(200000); // not a content key: not cut to a preview
  for (let b = 0; b < 10; b++) {
    const batch = [];
    for (let i = 0; i < 20; i++) batch.push(span({ trace: T, id: b * 100 + i + 1, start: NOW, attrs: { blob: big } }));
    await postSpans(collector.url, batch);
  }
  // the paused one drains nothing: closed once behind for the 1 s slow timeout;
  // it reads again then, to take its close frame (a peer that never does is
  // dropped after 10 s)
  await eventually(() => /event=live_client_slow .*action=close_1013/.test(query.log), { timeoutMs: 30000 });
  slow.ws._socket.resume();
  await slow.until(() => slow.closed !== null, 30000);
  assert.equal(slow.closed, 1013);
  assert.ok(slow.spans.size < 200, 'the slow client was cut off before getting everything');
  // the fine client drains the 40 MB burst at its own pace, however busy the
  // machine: behind, but draining, it is never cut off
  await fine.until(() => fine.spans.size === 200, 60000);
  assert.equal(fine.closed, null, 'the fine client is still open');
  assert.equal((query.log.match(/event=live_client_slow/g) || []).length, 1, 'one client closed, not two');
  fine.ws.close();
});

test('vanished clients are cleaned up', async () => {
  const metric = async () => Number(/^arbor_live_subscribers (\d+)$/m.exec(await (await fetch(`${query.base}/metrics`)).text())[1]);
  // earlier tests' subscribers finish closing first
  for (let i = 0; i < 200 && (await metric()) !== 0; i++) await new Promise((r) => setTimeout(r, 50));
  const before = await metric();
  assert.equal(before, 0);
  const cs = Array.from({ length: 50 }, (_, i) => subscribe(`/api/executions/gone-${i}/trace/live`));
  await Promise.all(cs.map((c) => c.opened));
  assert.equal(await metric(), before + 50);
  for (const c of cs) c.ws._socket.destroy(); // no close frame, no FIN handshake courtesy
  for (let i = 0; i < 100 && (await metric()) !== before; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await metric(), before);
});

test('1,000 idle subscribers cost little; ingest and queries go on', async () => {
  const rss = async () => Number(/VmRSS:\s+(\d+)/.exec(await import('node:fs').then((fs) => fs.readFileSync(`/proc/${query.proc.pid}/status`, 'utf8')))[1]);
  const before = await rss();
  const cs = [];
  for (let i = 0; i < 1000; i++) cs.push(subscribe(`/api/executions/idle-${i}/trace/live`));
  await Promise.all(cs.map((c) => c.opened));
  const after = await rss();
  const provider = makeProvider({ protocol: 'proto', url: collector.url });
  await orcheoRun(provider, { executionId: 'exec-with-idle', nodes: 2 });
  await provider.shutdown();
  assert.equal((await getJson(`${query.base}/api/executions/exec-with-idle/trace`)).body.spans.length, 3);
  console.log(`# 1,000 idle subscribers: query RSS ${before} kB -> ${after} kB`);
  for (const c of cs) c.ws.close();
});

test('after the query service restarts, a client reconnects with since and misses nothing', async () => {
  const T = 0x7e5;
  await postSpans(collector.url, [span({ trace: T, id: 1, start: NOW, attrs: { 'orcheo.execution.id': 'exec-restart' } })]);
  let c = subscribe('/api/executions/exec-restart/trace/live');
  await c.opened;
  await c.until(() => c.spans.size === 1);
  const lastSeq = c.messages.at(-1).seq;
  await query.stop();
  await c.until(() => c.closed !== null);
  assert.equal(c.closed, 1001, 'going away');
  await postSpans(collector.url, [span({ trace: T, id: 2, parent: 1, start: NOW + 1n })]); // while the service is down
  query = await startQuery(data, ['--live-quiet=300ms']);
  c = subscribe(`/api/executions/exec-restart/trace/live?since=${lastSeq}`);
  await c.opened;
  await c.until(() => c.spans.has(hex(2, 16)));
  await postSpans(collector.url, [span({ trace: T, id: 3, parent: 1, start: NOW + 2n })]);
  await c.until(() => c.spans.has(hex(3, 16)));
  const got = c.messages.flatMap((m) => m.spans.map((s) => s.span_id));
  assert.deepEqual(got, [hex(2, 16), hex(3, 16)]);
  c.ws.close();
});

test('not a WebSocket handshake: 426; bad since or trace ID: 400', async () => {
  assert.equal((await fetch(`${query.base}/api/executions/x/trace/live`)).status, 426);
  assert.equal((await fetch(`${query.base}/api/traces/nothex/live`)).status, 400);
  const ws = new WebSocket(`${wsBase()}/api/executions/x/trace/live?since=-1`);
  const status = await new Promise((r) => ws.on('unexpected-response', (req, res) => r(res.statusCode)));
  assert.equal(status, 400);
});

test('daemons exit cleanly', async () => {
  assert.deepEqual(await collector.stop(), { code: 0, sig: null });
  assert.deepEqual(await query.stop(), { code: 0, sig: null });
});

await run();
