// Comparing two runs (query/ui/compare.js): alignment by name path and rank, deltas, added/removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareRuns, keyed, previousRun } from '../../query/ui/compare.js';
import { buildTree } from '../../query/ui/model.js';

function run(spans, extra = {}) {
  const nodes = new Map(spans.map(([id, parent, name, start, end, tin = 0, tout = 0, status = 'OK']) =>
    [id, { id, parent, name, start, end, tin, tout, status, placeholder: false, ...extra[id] }]));
  return buildTree(nodes).roots;
}

test('nodes align by the names on their path and their rank among same-named siblings', () => {
  const roots = run([['r', null, 'wf', 0, 100], ['a', 'r', 'llm', 10, 20], ['b', 'r', 'llm', 30, 40], ['c', 'b', 'tool', 31, 32]]);
  assert.deepEqual(keyed(roots).map(([k]) => k), ['/wf#0', '/wf#0/llm#0', '/wf#0/llm#1', '/wf#0/llm#1/tool#0']);
});

test('a workflow node ID wins over the name: a renamed node is still the same node', () => {
  const A = run([['r', null, 'wf', 0, 100], ['a', 'r', 'summarise', 10, 20]]);
  const B = run([['r', null, 'wf', 0, 100], ['a', 'r', 'summarise v2', 10, 30]]);
  for (const roots of [A, B]) roots[0].children[0].nodeId = 'n-sum';
  const { rows } = compareRuns(A, B);
  assert.deepEqual(rows.map((r) => `${r.name}:${r.kind}`), ['wf:same', 'summarise v2:same']);
  assert.equal(rows[1].dDur, 10);
});

test('deltas, added and removed nodes, status changes and the summary', () => {
  const A = run([['r', null, 'workflow', 0, 1000], ['p', 'r', 'plan', 0, 100, 10, 5], ['s', 'r', 'search', 100, 300],
    ['x', 'r', 'answer', 300, 600, 100, 50]]);
  const B = run([['r', null, 'workflow', 0, 900], ['p', 'r', 'plan', 0, 150, 10, 5], ['k', 'r', 'rerank', 150, 200],
    ['x', 'r', 'answer', 300, 550, 120, 40, 'ERROR']]);
  const { rows, summary } = compareRuns(A, B);
  const by = Object.fromEntries(rows.map((r) => [r.name, r]));
  assert.deepEqual(rows.map((r) => `${r.name}:${r.kind}`), ['workflow:same', 'plan:same', 'search:removed', 'rerank:added', 'answer:same']);
  assert.equal(by.plan.dDur, 50);
  assert.equal(by.answer.dDur, -50);
  assert.equal(by.answer.dTok, 10);
  assert.equal(by.answer.statusChanged, true);
  assert.equal(by.workflow.dDur, -100);
  assert.equal(by.workflow.dTok, 10, 'the workflow has no tokens of its own: its subtree changed by 10');
  assert.equal(by.search.dTok, null, 'a removed node without tokens: no delta');
  assert.deepEqual([summary.added, summary.removed, summary.errA, summary.errB, summary.durA, summary.durB, summary.tokA, summary.tokB],
    [1, 1, 0, 1, 1000, 900, 165, 175]);
});

test('an LLM call is matched as the model call of its node: a model swap is a change, not a removal and an addition', () => {
  const shape = (model, tout, cost) => run([['r', null, 'workflow', 0, 1000], ['n', 'r', 'answer', 0, 900], ['c', 'n', `chat ${model}`, 10, 890, 1200, tout],
    ['t', 'n', 'tool', 100, 200], ['c2', 'n', 'chat gpt-4o-mini', 300, 400, 10, 5]],
  { n: { nodeId: 'n-answer' }, c: { model, cost }, c2: { model: 'gpt-4o-mini', cost: 0.001 } });
  const A = shape('gpt-4o-2024-08-06', 350, 0.0065), B = shape('claude-3-5-sonnet-20241022', 420, 0.0099);
  const { rows, summary } = compareRuns(A, B);
  assert.deepEqual(rows.map((r) => `${r.name}:${r.kind}`), ['workflow:same', 'answer:same', 'chat claude-3-5-sonnet-20241022:same',
    'tool:same', 'chat gpt-4o-mini:same']);
  const call = rows[2];
  assert.deepEqual([call.a.name, call.b.name, call.modelChanged], ['chat gpt-4o-2024-08-06', 'chat claude-3-5-sonnet-20241022', true]);
  assert.equal(rows[4].modelChanged, false, 'the second call kept its model');
  assert.deepEqual([summary.added, summary.removed, summary.changed], [0, 0, 1]);
  // subtree deltas: the node and the run have no tokens or cost of their own
  for (const r of rows.slice(0, 3)) assert.equal(r.dTok, 70, r.name);
  assert.ok(Math.abs(rows[1].dCost - 0.0034) < 1e-9 && Math.abs(rows[0].dCost - 0.0034) < 1e-9, `${rows[1].dCost}`);
  assert.equal(rows[3].dTok, 0);
});

test('a node only in one run: its subtree is the delta', () => {
  const A = run([['r', null, 'wf', 0, 100]]);
  const B = run([['r', null, 'wf', 0, 100], ['x', 'r', 'extra', 10, 20], ['y', 'x', 'chat', 11, 19, 30, 10]], { y: { model: 'm', cost: 0.5 } });
  const { rows } = compareRuns(A, B);
  assert.deepEqual(rows.map((r) => [r.name, r.kind, r.dTok, r.dCost]), [['wf', 'same', 40, 0.5], ['extra', 'added', 40, 0.5], ['chat', 'added', 40, 0.5]]);
  const back = compareRuns(B, A).rows;
  assert.deepEqual(back.map((r) => [r.name, r.kind, r.dTok]), [['wf', 'same', -40], ['extra', 'removed', -40], ['chat', 'removed', -40]]);
});

test('the previous run of a workflow', () => {
  const list = [{ execution_id: 'c', started_at: '2026-12-02T10:00:00Z' }, { execution_id: 'b', started_at: '2026-12-02T09:00:00Z' },
    { execution_id: 'a', started_at: '2026-12-02T08:00:00Z' }];
  assert.equal(previousRun(list, list[0]).execution_id, 'b');
  assert.equal(previousRun(list, list[2]), null);
});
