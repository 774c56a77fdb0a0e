// The waterfall's arithmetic (query/ui/waterfall.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { niceTicks, criticalPath, criticalOutline, idleGaps, zoomAround } from '../../query/ui/waterfall.js';
import { buildTree } from '../../query/ui/model.js';

test('ticks: a 1-2-5 step, never closer than the minimum gap, at any width', () => {
  for (const [span, width] of [[60000, 1440], [60000, 300], [8, 800], [123456, 1000], [0.5, 500]]) {
    const t = niceTicks(1000, 1000 + span, width, 1000);
    assert.ok(t.length >= 1, `${span} over ${width}`);
    const step = t.length > 1 ? t[1].at - t[0].at : span;
    assert.ok(step / span * width >= 90 - 1e-6 || t.length === 1, `ticks ${(step / span * width).toFixed(1)} px apart`);
    assert.match(String(+(step / 10 ** Math.floor(Math.log10(step))).toFixed(6)), /^(1|2|5)$/, `step ${step}`);
    assert.ok(t.every((x) => x.frac >= -1e-9 && x.frac <= 1 + 1e-9));
  }
  const zoomed = niceTicks(1500, 1700, 800, 1000);
  assert.ok(zoomed[0].offset >= 500 && zoomed.at(-1).offset <= 700, 'labels are times from the trace start');
});

test('critical path: the chain that decided the end, not every long span', () => {
  const n = (id, parent, start, end) => ({ id, parent, name: id, start, end, status: 'OK', tin: 0, tout: 0, placeholder: false });
  // root 0-100: a 0-40 (with a1 5-38), b 10-30 (overlaps a, ends earlier), c 45-95 (c1 50-60, c2 60-90), d 96-99? no: d 20-99 ends last
  const nodes = new Map([['root', n('root', null, 0, 100)], ['a', n('a', 'root', 0, 40)], ['a1', n('a1', 'a', 5, 38)],
    ['b', n('b', 'root', 10, 30)], ['c', n('c', 'root', 45, 95)], ['c1', n('c1', 'c', 50, 60)], ['c2', n('c2', 'c', 60, 90)]]);
  const { roots } = buildTree(nodes);
  assert.deepEqual([...criticalPath(roots)].sort(), ['a', 'a1', 'c', 'c1', 'c2', 'root'].sort(), 'b ran beside a, so it is not on the path');
});

test('the critical path is outlined only when it is not every span', () => {
  const n = (id, parent, start, end, placeholder = false) => ({ id, parent, name: id, start, end, status: 'OK', tin: 0, tout: 0, placeholder });
  const sequential = new Map([['r', n('r', null, 0, 100)], ['a', n('a', 'r', 0, 30)], ['b', n('b', 'r', 30, 70)], ['c', n('c', 'r', 75, 100)]]);
  let { roots } = buildTree(sequential);
  assert.equal(criticalPath(roots).size, 4, 'one step after the other: all of them decided the end');
  assert.deepEqual(criticalOutline(criticalPath(roots), sequential), { outline: new Set(), everySpan: true });
  sequential.set('side', n('side', 'r', 40, 50));
  ({ roots } = buildTree(sequential));
  assert.deepEqual(criticalOutline(criticalPath(roots), sequential), { outline: new Set(['r', 'a', 'b', 'c']), everySpan: false }, 'a span beside b: the path means something');
  const live = new Map([['p', n('p', null, 0, 50, true)], ['x', n('x', 'p', 0, 20)], ['y', n('y', 'p', 20, 50)]]);
  ({ roots } = buildTree(live));
  assert.deepEqual(criticalOutline(criticalPath(roots), live), { outline: new Set(), everySpan: true }, 'a placeholder is not a span');
  assert.deepEqual(criticalOutline(new Set(), new Map()), { outline: new Set(), everySpan: false }, 'no spans: nothing to say');
});

test('idle gaps and zoom', () => {
  const nodes = new Map([['x', { id: 'x', start: 0, end: 10 }], ['y', { id: 'y', start: 5, end: 20 }], ['z', { id: 'z', start: 60, end: 100 }],
    ['p', { id: 'p', start: 20, end: 60, placeholder: true }]]);
  assert.deepEqual(idleGaps(nodes, 0, 100), [[20, 60]]);
  const withRoot = new Map([['r', { id: 'r', start: 0, end: 100 }], ['k1', { id: 'k1', parent: 'r', start: 0, end: 30 }],
    ['k2', { id: 'k2', parent: 'r', start: 70, end: 100 }]]);
  assert.deepEqual(idleGaps(withRoot, 0, 100), [[30, 70]], 'the root runs throughout: its children tell the idle time');
  assert.deepEqual(idleGaps(nodes, 0, 100, 0.5), [], 'smaller than the threshold');
  const v = zoomAround({ a: 0, b: 100 }, 0, 100, 0.5, 0.5);
  assert.deepEqual(v, { a: 25, b: 75 });
  assert.deepEqual(zoomAround(v, 0, 100, 0, 4), { a: 0, b: 100 }, 'zooming out stops at the trace');
  assert.deepEqual(zoomAround({ a: 90, b: 100 }, 0, 100, 1, 0.5), { a: 95, b: 100 });
});
