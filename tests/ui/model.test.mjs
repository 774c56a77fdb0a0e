// The Trace tab's model without a browser (query/ui/model.js, search.js, live.js's
// message folding, format.js): the same modules the page loads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTree, fromLive, fromSkeleton, tokenSource, totals, upsert, visibleRows } from '../../query/ui/model.js';
import { matchSpans } from '../../query/ui/search.js';
import { applyLiveMessage } from '../../query/ui/live.js';
import { fmtDur, fmtNum, ms } from '../../query/ui/format.js';

const iso = (msec) => new Date(msec).toISOString();
const skel = (id, parent, start, end, extra = {}) => ({ span_id: id, parent_span_id: parent, trace_id: 't', name: extra.name ?? `span ${id}`,
  start_time: iso(start), end_time: iso(end), status: extra.status ?? 'OK', kind: 'INTERNAL',
  tokens: { input: extra.tin ?? 0, output: extra.tout ?? 0 }, placeholder: extra.placeholder });
const live = (id, parent, start, end, extra = {}) => ({ span_id: id, parent_span_id: parent, trace_id: 't', name: extra.name ?? `span ${id}`,
  start_time: iso(start), end_time: iso(end), status: { code: extra.status ?? 'OK' }, kind: 'INTERNAL',
  token_usage: { input: extra.tin ?? 0, output: extra.tout ?? 0 },
  attributes: extra.placeholder ? { 'arbor.placeholder': true } : {} });

function load(spans) {
  const nodes = new Map();
  for (const s of spans) upsert(nodes, fromSkeleton(s));
  return nodes;
}

test('ms keeps the microseconds Date.parse drops', () => {
  assert.equal(ms('2026-01-01T00:00:00.001500Z') - ms('2026-01-01T00:00:00Z'), 1.5);
  assert.ok(Number.isNaN(ms(null)));
});

test('durations and counts read as people write them', () => {
  assert.equal(fmtDur(0.25), '250 µs');
  assert.equal(fmtDur(1500), '1.50 s');
  assert.equal(fmtDur(125000), '2m 5s');
  assert.equal(fmtNum(12345), '12.3k');
});

test('tree: siblings by start, depths, subtree tokens and errors', () => {
  const nodes = load([skel('r', null, 0, 100, { tin: 1 }), skel('b', 'r', 50, 60, { tin: 5, tout: 7, status: 'ERROR' }),
    skel('a', 'r', 10, 20, { tin: 2, tout: 3 }), skel('c', 'b', 55, 56, { tout: 1 })]);
  const { roots, t0, t1 } = buildTree(nodes);
  assert.deepEqual(roots.map((n) => n.id), ['r']);
  assert.deepEqual(nodes.get('r').children.map((n) => n.id), ['a', 'b']);
  assert.equal(nodes.get('c').depth, 2);
  assert.deepEqual([nodes.get('r').subIn, nodes.get('r').subOut, nodes.get('r').subErr], [8, 11, 1]);
  assert.deepEqual([t0, t1], [0, 100]);
  assert.deepEqual(totals(nodes), { spans: 4, errors: 1, tin: 8, tout: 11, cost: 0, priced: 0 });
});

test('a placeholder spans its children and never overwrites a real span', () => {
  const nodes = load([skel('p', null, 0, 0, { placeholder: true }), skel('x', 'p', 30, 40), skel('y', 'p', 10, 20)]);
  buildTree(nodes);
  assert.deepEqual([nodes.get('p').start, nodes.get('p').end], [10, 40]);
  upsert(nodes, fromSkeleton(skel('x', 'p', 0, 0, { placeholder: true })));
  assert.equal(nodes.get('x').placeholder, false);
  upsert(nodes, fromSkeleton(skel('p', null, 5, 50, { name: 'root' })));
  assert.equal(nodes.get('p').name, 'root');
  assert.equal(totals(nodes).spans, 3);
});

test('a chain 50,000 deep builds without recursion', () => {
  const spans = [skel('0', null, 0, 1)];
  for (let i = 1; i < 50000; i++) spans.push(skel(String(i), String(i - 1), i, i + 1));
  const nodes = load(spans);
  const { roots } = buildTree(nodes);
  assert.equal(visibleRows(nodes, roots).rows.length, 50000);
  assert.equal(nodes.get('49999').depth, 49999);
});

test('rows: collapse hides a subtree; a search opens the path to each match', () => {
  const nodes = load([skel('r', null, 0, 100), skel('a', 'r', 10, 20, { name: 'LLM call' }), skel('a1', 'a', 11, 12, { name: 'tool' }),
    skel('b', 'r', 30, 40, { name: 'store' })]);
  const { roots } = buildTree(nodes);
  const ids = (v) => v.rows.map((n) => n.id);
  assert.deepEqual(ids(visibleRows(nodes, roots)), ['r', 'a', 'a1', 'b']);
  assert.deepEqual(ids(visibleRows(nodes, roots, { collapsed: new Set(['a']) })), ['r', 'a', 'b']);
  const found = visibleRows(nodes, roots, { query: 'TOOL', collapsed: new Set(['r', 'a']) });
  assert.deepEqual(ids(found), ['r', 'a', 'a1', 'b'], 'collapsed ancestors of a match open');
  assert.deepEqual([...found.matches], ['a1']);
  assert.deepEqual(ids(visibleRows(nodes, roots, { query: 'tool', hide: true })), ['r', 'a', 'a1'], 'matches only keeps ancestors');
  assert.equal(visibleRows(nodes, roots, { query: 'tool' }).rowIndex.get('b'), 3);
});

test('search: names case-insensitively, IDs by prefix, ancestors kept', () => {
  const nodes = load([skel('abc1', null, 0, 10, { name: 'Root' }), skel('def2', 'abc1', 1, 2, { name: 'child' })]);
  assert.deepEqual([...matchSpans(nodes, 'ROOT').matches], ['abc1']);
  assert.deepEqual([...matchSpans(nodes, 'def').matches], ['def2']);
  assert.deepEqual([...matchSpans(nodes, 'def').keep].sort(), ['abc1', 'def2']);
  assert.equal(matchSpans(nodes, '').matches.size, 0);
  assert.equal(matchSpans(nodes, 'ef2').matches.size, 0, 'IDs match by prefix only');
  const found = matchSpans(nodes, 'gold', new Set(['def2']));
  assert.deepEqual([...found.matches], ['def2'], 'spans the server found the text in (attributes, events) match too');
  assert.deepEqual([...found.keep].sort(), ['abc1', 'def2'], 'with their ancestors kept');
  assert.equal(matchSpans(nodes, '', new Set(['def2'])).matches.size, 0, 'no query, no match');
});

test('live: messages fold into the model; a root or completion asks for the header again', () => {
  const view = { nodes: new Map(), seq: 5, meta: { status: 'unknown' }, complete: false };
  assert.equal(applyLiveMessage(view, { seq: 7, complete: false,
    spans: [live('c', 'p', 10, 20, { tin: 4 }), live('p', null, 10, 20, { placeholder: true })] }), false);
  assert.equal(view.seq, 7);
  assert.equal(view.meta.status, 'running', 'spans exist now');
  assert.equal(view.nodes.get('p').placeholder, true);
  assert.equal(applyLiveMessage(view, { seq: 6, complete: false, spans: [] }), false);
  assert.equal(view.seq, 7, 'the resume cursor never goes back');
  assert.equal(applyLiveMessage(view, { seq: 9, complete: false, spans: [live('p', null, 0, 30, { name: 'run' })] }), true, 'the root arrived');
  assert.equal(view.nodes.get('p').placeholder, false);
  assert.equal(fromLive(live('c', 'p', 10, 20, { tin: 4 })).tin, 4);
  assert.equal(applyLiveMessage(view, { seq: 9, complete: true, spans: [] }), true);
  assert.equal(view.complete, true);
  assert.equal(applyLiveMessage(view, { seq: 'f3.0.12', complete: true, spans: [] }), true);
  assert.equal(view.seq, 'f3.0.12', 'a federated cursor is taken as it comes');
  applyLiveMessage(view, { seq: 'f3.1.12', complete: true, spans: [] });
  assert.equal(view.seq, 'f3.1.12');
});

test('live: a span keeps the service its frame names (the bar\'s colour), or the one it had', () => {
  const view = { nodes: new Map(), seq: 0, meta: null, complete: false };
  applyLiveMessage(view, { seq: 1, complete: false, spans: [{ ...live('a', null, 0, 10), service: 'payments' }] });
  assert.equal(view.nodes.get('a').service, 'payments', 'a span that arrived live is drawn as after a reload');
  upsert(view.nodes, fromSkeleton({ ...skel('b', 'a', 1, 2), service: 'tools' }));
  applyLiveMessage(view, { seq: 2, complete: false, spans: [live('b', 'a', 1, 3)] });
  assert.equal(view.nodes.get('b').service, 'tools', 'a frame without one keeps what was held');
});

test('a placeholder whose parent is unknown hangs under its trace\'s root, not beside it', () => {
  // live: node-0 came under the missing root (placeholder R); then an LLM call
  // came under node-1, itself missing (placeholder N1, parent unknown)
  const view = { nodes: new Map(), seq: 0, meta: null, complete: false };
  applyLiveMessage(view, { seq: 1, complete: false, spans: [live('R', null, 0, 10, { placeholder: true }), live('n0', 'R', 0, 10)] });
  applyLiveMessage(view, { seq: 2, complete: false, spans: [live('N1', null, 20, 30, { placeholder: true }), live('l1', 'N1', 20, 30)] });
  let { roots } = buildTree(view.nodes);
  assert.deepEqual(roots.map((n) => n.id), ['R'], 'one tree');
  assert.deepEqual(view.nodes.get('R').children.map((n) => n.id), ['n0', 'N1']);
  assert.deepEqual(['R', 'n0', 'N1', 'l1'].map((id) => view.nodes.get(id).depth), [0, 1, 1, 2]);
  assert.equal(view.nodes.get('N1').adoptedBy, 'R', 'marked: its parent is not known yet');
  assert.deepEqual([view.nodes.get('R').start, view.nodes.get('R').end], [0, 30], 'the root placeholder spans it too');
  // node-1 arrives: a child of the root like any other
  applyLiveMessage(view, { seq: 3, complete: false, spans: [live('N1', 'R', 19, 31, { name: 'node-1' })] });
  ({ roots } = buildTree(view.nodes));
  assert.deepEqual(roots.map((n) => n.id), ['R']);
  assert.equal(view.nodes.get('N1').adoptedBy, undefined);
  // a real root takes orphans in; another trace's root stays its own
  const nodes = load([skel('r', null, 5, 50), skel('p', null, 0, 0, { placeholder: true }), skel('x', 'p', 10, 20)]);
  upsert(nodes, { ...fromSkeleton(skel('o', null, 0, 100)), trace: 'other' });
  ({ roots } = buildTree(nodes));
  assert.deepEqual(roots.map((n) => n.id).sort(), ['o', 'r']);
  assert.deepEqual(nodes.get('r').children.map((n) => n.id), ['p']);
  assert.equal(nodes.get('x').depth, 2);
  assert.equal(visibleRows(nodes, roots).rows.length, 4);
});

test('token source: the generated conventions table, first pair wins as in the collector', async () => {
  // genai.js is generated into the build tree from proto/genai_conventions.json
  const { default: genai } = await import(process.env.ARBOR_GENAI_JS);
  const pairs = genai.tokenPairs;
  assert.deepEqual(pairs[0], ['orcheo.token.input', 'orcheo.token.output']);
  assert.deepEqual(tokenSource({ 'llm.token_count.prompt': 3, 'orcheo.token.output': '5' }, pairs), pairs[0]);
  assert.deepEqual(tokenSource({ 'gen_ai.usage.output_tokens': 9 }, pairs), ['gen_ai.usage.input_tokens', 'gen_ai.usage.output_tokens']);
  assert.equal(tokenSource({ 'orcheo.token.input': 'many' }, pairs), null, 'not a number');
  assert.equal(tokenSource(undefined, pairs), null);
  assert.ok(genai.contentKeys.includes('gen_ai.input.messages') && genai.contentEvents.includes('prompt'));
});
