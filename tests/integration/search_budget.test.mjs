// A search cannot stop the query service: a catastrophic regex is cut off at
// PCRE2's match limit, a search past ARBOR_SEARCH_TIMEOUT answers what it found
// with "partial": true, /healthz is answered while a search runs (searches run on
// worker threads), and SIGTERM does not wait for a running search.
import assert from 'node:assert/strict';
import { test, setup, run, tempDir, startCollector, startQuery, getJson, span, postSpans, hex, eventually } from './lib.mjs';

const data = process.env.KEEP_DIR || tempDir();
const collector = await startCollector(data);
const query = await startQuery(data, ['--search-timeout=2s', '--search-threads=1']);
const NOW = BigInt(Date.now()) * 1_000_000n;
const TRACES = 40, SPANS = 100;

// a payload on which (a+)+$ backtracks exponentially and .*.*[^a!] takes ~50k
// steps (~75 us), just under the match limit
const payload = `${'a'.repeat(300)}!`;
setup('40 traces of 100 spans, each with a 301-character payload', async () => {
  for (let t = 1; t <= TRACES; t++) {
    const spans = [];
    for (let i = 1; i <= SPANS; i++)
      spans.push(span({ trace: 0x5000 + t, id: i, parent: i === 1 ? undefined : 1, name: `s${i}`,
        start: NOW + BigInt(t * 1000 + i), attrs: { payload } }));
    await postSpans(collector.url, spans);
  }
});

const search = (base, q) => getJson(`${base}/api/search?limit=100&q=${encodeURIComponent(q)}`);
// 100 regexes per span, each just under the match limit: seconds of work per trace
const slow = `{ ${Array(100).fill('span.payload =~ ".*.*[^a!]"').join(' || ')} }`;

test('a catastrophic regex: cut off at the match limit, traces left out, partial', async () => {
  const r = await search(query.base, '{ span.payload =~ "(a+)+$" }');
  assert.equal(r.status, 200);
  assert.equal(r.body.partial, true);
  assert.match(r.body.partialReason, /match limit/);
  assert.deepEqual(r.body.traces, []);
  const neg = await search(query.base, '{ span.payload !~ "(a+)+$" }');
  assert.deepEqual(neg.body.traces, [], '!~ claims nothing either');
  const v2 = await getJson(`${query.base}/api/v2/traces/${hex(0x5001, 32)}?q=${encodeURIComponent('{ span.payload =~ "(a+)+$" }')}`);
  assert.equal(v2.status, 503);
  assert.match(v2.body.detail, /match limit/);
  const ok = await search(query.base, '{ span.payload =~ "a+!" }');
  assert.equal(ok.body.partial, undefined);
  assert.equal(ok.body.traces.length, TRACES);
});

test('a search runs on a worker: /healthz answered meanwhile; past the timeout it answers partial', async () => {
  let settled = false;
  const pending = search(query.base, slow).then((r) => { settled = true; return r; });
  for (let i = 0; i < 5; i++) {
    const h = await fetch(`${query.base}/healthz`);
    assert.equal(h.status, 200);
  }
  const healthDoneWhileSearching = !settled;
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal(r.body.partial, true, 'the search ran into its 2 s deadline');
  assert.match(r.body.partialReason, /ARBOR_SEARCH_TIMEOUT/);
  assert.ok(r.body.metrics.inspectedTraces < TRACES, `stopped early (${r.body.metrics.inspectedTraces} traces)`);
  assert.ok(healthDoneWhileSearching, 'five /healthz answered before the search ended');
});

test('tags and tag values with q: evaluated on a worker under the same budget, partial past it', async () => {
  const pending = getJson(`${query.base}/api/v2/search/tags?q=${encodeURIComponent(slow)}`);
  assert.equal((await fetch(`${query.base}/healthz`)).status, 200);
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal(r.body.partial, true, 'the walk ran into its 2 s deadline');
  assert.match(r.body.partialReason, /ARBOR_SEARCH_TIMEOUT/);
  const v = await getJson(`${query.base}/api/v2/search/tag/name/values?q=${encodeURIComponent('{ span.payload =~ "(a+)+$" }')}`);
  assert.equal(v.body.partial, true);
  assert.match(v.body.partialReason, /match limit/);
  assert.deepEqual(v.body.tagValues, []);
  const ok = await getJson(`${query.base}/api/v2/search/tag/name/values?q=${encodeURIComponent('{ name = "s7" }')}`);
  assert.deepEqual(ok.body.tagValues, [{ type: 'string', value: 's7' }]);
  assert.equal(ok.body.partial, undefined);
});

test('SIGTERM during a long search: the query service exits at once, cleanly', async () => {
  const q2 = await startQuery(data, ['--search-timeout=30m', '--search-threads=1', '--log-level=debug']);
  const pending = search(q2.base, slow).catch((e) => e);
  await eventually(() => /event=render_started/.test(q2.log), { timeoutMs: 20000 });
  // without cancellation the search would run for minutes and stop() would SIGKILL after 20 s
  assert.deepEqual(await q2.stop('SIGTERM', 20000), { code: 0, sig: null });
  await pending;
});

test('daemons exit cleanly', async () => {
  assert.deepEqual(await query.stop(), { code: 0, sig: null });
  assert.deepEqual(await collector.stop(), { code: 0, sig: null });
});

await run();
