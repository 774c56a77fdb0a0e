// The search page's pure part (query/ui/findquery.js): URL <-> state, the
// TraceQL the filters mean, the Tempo search URL, the ID box, sorting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readState, writeState, traceql, searchUrl, errorColumn, jumpTarget, rows, literal, attrRef, hasCriteria } from '../../query/ui/findquery.js';

test('state survives the URL, attributes and sort included', () => {
  const s = readState(new URLSearchParams('service=checkout&status=error&attr=customer.tier%3Dgold&attr=span.retries%3D3&since=1h&sort=duration&asc=1&page=2'));
  assert.equal(s.service, 'checkout');
  assert.deepEqual(s.attrs, [{ key: 'customer.tier', value: 'gold' }, { key: 'span.retries', value: '3' }]);
  assert.equal(s.desc, false);
  assert.equal(s.page, 2);
  assert.deepEqual(readState(new URLSearchParams(writeState(s))), s);
  assert.equal(hasCriteria(readState(new URLSearchParams(''))), false);
  assert.equal(hasCriteria(s), true);
});

test('filters become one TraceQL spanset; the TraceQL box wins', () => {
  const s = readState(new URLSearchParams('service=checkout&name=GET%20/cart&status=error&attr=customer.tier%3Dgold&attr=span.retries%3D3&attr=flag%3Dtrue'));
  assert.equal(traceql(s), '{ resource.service.name = "checkout" && name = "GET /cart" && status = error && .customer.tier = "gold" && span.retries = 3 && .flag = true }');
  assert.equal(traceql(readState(new URLSearchParams(''))), '{}');
  assert.equal(traceql(readState(new URLSearchParams('service=x&q=%7B%20duration%20%3E%201s%20%7D'))), '{ duration > 1s }');
  assert.equal(literal('say "hi" \\ now'), '"say \\"hi\\" \\\\ now"', 'quotes and backslashes escaped');
  assert.equal(attrRef('resource.k8s.pod'), 'resource.k8s.pod');
  assert.equal(attrRef('my key'), '."my key"');
});

test('the Tempo search URL: relative and absolute windows, durations, limit', () => {
  const now = Date.UTC(2026, 11, 2, 12, 0, 0);
  const rel = new URL(searchUrl(readState(new URLSearchParams('since=1h&min=100ms&max=2s&limit=50')), now), 'http://x');
  assert.equal(rel.pathname, '/api/search');
  assert.equal(rel.searchParams.get('end') - rel.searchParams.get('start'), 3600);
  assert.equal(rel.searchParams.get('minDuration'), '100ms');
  assert.equal(rel.searchParams.get('maxDuration'), '2s');
  assert.equal(rel.searchParams.get('limit'), '50');
  const abs = new URL(searchUrl(readState(new URLSearchParams('from=2026-12-01T00:00Z&to=2026-12-02T00:00Z')), now), 'http://x');
  assert.equal(abs.searchParams.get('end') - abs.searchParams.get('start'), 86400);
});

test('the ID box, the error column, and sorted rows', () => {
  assert.equal(jumpTarget('  0AF7651916CD43DD8448EB211C80319C '), 'trace=0af7651916cd43dd8448eb211c80319c');
  assert.equal(jumpTarget('af7651916cd43dd8'), 'trace=0000000000000000af7651916cd43dd8');
  assert.equal(jumpTarget('run 42'), 'execution=run%2042');
  assert.equal(jumpTarget(''), null);
  assert.equal(errorColumn('400 parse error at line 1 col 12: expected a value'), 12);
  assert.equal(errorColumn('500 boom'), 0);
  const answer = { traces: [
    { traceID: 'a1', rootServiceName: 's', rootTraceName: 'r1', startTimeUnixNano: '2000000000', durationMs: 5, spanSet: { matched: 1 } },
    { traceID: 'b2', rootServiceName: 's', rootTraceName: 'r2', startTimeUnixNano: '1000000000', durationMs: 9, spanSet: { matched: 3 } }] };
  assert.deepEqual(rows(answer, 'start', true).map((r) => r.root), ['r1', 'r2']);
  assert.deepEqual(rows(answer, 'duration', true).map((r) => r.root), ['r2', 'r1']);
  assert.deepEqual(rows(answer, 'matched', false).map((r) => r.matched), [1, 3]);
  assert.equal(rows(answer, 'start', true)[0].id, '000000000000000000000000000000a1');
});
