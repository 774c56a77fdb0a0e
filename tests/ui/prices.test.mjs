// Token prices applied to spans (query/ui/prices.js) and the subtree rollup (model.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globTest, compile, costOf, priceNodes, fmtCost } from '../../query/ui/prices.js';
import { buildTree, totals } from '../../query/ui/model.js';

const table = compile({ currency: 'USD', prices: [{ model: 'gpt-4o-mini*', input: 0.15, output: 0.6 },
  { model: 'gpt-4o*', input: 2.5, output: 10 }, { model: 'claude-?-haiku', input: 0.8, output: 4 }] });

test('globs match whole names, case-insensitively; the first rule wins', () => {
  assert.ok(globTest('gpt-4o*')('GPT-4o-2024-08-06'));
  assert.ok(!globTest('gpt-4o')('gpt-4o-mini'));
  assert.ok(globTest('a.b?')('a.bc') && !globTest('a.b?')('aXbc'), 'dots are literal, ? is one character');
  assert.equal(costOf(table, 'gpt-4o-mini-2024', 1e6, 1e6), 0.75, 'the specific rule first');
  assert.equal(costOf(table, 'gpt-4o-2024', 1000, 500), (1000 * 2.5 + 500 * 10) / 1e6);
  assert.equal(costOf(table, 'claude-3-haiku', 2e6, 0), 1.6);
  assert.equal(costOf(table, 'unknown-model', 10, 10), null);
  assert.equal(costOf(table, null, 10, 10), null);
  assert.equal(costOf(null, 'gpt-4o', 10, 10), null);
});

test('costs roll up the tree and into the totals; placeholders and unpriced spans add nothing', () => {
  const node = (id, parent, model, tin, tout) => ({ id, parent, name: id, start: 0, end: 1, status: 'OK', tin, tout, model, placeholder: false });
  const nodes = new Map([['r', node('r', null, null, 0, 0)], ['a', node('a', 'r', 'gpt-4o', 1000, 500)],
    ['b', node('b', 'r', 'gpt-4o-mini', 2000, 1000)], ['c', node('c', 'a', 'mystery', 50, 50)]]);
  priceNodes(nodes, table);
  const { roots } = buildTree(nodes);
  const a = 0.0075, b = (2000 * 0.15 + 1000 * 0.6) / 1e6;
  assert.equal(roots[0].subCost, a + b);
  assert.equal(nodes.get('a').subCost, a);
  assert.equal(nodes.get('c').cost, null);
  const t = totals(nodes);
  assert.equal(t.cost, a + b);
  assert.equal(t.priced, 2);
  assert.equal(fmtCost(0.0075), '$0.00750');
  assert.equal(fmtCost(12.345), '$12.35');
  assert.equal(fmtCost(3, 'CHF'), '3.00 CHF');
});
