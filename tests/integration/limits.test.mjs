// SPEC §8 per-tenant limits (ARBOR_TENANT_LIMITS) with multitenancy on: a noisy
// tenant gets 429 + Retry-After while a quiet one keeps ingesting; per-trace caps
// answer 413; a refused request stores nothing; SIGHUP re-reads the file.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, setup, run, tempDir, startCollector, startQuery, getJson, span, hex, eventually, admin } from './lib.mjs';

let collector, query, limitsFile, data;

setup('a collector with a limits file, multitenancy on', async () => {
  data = tempDir();
  limitsFile = path.join(tempDir('arbor-limits-'), 'limits');
  // rates low enough that no pause of a busy machine refills a bucket between two posts
  writeFileSync(limitsFile, [
    '# tenant spans/s burst max_spans_per_trace max_bytes_per_trace',
    'noisy 1 40 0 0',
    'capped 0 0 3 0',
    'bytesy 0 0 0 1KiB',
    'announcer 1 5 0 0',
    '* 100000 100000 0 0',
  ].join('\n') + '\n');
  const env = { ARBOR_MULTITENANCY: 'on' };
  collector = await startCollector(data, [`--tenant-limits=${limitsFile}`], { env });
  query = await startQuery(data, [], { env });
});

async function post(tenant, spans) {
  const body = JSON.stringify({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ spans }] }] });
  const r = await fetch(collector.url, { method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-scope-orgid': tenant } });
  return { status: r.status, retryAfter: r.headers.get('retry-after'), text: await r.text() };
}
const many = (trace, n, from = 1) => Array.from({ length: n }, (_, i) => span({ trace, id: from + i, attrs: { 'marker.key': 'x' } }));
const spanCount = async (tenant, trace) => {
  const r = await getJson(`${query.base}/api/traces/${hex(trace, 32)}/tree`, { headers: { 'x-scope-orgid': tenant } });
  return r.status === 200 ? r.body.spans.length : 0;
};

test('a noisy tenant gets 429 + Retry-After while a quiet one keeps ingesting; nothing of the refused request is stored', async () => {
  let r = await post('noisy', many(0x1, 40));
  assert.equal(r.status, 200, r.text);
  r = await post('noisy', many(0x2, 30));
  assert.equal(r.status, 429, r.text);
  assert.ok(Number(r.retryAfter) >= 20, `Retry-After ${r.retryAfter}: 30 spans at 1/s`);
  for (let i = 0; i < 5; i++) {
    const q = await post('quiet', many(0x10 + i, 50));
    assert.equal(q.status, 200, `the quiet tenant, request ${i}: ${q.text}`);
  }
  assert.equal(await spanCount('noisy', 0x2), 0, 'the refused request left nothing');
  assert.equal(await spanCount('noisy', 0x1), 40);
  assert.equal(await spanCount('quiet', 0x14), 50);
  r = await post('noisy', many(0x3, 41));
  assert.equal(r.status, 413, 'more spans than the burst can never pass: not retryable');
});

test("execution announcements count against the tenant's rate like spans: 429 past it, the refused one not stored", async () => {
  const announce = (i) => fetch(`${collector.base}/v1/executions`, { method: 'POST',
    headers: { 'content-type': 'application/json', 'x-scope-orgid': 'announcer' },
    body: JSON.stringify({ execution_id: `exec-lim-${i}`, trace_id: hex(0x600 + i, 32) }) });
  for (let i = 0; i < 5; i++) assert.equal((await announce(i)).status, 200, `announcement ${i} within the burst`);
  const over = await announce(5);
  assert.equal(over.status, 429, await over.text());
  assert.ok(Number(over.headers.get('retry-after')) >= 1);
  const exec = async (i) => (await getJson(`${query.base}/api/executions/exec-lim-${i}/trace`,
    { headers: { 'x-scope-orgid': 'announcer' } })).body.execution.trace_id;
  assert.equal(await exec(4), hex(0x604, 32), 'an accepted announcement is stored');
  assert.equal(await exec(5), null, 'the refused one is not');
});

test('per-trace caps: spans and bytes, 413, nothing stored of the request that would pass them', async () => {
  assert.equal((await post('capped', many(0x20, 2))).status, 200);
  const over = await post('capped', many(0x20, 2, 10));
  assert.equal(over.status, 413, over.text);
  assert.match(over.text, /max_spans_per_trace/);
  assert.equal(await spanCount('capped', 0x20), 2, 'the refused request added nothing');
  assert.equal((await post('capped', many(0x20, 1, 20))).status, 200, 'up to the cap is fine');
  assert.equal((await post('capped', many(0x21, 3))).status, 200, 'the cap is per trace');
  // bytes as stored, after compression: random text: each span stays ~350 bytes
  const big = (id) => span({ trace: 0x30, id, attrs: { blob: randomBytes(200).toString('base64') } });
  assert.equal((await post('bytesy', [big(1)])).status, 200);
  assert.equal((await post('bytesy', [big(2)])).status, 200);
  assert.equal((await post('bytesy', [big(3)])).status, 413, 'the third ~350-byte span passes 1 KiB');
  assert.equal(await spanCount('bytesy', 0x30), 2);
});

test('SIGHUP re-reads the limits file', async () => {
  writeFileSync(limitsFile, 'capped 0 0 100 0\n* 100000 100000 0 0\n');
  const before = (collector.log.match(/event=reloaded/g) || []).length;
  collector.proc.kill('SIGHUP');
  await eventually(() => (collector.log.match(/event=reloaded/g) || []).length > before);
  assert.equal((await post('capped', many(0x20, 5, 30))).status, 200, 'the new cap applies');
});

test('arbor-admin per tenant: tenants, stat --tenant, delete-tenant (only with the collector stopped)', async () => {
  const listed = admin(data, 'tenants');
  assert.equal(listed.status, 0, listed.stderr);
  assert.match(listed.stdout, /^tenant noisy exists 1 traces 1 spans 40 /m);
  assert.match(listed.stdout, /^tenant quiet exists 1 traces 5 spans 250 /m);
  const one = admin(data, 'stat', '--tenant=capped');
  assert.match(one.stdout, /^tenant capped exists 1 traces 2 spans 11 executions 0 stored_bytes [1-9]\d* /, one.stdout);
  const spanTags = async () => (await getJson(`${query.base}/api/v2/search/tags`, { headers: { 'x-scope-orgid': 'noisy' } }))
    .body.scopes.find((x) => x.name === 'span').tags;
  assert.deepEqual(await spanTags(), ['marker.key']);
  const busy = admin(data, 'delete-tenant', 'noisy');
  assert.equal(busy.status, 1, 'the collector holds the writer lock');
  assert.match(busy.stderr, /stop arbor-collector first/);
  await collector.stop();
  const del = admin(data, 'delete-tenant', 'noisy');
  assert.equal(del.status, 0, del.stderr);
  assert.match(del.stdout, /delete-tenant noisy: [1-9]\d* keys deleted/);
  assert.match(admin(data, 'stat', '--tenant=noisy').stdout, /traces 0 spans 0 /);
  assert.equal(await spanCount('noisy', 0x1), 0, 'the query service sees nothing of it');
  assert.equal(await spanCount('quiet', 0x14), 50, 'the other tenants keep theirs');
  assert.deepEqual(await spanTags(), [], 'its tag catalogue went too');
  const check = admin(data, 'check');
  assert.equal(check.status, 0, check.stdout);
});

await run();
