// Graceful shutdown: SIGTERM while requests are in flight. Every request that was
// answered 200 must be readable after a restart (acknowledged means durable).
import assert from 'node:assert/strict';
import { test, run, tempDir, startCollector, startQuery, getJson, admin } from './lib.mjs';

const data = tempDir();

function request(i) {
  const hex = (n, w) => n.toString(16).padStart(w, '0');
  const spans = Array.from({ length: 50 }, (_, j) => ({
    traceId: hex(i + 1, 32), spanId: hex(j + 1, 16), name: `s${j}`,
    parentSpanId: j ? hex(1, 16) : undefined,
    startTimeUnixNano: String(1e18 + j), endTimeUnixNano: String(1e18 + j + 5),
    attributes: j ? [] : [{ key: 'orcheo.execution.id', value: { stringValue: `exec-${i}` } }],
  }));
  return JSON.stringify({ resourceSpans: [{ resource: {}, scopeSpans: [{ spans }] }] });
}

test('SIGTERM with requests in flight loses nothing acknowledged', async () => {
  const collector = await startCollector(data, ['--sync=commit']);
  const N = 300;
  const results = new Array(N).fill('pending');
  const inflight = [];
  let answered = 0;
  for (let i = 0; i < N; i++) {
    inflight.push(fetch(collector.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: request(i) })
      .then(async (r) => {
        results[i] = r.status;
        await r.arrayBuffer();
        // stop the collector while most requests are still on the wire
        if (++answered === 20) collector.proc.kill('SIGTERM');
      })
      .catch(() => { results[i] = 'error'; }));
  }
  await Promise.all(inflight);
  const exit = await collector.exited;
  assert.equal(exit.code, 0, collector.log);
  const acked = results.map((r, i) => (r === 200 ? i : -1)).filter((i) => i >= 0);
  assert.ok(acked.length > 0, 'some requests were acknowledged before shutdown');
  for (const r of results) assert.ok(r === 200 || r === 503 || r === 'error', `unexpected outcome ${r}`);

  const query = await startQuery(data);
  for (const i of acked) {
    const t = await getJson(`${query.base}/api/executions/exec-${i}/trace`);
    assert.equal(t.body.spans.length, 50, `acknowledged request ${i} fully stored`);
  }
  assert.deepEqual(await query.stop(), { code: 0, sig: null });
  const check = admin(data, 'check');
  assert.equal(check.status, 0, check.stdout);
  console.log(`# ${acked.length}/${N} acknowledged before SIGTERM, all present after restart`);
});

await run();
