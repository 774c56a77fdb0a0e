// A full store (MDB_MAP_FULL): 503 with Retry-After, nothing of the refused
// request stored, everything earlier intact, and the collector keeps serving.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { test, run, tempDir, startCollector, startQuery, getJson, admin, Skip } from './lib.mjs';

const data = tempDir();
const collector = await startCollector(data, ['--map-size=2MiB']);
const query = await startQuery(data);
const hex = (n, w) => n.toString(16).padStart(w, '0');

function request(i, nspans = 40) {
  const spans = Array.from({ length: nspans }, (_, j) => ({
    traceId: hex(i + 1, 32), spanId: hex(j + 1, 16), name: `span-${j}`,
    startTimeUnixNano: String(1e18 + j), endTimeUnixNano: String(1e18 + j + 1),
    attributes: [{ key: 'orcheo.execution.id', value: { stringValue: `exec-${i}` } },
      { key: 'payload', value: { stringValue: 'x'.repeat(1500) } }],
  }));
  return JSON.stringify({ resourceSpans: [{ resource: {}, scopeSpans: [{ spans }] }] });
}
const post = (body) => fetch(collector.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

test('filling the map: 503 + Retry-After, refused requests leave nothing behind', async () => {
  const stored = [];
  let refused = null;
  for (let i = 0; i < 200 && refused === null; i++) {
    const r = await post(request(i));
    if (r.status === 200) stored.push(i);
    else refused = { i, status: r.status, retry: r.headers.get('retry-after'), body: await r.json() };
  }
  assert.ok(refused, 'the 2 MiB map filled up');
  assert.ok(stored.length > 3, `some requests fit first (${stored.length})`);
  assert.equal(refused.status, 503);
  assert.ok(Number(refused.retry) > 0, 'Retry-After present');
  assert.match(refused.body.message, /full/);
  assert.equal(refused.body.details[0]['@type'], 'type.googleapis.com/google.rpc.RetryInfo');
  // nothing of the refused request is visible
  const t = await getJson(`${query.base}/api/executions/exec-${refused.i}/trace`);
  assert.equal(t.body.execution.status, 'unknown');
  assert.deepEqual(t.body.spans, []);
  // everything acknowledged before is intact
  for (const i of stored) {
    const s = await getJson(`${query.base}/api/executions/exec-${i}/trace`);
    assert.equal(s.body.spans.length, 40, `exec-${i} intact`);
  }
  // a request small enough still fits: the collector keeps serving
  const small = await post(request(1000, 1).replace(/x{1500}/g, 'x'));
  assert.ok([200, 503].includes(small.status));
  const check = admin(data, 'check');
  assert.equal(check.status, 0, check.stdout);
  console.log(`# ${stored.length} requests stored before the map filled`);
});

test('a full disk: 503 naming it (ENOSPC, not EIO), nothing acknowledged lost', async () => {
  // a 3 MiB tmpfs under a 1 GiB map: the disk fills long before the map
  const mnt = tempDir('arbor-disk-');
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt], { encoding: 'utf8' });
  if (m.status !== 0) throw new Skip(`cannot mount a tmpfs here: ${m.stderr.trim()}`);
  try {
    const dir = path.join(mnt, 'data');
    mkdirSync(dir);
    const c = await startCollector(dir, ['--map-size=1GiB']);
    const q = await startQuery(dir);
    const body = (i) => JSON.stringify({ resourceSpans: [{ resource: {}, scopeSpans: [{ spans: Array.from({ length: 40 },
      (_, j) => ({ traceId: hex(i + 1, 32), spanId: hex(j + 1, 16), name: `s${j}`,
        attributes: [{ key: 'orcheo.execution.id', value: { stringValue: `disk-${i}` } },
          { key: 'payload', value: { stringValue: randomBytes(1500).toString('hex') } }] })) }] }] });
    const stored = [];
    let refused = null;
    for (let i = 0; i < 400 && refused === null; i++) {
      const r = await fetch(c.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i) });
      if (r.status === 200) stored.push(i);
      else refused = { status: r.status, retry: r.headers.get('retry-after'), body: await r.json() };
    }
    assert.ok(refused, 'the disk filled');
    assert.equal(refused.status, 503);
    assert.match(refused.body.message, /disk is full \(No space left on device\)/);
    assert.ok(Number(refused.retry) > 0);
    assert.match(c.log, /error="No space left on device"/);
    for (const i of stored)
      assert.equal((await getJson(`${q.base}/api/executions/disk-${i}/trace`)).body.spans.length, 40, `disk-${i} intact`);
    await q.stop();
    assert.deepEqual(await c.stop(), { code: 0, sig: null });
  } finally {
    spawnSync('umount', ['-l', mnt]);
  }
});

test('daemons exit cleanly', async () => {
  assert.deepEqual(await collector.stop(), { code: 0, sig: null });
  assert.deepEqual(await query.stop(), { code: 0, sig: null });
});

await run();
