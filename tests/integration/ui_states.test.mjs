// What a new user met in the Trace tab (issue 22, items 24-29), in headless Debian
// Chromium, counted the way a person sees the page: visible text, bounding boxes
// and computed styles, not DOM nodes. Screenshots at 1440 and 800 px go to tests/out/;
// no console error may occur but the ones a case expects (a 404 it asked for).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, setup, run, tempDir, startCollector, startQuery, span, postSpans, hex, launchChromium } from './lib.mjs';
import { serviceColour } from '../../query/ui/model.js';

const shots = new URL('../out/', import.meta.url).pathname;
mkdirSync(shots, { recursive: true });
let collector, query, browser, page;
const problems = [];
const ms = 1_000_000n, NOW = BigInt(Date.now()) * ms;
const SEQ = hex(0x5e9, 32), PAR = hex(0x9a4, 32), SOLO = hex(0x501, 32);

// One run of a support workflow: three nodes (orcheo.node.id), the answer's LLM
// call on @p model; B is slower and writes more.
function supportRun(trace, exec, t, model, slow) {
  const root = trace * 256;
  const spans = [span({ trace, id: root, name: 'workflow.execution', start: t, end: t + (slow ? 2600n : 2150n) * ms,
    attrs: { 'orcheo.execution.id': exec, 'orcheo.workflow.id': 'wf-support' } })];
  const nodes = [['classify', 'n-classify', 0, 300], ['retrieve', 'n-retrieve', 300, 900], ['answer', 'n-answer', 900, slow ? 2500 : 2100]];
  nodes.forEach(([name, node, a, b], i) => {
    const id = root + 16 * (i + 1);
    const at = (x, y) => ({ start: t + BigInt(x) * ms, end: t + BigInt(y) * ms });
    spans.push(span({ trace, id, parent: root, name, ...at(a, b), attrs: { 'orcheo.node.id': node } }));
    if (name === 'retrieve') {
      spans.push(span({ trace, id: id + 1, parent: id, name: 'vector search', ...at(a + 10, a + 400) }));
      spans.push(span({ trace, id: id + 2, parent: id, name: 'rerank', ...at(a + 100, a + 580) }));
      return;
    }
    const m = name === 'answer' ? model : 'gpt-4o-mini';
    spans.push(span({ trace, id: id + 1, parent: id, name: `chat ${m}`, ...at(a + 20, b - 20), attrs: { 'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': m, 'gen_ai.usage.input_tokens': name === 'answer' ? 1200 : 300,
      'gen_ai.usage.output_tokens': name === 'answer' ? (slow ? 420 : 350) : 20 } }));
  });
  return spans;
}

setup('two runs of a workflow, a sequential and a parallel trace, a priced query service, Chromium', async () => {
  const data = tempDir();
  collector = await startCollector(data);
  const prices = path.join(tempDir(), 'prices');
  writeFileSync(prices, 'currency USD\ngpt-4o-mini* 0.15 0.60\ngpt-4o* 2.50 10.00\nclaude-3-5-sonnet* 3.00 15.00\n');
  query = await startQuery(data, ['--live-quiet=300ms'], { env: { ARBOR_PRICES: prices } });
  await postSpans(collector.url, supportRun(0xa1, 'exec-support-a', NOW - 120_000n * ms, 'gpt-4o-2024-08-06', false), { 'service.name': 'orcheo-backend' });
  await postSpans(collector.url, supportRun(0xb1, 'exec-support-b', NOW - 60_000n * ms, 'claude-3-5-sonnet-20241022', true), { 'service.name': 'orcheo-backend' });
  // an execution without a workflow ID
  await postSpans(collector.url, [span({ trace: SOLO, id: 0x51, name: 'one-off', start: NOW - 50_000n * ms, end: NOW - 49_000n * ms,
    attrs: { 'orcheo.execution.id': 'exec-no-workflow' } })], { 'service.name': 'scripts' });
  const T = NOW - 30_000n * ms, at = (a, b) => ({ start: T + BigInt(a) * ms, end: T + BigInt(b) * ms });
  // one step after the other: every span is on the critical path
  await postSpans(collector.url, [span({ trace: SEQ, id: 1, name: 'pipeline', ...at(0, 1000) }),
    span({ trace: SEQ, id: 2, parent: 1, name: 'load', ...at(0, 300) }), span({ trace: SEQ, id: 3, parent: 1, name: 'transform', ...at(300, 700) }),
    span({ trace: SEQ, id: 4, parent: 1, name: 'store', ...at(750, 1000), attrs: { 'orcheo.node.id': 'n-store', 'db.system': 'postgresql',
      'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.usage.input_tokens': 4000, 'gen_ai.usage.output_tokens': 900 } })], { 'service.name': 'etl' });
  // a lookup beside the plan, and a wait: a critical path that is not every span, and an idle gap
  await postSpans(collector.url, [span({ trace: PAR, id: 0x10, name: 'run', ...at(0, 1000) }),
    span({ trace: PAR, id: 0x11, parent: 0x10, name: 'plan', ...at(0, 400) }),
    span({ trace: PAR, id: 0x13, parent: 0x10, name: 'side-lookup', ...at(100, 300) }),
    span({ trace: PAR, id: 0x14, parent: 0x10, name: 'act', ...at(600, 990) })], { 'service.name': 'agent' });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
});

// Screenshots of the current screen at 1440 and 800 px.
async function shoot(name, { full = false } = {}) {
  await page.screenshot({ path: `${shots}${name}-1440.png`, fullPage: full });
  await page.setViewportSize({ width: 800, height: 900 });
  await page.screenshot({ path: `${shots}${name}-800.png`, fullPage: full });
  await page.setViewportSize({ width: 1440, height: 900 });
}

// A console error a case asked for (Chromium logs every 4xx it fetched), taken off the list.
function expectProblem(re) {
  const i = problems.findIndex((p) => re.test(p));
  assert.ok(i >= 0, `expected a console error ${re}: ${problems}`);
  problems.splice(i, 1);
}

test('24: the run header never shows "null": a trace view, an execution without a workflow', async () => {
  for (const where of [`/?trace=${SEQ}`, '/?execution=exec-no-workflow', '/?execution=exec-support-a']) {
    await page.goto(`${query.base}${where}`);
    await page.waitForSelector('.theader [data-testid=span-count]');
    const text = await page.locator('.theader').innerText();
    assert.doesNotMatch(text, /\bnull\b|\bundefined\b/, `${where}: ${text}`);
  }
  assert.equal(await page.locator('.theader button.compare-prev').isVisible(), true, 'a run of a workflow can be compared');
  await page.goto(`${query.base}/?execution=exec-no-workflow`);
  await page.waitForSelector('.theader [data-testid=span-count]');
  assert.equal(await page.locator('.theader button.compare-prev').count(), 0);
  await shoot('states-header-no-workflow');
});

// What a person sees of the trace view: the visible message in the grid's place,
// the header's badge, and whether the empty grid and a "Loading…" are still on screen.
const traceState = () => page.evaluate(() => {
  const shown = (sel) => [...document.querySelectorAll(sel)].filter((e) => e.checkVisibility() && e.getBoundingClientRect().height > 0);
  return { message: shown('.empty-state').map((e) => e.innerText).join(' '), badge: shown('.theader .badge').map((e) => e.innerText).join(' '),
    loading: shown('.theader, .viewport').some((e) => /Loading/.test(e.innerText)), grid: shown('.ghead').length, toolbar: shown('.toolbar').length,
    boxes: shown('.error-box').map((e) => e.innerText), header: document.querySelector('.theader').innerText };
});

test('27: loading, then an unknown trace ID says "not found" where the spans would be; a malformed one says why', async () => {
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route('**/api/traces/*/tree?*', async (route) => { await held; await route.continue(); });
  await page.goto(`${query.base}/?trace=${SEQ}`);
  await page.waitForFunction(() => document.querySelector('.empty-state')?.checkVisibility());
  let s = await traceState();
  assert.ok(s.loading, 'loading is said while the spans come');
  assert.match(s.message, /Loading/);
  await shoot('states-trace-loading');
  release();
  await page.waitForSelector('.row[data-id]');
  await page.unroute('**/api/traces/*/tree?*');
  s = await traceState();
  assert.equal(s.message, '', 'no message over the spans');
  assert.equal(s.loading, false);

  const UNKNOWN = '0123456789abcdef0123456789abcdef';
  await page.goto(`${query.base}/?trace=${UNKNOWN}`);
  await page.waitForFunction(() => /not found/i.test(document.querySelector('.theader')?.innerText));
  s = await traceState();
  assert.match(s.message, new RegExp(`No trace ${UNKNOWN}`), JSON.stringify(s));
  assert.equal(s.badge, 'not found');
  assert.equal(s.loading, false, 'not "Loading…" forever');
  assert.deepEqual([s.grid, s.toolbar, s.boxes], [0, 0, []], 'no empty grid, no box at the bottom');
  assert.doesNotMatch(s.header, /null|undefined/);
  expectProblem(/status of 404/);
  await shoot('states-trace-not-found');

  await page.goto(`${query.base}/?trace=nope`);
  await page.waitForFunction(() => /could not load/i.test(document.querySelector('.theader')?.innerText));
  s = await traceState();
  assert.match(s.message, /trace ID must be 32 hex characters/);
  assert.equal(s.badge, 'error');
  assert.deepEqual([s.loading, s.grid, s.boxes], [false, 0, []]);
  assert.doesNotMatch(s.header, /null|undefined/);
  expectProblem(/status of 400/);
  await shoot('states-trace-bad-id');
});

// Per visible row: how wide its name is drawn and how wide it would be whole, and
// every money figure ($…) that is cut off by the box that clips it.
const costLayout = () => page.evaluate(() => [...document.querySelectorAll('.row')].filter((r) => r.checkVisibility()).map((r) => {
  const name = r.querySelector('.name');
  const clipped = [];
  const walk = document.createTreeWalker(r, NodeFilter.SHOW_TEXT);
  for (let t = walk.nextNode(); t; t = walk.nextNode()) {
    if (!t.data.includes('$') || !t.parentElement.checkVisibility()) continue;
    const range = document.createRange();
    range.selectNodeContents(t);
    const box = range.getBoundingClientRect();
    for (let el = t.parentElement; el && el !== r; el = el.parentElement) {
      const clip = el.getBoundingClientRect();
      if (getComputedStyle(el).overflowX !== 'visible' && (box.right > clip.right + 1 || box.left < clip.left - 1)) clipped.push(t.data);
    }
  }
  return { name: name.textContent, shown: name.getBoundingClientRect().width, whole: name.scrollWidth, clipped };
}));

test('25: with Cost on, span names keep their room and no cost is cut, at 1440 px with and without the detail panel', async () => {
  await page.goto(`${query.base}/?execution=exec-support-b`);
  await page.waitForSelector('.row[data-id]');
  await page.check('.toolbar .cost-toggle');
  await page.waitForFunction(() => location.search.includes('cost=1'));
  await page.waitForFunction(() => [...document.querySelectorAll('.row')].some((r) => r.checkVisibility() && /\$0\.0/.test(r.innerText)));
  const check = async (when) => {
    const rows = await costLayout();
    assert.equal(rows.length, 8, when);
    for (const r of rows) {
      assert.ok(r.shown >= Math.min(r.whole, 140) - 1, `${when}: "${r.name}" drawn ${r.shown} of ${r.whole} px`);
      assert.deepEqual(r.clipped, [], `${when}: "${r.name}": a cost is cut off`);
    }
    const money = await page.evaluate(() => [...document.querySelectorAll('.row')].filter((r) => r.checkVisibility()).map((r) => r.innerText).join(' '));
    assert.match(money, /claude-3-5-sonnet-20241022|claude-3-5-sonnet/, 'the model is named');
    assert.match(money, /\$0\.00990/, 'the LLM call\'s cost in full');
  };
  await check('no detail');
  await shoot('states-cost-no-detail');
  await page.locator('.row', { hasText: 'chat claude' }).click();
  await page.waitForSelector('.detail:not(.hidden) table.attrs, .detail:not(.hidden) .attrs');
  await check('detail open');
  await shoot('states-cost');
});

test('29: the disabled "Compare selected" looks disabled until two runs are picked', async () => {
  await page.goto(`${query.base}/`);
  await page.waitForSelector('input.pick');
  const look = () => page.$eval('button.compare-selected', (b) => ({ disabled: b.disabled, opacity: Number(getComputedStyle(b).opacity), cursor: getComputedStyle(b).cursor }));
  const refresh = await page.$eval('.list .toolbar button:not(.compare-selected)', (b) => Number(getComputedStyle(b).opacity));
  let b = await look();
  assert.equal(b.disabled, true);
  assert.ok(b.opacity <= 0.6 && refresh === 1, `dimmed (${b.opacity}) beside an enabled button (${refresh})`);
  assert.equal(b.cursor, 'not-allowed');
  await page.check('input.pick[value="exec-support-a"]');
  await page.check('input.pick[value="exec-support-b"]');
  b = await look();
  assert.deepEqual([b.disabled, b.opacity, b.cursor], [false, 1, 'pointer']);
  await page.uncheck('input.pick[value="exec-support-b"]');
  await shoot('states-list-compare-disabled');
});

test('29: attribute keys in the detail panel are never squeezed: each short key on one line', async () => {
  await page.goto(`${query.base}/?trace=${SEQ}&span=${hex(4, 16)}`);
  await page.waitForFunction(() => document.querySelectorAll('.detail .attrs').length >= 2);
  const keys = await page.$$eval('.detail .attrs td:first-child, .detail .attrs dt', (cells) => cells.filter((c) => c.checkVisibility()).map((c) => {
    const range = document.createRange();
    range.selectNodeContents(c);
    const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
    return { key: c.textContent, lines: lines.size, width: c.getBoundingClientRect().width, panel: document.querySelector('.detail').clientWidth };
  }));
  assert.deepEqual(keys.map((k) => k.key).sort(), ['db.system', 'gen_ai.request.model', 'gen_ai.usage.input_tokens', 'gen_ai.usage.output_tokens',
    'orcheo.node.id', 'service.name'].sort());
  for (const k of keys) assert.equal(k.lines, 1, `${k.key} on ${k.lines} lines (${k.width} px of a ${k.panel} px panel)`);
  await shoot('states-detail-keys');
});

test('29: "?" lists every key, 0 and the zoom gestures included', async () => {
  await page.goto(`${query.base}/?trace=${PAR}`);
  await page.waitForSelector('.row[data-id]');
  await page.keyboard.press('?');
  const help = page.locator('.help');
  await help.waitFor();
  const rows = await help.locator('tr').evaluateAll((trs) => trs.filter((t) => t.checkVisibility()).map((t) => t.innerText.replace(/\s+/g, ' ').trim()));
  assert.ok(rows.some((r) => /^0 .*(whole trace|reset)/i.test(r)), `0: ${rows.join(' | ')}`);
  for (const gesture of [/drag .*axis/i, /wheel/i, /ctrl.*wheel/i, /minimap/i])
    assert.ok(rows.some((r) => gesture.test(r)), `${gesture}: ${rows.join(' | ')}`);
  await shoot('states-help');
  await page.keyboard.press('Escape');
  assert.equal(await help.count(), 0);
});

// Bars drawn with an outline (the critical path), by span name.
const outlined = () => page.$$eval('.row', (rows) => rows.filter((r) => r.checkVisibility() && getComputedStyle(r.querySelector('.bar')).boxShadow !== 'none')
  .map((r) => r.querySelector('.name').textContent).sort());

test('29: the outline and the hatching have a legend; a run with nothing in parallel outlines nothing', async () => {
  await page.goto(`${query.base}/?trace=${PAR}`);
  await page.waitForSelector('.row[data-id]');
  assert.deepEqual(await outlined(), ['act', 'plan', 'run'], 'side-lookup ran beside plan');
  const legend = async () => page.$$eval('.legend > *', (items) => items.filter((i) => i.checkVisibility() && i.getBoundingClientRect().width > 0)
    .map((i) => i.innerText.trim()));
  let items = await legend();
  assert.ok(items.some((t) => /^critical path/i.test(t)), `legend: ${items}`);
  assert.ok(items.some((t) => /^idle/i.test(t)), `legend: ${items}`);
  const swatch = await page.$eval('.legend .key-crit i', (i) => getComputedStyle(i).boxShadow);
  assert.equal(swatch, await page.$eval('.row .bar.crit', (b) => getComputedStyle(b).boxShadow), 'the swatch is the outline the bars wear');
  await shoot('states-legend-parallel');
  await page.goto(`${query.base}/?trace=${SEQ}`);
  await page.waitForSelector('.row[data-id]');
  assert.deepEqual(await outlined(), [], 'every span is on the path: an outline on all would say nothing');
  items = await legend();
  assert.ok(items.some((t) => /every span is on the critical path/i.test(t)), `legend: ${items}`);
  await shoot('states-legend-sequential');
});

test('26: spans that arrive live look as after a reload (service colour and tooltip); a second placeholder hangs under the first', async () => {
  const SVC = 'billing-svc', want = serviceColour(SVC);
  assert.notEqual(want, '#4c78c2', 'a service whose colour is not the default bar\'s');
  const rgb = `rgb(${[1, 3, 5].map((i) => parseInt(want.slice(i, i + 2), 16)).join(', ')})`;
  await page.goto(`${query.base}/?execution=exec-live-colour`);
  await page.waitForSelector('.theader .badge.live');
  const LT = 0x1c0, T = NOW - 5_000n * ms, at = (a, b) => ({ start: T + BigInt(a) * ms, end: T + BigInt(b) * ms });
  const exec = { 'execution.id': 'exec-live-colour' };
  // node-0 came (its root, 1, is running); then an LLM call of node-1 (3), itself still running
  await postSpans(collector.url, [span({ trace: LT, id: 2, parent: 1, name: 'node-0', ...at(0, 100), attrs: exec })], { 'service.name': SVC });
  await page.waitForFunction(() => document.querySelector('[data-testid=span-count]')?.textContent === '1');
  await postSpans(collector.url, [span({ trace: LT, id: 4, parent: 3, name: 'chat gpt-4o', ...at(150, 250), attrs: exec })], { 'service.name': SVC });
  await page.waitForFunction(() => document.querySelector('[data-testid=span-count]')?.textContent === '2');
  const rows = () => page.$$eval('.row', (rs) => rs.filter((r) => r.checkVisibility()).map((r) => {
    const bar = r.querySelector('.bar');
    return { name: r.querySelector('.name').textContent, level: r.getAttribute('aria-level'), placeholder: r.classList.contains('placeholder'),
      colour: getComputedStyle(bar).backgroundColor, tip: bar.title };
  }));
  const live = await rows();
  assert.deepEqual(live.map((r) => `${r.level}:${r.placeholder ? 'ph' : r.name}`), ['1:ph', '2:node-0', '2:ph', '3:chat gpt-4o'],
    'one root: the missing node hangs under the missing root');
  for (const r of live.filter((x) => !x.placeholder)) {
    assert.equal(r.colour, rgb, `${r.name} in ${SVC}'s colour while live`);
    assert.equal(r.tip, `${SVC}: ${r.name}`);
  }
  await shoot('states-live-placeholders');
  await page.reload();
  await page.waitForFunction(() => document.querySelector('[data-testid=span-count]')?.textContent === '2');
  assert.deepEqual((await rows()).filter((r) => !r.placeholder), live.filter((r) => !r.placeholder), 'a reload draws the same');
});

// The compare page's visible rows: each side's name, duration and bar width, the deltas, what changed.
const compareRows = () => page.$$eval('table.cmp tbody tr', (trs) => trs.filter((tr) => tr.checkVisibility()).map((tr) => {
  const cell = (c) => tr.querySelector(`td.${c}`);
  const text = (c) => (cell(c) && cell(c).checkVisibility() ? cell(c).innerText.trim() : '');
  const bar = (c) => { const b = cell(c)?.querySelector('.cmp-bar'); return b && b.checkVisibility() ? b.getBoundingClientRect().width : 0; };
  return { kind: tr.dataset.kind, aName: text('a-name'), bName: text('b-name'), aDur: text('a-dur'), bDur: text('b-dur'), aBar: bar('a-bar'), bBar: bar('b-bar'),
    dDur: text('d-dur'), dTok: text('d-tok'), dCost: text('d-cost'), change: text('change') };
}));

test('28: compare shows two waterfalls side by side, nodes matched by workflow node ID, subtree deltas, a model swap as a change', async () => {
  // the skeleton names the model of every span on the full load, Orcheo's node attributes included
  const LONE = hex(0x10e, 32);
  await postSpans(collector.url, [span({ trace: LONE, id: 1, name: 'chat', start: NOW - 9_000n * ms, end: NOW - 8_000n * ms, attrs: { 'gen_ai.request.model': 'gpt-4o' } }),
    span({ trace: LONE, id: 2, parent: 1, name: 'node', start: NOW - 9_000n * ms, end: NOW - 8_500n * ms,
      attrs: { 'orcheo.ai.model.actual': 'gpt-4o-mini', 'orcheo.token.input': 3 } })]);
  const skeleton = await (await fetch(`${query.base}/api/traces/${LONE}/tree?events=1`)).json();
  assert.deepEqual(skeleton.spans.map((s) => s.model), ['gpt-4o', 'gpt-4o-mini'], 'without tokens, and from orcheo.ai.model.actual');

  await page.goto(`${query.base}/compare?a=exec-support-a&b=exec-support-b`);
  await page.waitForSelector('table.cmp tbody tr');
  const rows = await compareRows();
  assert.deepEqual(rows.map((r) => `${r.kind}:${r.aName}|${r.bName}`), ['same:workflow.execution|workflow.execution', 'same:classify|classify',
    'same:chat gpt-4o-mini|chat gpt-4o-mini', 'same:retrieve|retrieve', 'same:vector search|vector search', 'same:rerank|rerank', 'same:answer|answer',
    'same:chat gpt-4o-2024-08-06|chat claude-3-5-sonnet-20241022'], 'nothing added or removed: the LLM call is the answer node\'s model call');
  const by = Object.fromEntries(rows.map((r) => [r.bName, r]));
  const swap = by['chat claude-3-5-sonnet-20241022'];
  assert.equal(swap.change, 'model gpt-4o-2024-08-06 → claude-3-5-sonnet-20241022');
  assert.match(await page.textContent('[data-testid=cmp-counts]'), /^0 added · 0 removed · \d+ changed$/);
  for (const r of rows) assert.ok(r.aBar > 0 && r.bBar > 0, `${r.bName}: a bar on each side (${r.aBar}, ${r.bBar})`);
  const ratio = by.answer.aBar / by.answer.bBar;
  assert.ok(Math.abs(ratio - 1200 / 1600) < 0.04, `one time scale for both: answer ${by.answer.aDur} vs ${by.answer.bDur} drawn ${ratio.toFixed(3)}`);
  for (const name of ['workflow.execution', 'answer']) {
    assert.equal(by[name].dTok, '+70', `${name}: the subtree's tokens`);
    assert.equal(by[name].dCost, '+$0.00340', `${name}: the subtree's cost`);
  }
  assert.deepEqual([by.answer.dDur, by['workflow.execution'].dDur], ['+400.0 ms', '+450.0 ms']);
  const heads = await page.$$eval('table.cmp thead th', (th) => th.filter((x) => x.checkVisibility()).map((x) => x.innerText.trim()));
  assert.ok(heads.some((t) => /^A\b.*exec-support-a/.test(t)) && heads.some((t) => /^B\b.*exec-support-b/.test(t)), `two runs side by side: ${heads}`);
  const fits = await page.$eval('.table-scroll', (s) => s.scrollWidth <= s.clientWidth + 1);
  assert.ok(fits, 'both waterfalls and the deltas fit 1440 px');
  await shoot('states-compare', { full: true });
});

test('27: compare with a run that does not exist says "not found", not "−100 %" and every node removed', async () => {
  await page.goto(`${query.base}/compare?a=exec-support-a&b=nope`);
  await page.waitForSelector('.not-found');
  const text = await page.locator('#app').innerText();
  assert.match(text, /No execution nope/);
  assert.doesNotMatch(text, /100 ?%|removed|0 µs/);
  assert.equal(await page.locator('table.cmp').count(), 0);
  assert.ok(await page.locator('.not-found a', { hasText: 'exec-support-a' }).isVisible(), 'the run that exists is one click away');
  await shoot('states-compare-not-found');
  await page.goto(`${query.base}/compare?a=gone-1&b=gone-2`);
  await page.waitForSelector('.not-found');
  const both = await page.locator('.not-found').innerText();
  assert.match(both, /No execution gone-1/);
  assert.match(both, /No execution gone-2/);
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route('**/api/executions/*/tree?*', async (route) => { await held; await route.continue(); });
  await page.goto(`${query.base}/compare?a=exec-support-a&b=exec-support-b`);
  await page.waitForSelector('.compare .note');
  assert.match(await page.locator('.compare').innerText(), /Loading both runs/);
  await shoot('states-compare-loading');
  release();
  await page.waitForSelector('table.cmp tbody tr');
  await page.unroute('**/api/executions/*/tree?*');
});

test('no console errors', async () => {
  assert.deepEqual(problems, []);
  await browser.close();
  assert.deepEqual(await collector.stop(), { code: 0, sig: null });
  assert.deepEqual(await query.stop(), { code: 0, sig: null });
});

await run();
