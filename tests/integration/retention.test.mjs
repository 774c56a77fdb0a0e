// Retention: the collector's writer deletes traces that ended longer ago than
// ARBOR_RETENTION, everywhere they are indexed, while it keeps ingesting; recent
// traces stay; the store stays consistent; 0s keeps everything.
import assert from 'node:assert/strict';
import { test, run, tempDir, startCollector, startQuery, getJson, eventually, admin, span, postSpans, hex } from './lib.mjs';

const NOW = BigInt(Date.now()) * 1_000_000n, HOUR = 3_600_000_000_000n;
const data = tempDir();
let collector = await startCollector(data, ['--retention=10s']);
const query = await startQuery(data);
const OLD = 0x0e1d, NEW = 0x0e2d, RUNNING = 0x0e3d;

function trace(id, start, end, exec) {
  const out = [span({ trace: id, id: 1, name: 'workflow.execution', start, end, attrs: { 'orcheo.execution.id': exec } })];
  for (let i = 2; i <= 50; i++) out.push(span({ trace: id, id: i, parent: 1, start: start + BigInt(i), end: start + BigInt(i) + 10n }));
  return out;
}

test('a trace that ended an hour ago is deleted; a new one and one still running stay', async () => {
  await postSpans(collector.url, trace(OLD, NOW - 2n * HOUR, NOW - HOUR, 'exec-ret-old'));
  await postSpans(collector.url, trace(NEW, NOW, NOW + 1000n, 'exec-ret-new'));
  // started two hours ago, last span ends now: not expired
  await postSpans(collector.url, [...trace(RUNNING, NOW - 2n * HOUR, NOW - 2n * HOUR + 1000n, 'exec-ret-running'),
    span({ trace: RUNNING, id: 99, parent: 1, start: NOW, end: NOW + 5n })]);
  await eventually(async () => (await getJson(`${query.base}/api/traces/${hex(OLD, 32)}/trace`)).status === 404,
    { timeoutMs: 15000 });
  const old = await getJson(`${query.base}/api/executions/exec-ret-old/trace`);
  assert.equal(old.status, 200);
  assert.equal(old.body.execution.status, 'unknown', 'the execution no longer maps to the trace');
  assert.equal(old.body.spans.length, 0);
  assert.equal((await getJson(`${query.base}/api/traces/${hex(OLD, 32)}/spans/${hex(3, 16)}`)).status, 404);
  const listed = await getJson(`${query.base}/api/traces?limit=100`);
  assert.ok(!JSON.stringify(listed.body).includes(hex(OLD, 32)), 'not listed');
  for (const [exec, n] of [['exec-ret-new', 50], ['exec-ret-running', 51]]) {
    const r = await getJson(`${query.base}/api/executions/${exec}/trace`);
    assert.equal(r.body.spans.length, n, `${exec} whole`);
  }
  assert.match(collector.log, /event=retention traces_deleted=1 spans_deleted=50/);
  const metrics = (await getJson(`${query.base}/metrics`)).text;
  assert.match(metrics, /^arbor_traces_expired_total 1$/m);
  assert.match(metrics, /^arbor_spans_expired_total 50$/m);
  const check = admin(data, 'check');
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /check: 0 problems/);
});

test('retention=0s keeps everything', async () => {
  await collector.stop();
  collector = await startCollector(data, ['--retention=0s']);
  await postSpans(collector.url, trace(0x0e4d, NOW - 48n * HOUR, NOW - 47n * HOUR, 'exec-ret-keep'));
  await new Promise((r) => setTimeout(r, 2500)); // past the first sweep a 10s retention would have made
  assert.equal((await getJson(`${query.base}/api/executions/exec-ret-keep/trace`)).body.spans.length, 50);
  assert.doesNotMatch(collector.log, /event=retention/);
});

test('an announced trace that never gets a span leaves after ARBOR_ANNOUNCE_TTL; one that got a span stays', async () => {
  const dir = tempDir();
  const c = await startCollector(dir, ['--announce-ttl=2s']); // retention stays 72h: the TTL decides
  const q = await startQuery(dir);
  try {
    const announce = (exec, trace) => fetch(`${c.base}/v1/executions`, { method: 'POST',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ execution_id: exec, trace_id: hex(trace, 32) }) });
    assert.equal((await announce('exec-ann-lonely', 0x0a01)).status, 200);
    assert.equal((await announce('exec-ann-run', 0x0a02)).status, 200);
    await postSpans(c.url, [span({ trace: 0x0a02, id: 1, name: 'workflow.execution', start: NOW, end: NOW + 1000n })]);
    const lonely = await getJson(`${q.base}/api/executions/exec-ann-lonely/trace`);
    assert.equal(lonely.body.execution.trace_id, hex(0x0a01, 32), 'announced: the execution maps to its trace');
    await eventually(async () => (await getJson(`${q.base}/api/executions/exec-ann-lonely/trace`)).body.execution.status
      === 'unknown', { timeoutMs: 30000 });
    const gone = await getJson(`${q.base}/api/executions/exec-ann-lonely/trace`);
    assert.deepEqual([gone.body.execution.trace_id, gone.body.spans.length], [null, 0], 'the announcement left');
    const kept = await getJson(`${q.base}/api/executions/exec-ann-run/trace`);
    assert.deepEqual([kept.body.execution.status, kept.body.spans.length], ['completed', 1], 'the run with a span stays');
    assert.match(c.log, /event=retention traces_deleted=0 spans_deleted=0 announcements_deleted=1/);
    const check = admin(dir, 'check');
    assert.match(check.stdout, /check: 0 problems/, check.stdout + check.stderr);
  } finally {
    await q.stop();
    await c.stop();
  }
});

test('daemons exit cleanly', async () => {
  assert.deepEqual(await collector.stop(), { code: 0, sig: null });
  assert.deepEqual(await query.stop(), { code: 0, sig: null });
});

await run();
