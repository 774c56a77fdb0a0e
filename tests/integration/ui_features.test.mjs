// The Trace tab's features beyond the anchors (issue 15) in headless Debian
// Chromium: the search page (/search: a trace with no execution found by an
// attribute filter, status and service filters, the TraceQL box with its error
// position, the ID box, sorting, the URL holding the search, the scatter plot's
// dots), in-trace search over attributes and events, downloads, one status
// badge and the unknown-execution state, cost from a price table, and the
// waterfall (zoom, ticks that never overlap, critical path, idle gaps).
// Screenshots at 1440 and 800 px go to tests/out/; no console error may occur.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, setup, run, tempDir, startCollector, startQuery, span, postSpans, hex, launchChromium } from './lib.mjs';
import { makeProvider, orcheoRun } from './otel.mjs';

const shots = new URL('../out/', import.meta.url).pathname;
mkdirSync(shots, { recursive: true });
let collector, query, priced, browser, page;
const problems = [];
const NOW = BigInt(Date.now()) * 1_000_000n;
const GOLD = hex(0x601d, 32), ERR = hex(0xe77, 32);

setup('traces with and without executions, and Chromium', async () => {
  const data = tempDir();
  collector = await startCollector(data);
  query = await startQuery(data);
  const prices = path.join(tempDir(), 'prices');
  writeFileSync(prices, '# test prices\ncurrency USD\ngpt-4o-mini* 0.15 0.60\ngpt-4o* 2.50 10.00\n');
  priced = await startQuery(data, [], { env: { ARBOR_PRICES: prices } }); // a second reader of the same store
  const ms = 1_000_000n;
  // no execution: found only through search
  await postSpans(collector.url, [span({ trace: GOLD, id: 1, name: 'GET /cart', start: NOW - 5000n * ms, end: NOW - 4200n * ms,
    attrs: { 'customer.tier': 'gold', 'http.status_code': 200 } }),
  span({ trace: GOLD, id: 2, parent: 1, name: 'SELECT cart', start: NOW - 4900n * ms, end: NOW - 4500n * ms,
    events: [{ name: 'cache', attrs: { note: 'miss for basket 42' } }] }),
  span({ trace: GOLD, id: 3, parent: 1, name: 'render', start: NOW - 4400n * ms, end: NOW - 4300n * ms, attrs: { template: 'basket.html' } })],
  { 'service.name': 'checkout-svc' });
  for (let i = 0; i < 6; i++)
    await postSpans(collector.url, [span({ trace: 0x51100 + i, id: 10 + i, name: 'GET /cart', start: NOW - BigInt(60 - i * 5) * 1000n * ms,
      end: NOW - BigInt(60 - i * 5) * 1000n * ms + BigInt(20 + i * 30) * ms, attrs: { 'customer.tier': 'silver' } })], { 'service.name': 'checkout-svc' });
  await postSpans(collector.url, [span({ trace: ERR, id: 99, name: 'POST /pay', start: NOW - 3000n * ms, end: NOW - 2000n * ms, status: 2,
    attrs: { 'customer.tier': 'silver' } })], { 'service.name': 'payments' });
  const provider = makeProvider({ protocol: 'proto', url: collector.url });
  await orcheoRun(provider, { executionId: 'exec-search-1', nodes: 2 });
  await provider.shutdown();
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
});

test('the header links to /search; an attribute filter finds the trace that has no execution', async () => {
  await page.goto(`${query.base}/`);
  await page.click('a.nav-search');
  await page.waitForSelector('form.find-form');
  assert.equal(new URL(page.url()).pathname, '/search');
  await page.click('button.add-attr');
  await page.fill('.attr-row .akey', 'customer.tier');
  await page.fill('.attr-row .aval', 'gold');
  await page.click('form.find-form button[type=submit]');
  await page.waitForSelector('table.find-results tbody tr');
  const ids = await page.$$eval('table.find-results tbody tr td:first-child', (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(ids, [GOLD]);
  assert.match(page.url(), /attr=customer\.tier%3Dgold/);
  assert.equal(await page.locator('svg.scatter circle.dot').count(), 1);
  await page.screenshot({ path: `${shots}ui-search-1440.png`, fullPage: true });
});

test('the URL is the search: a reload shows the same results; a dot opens its trace', async () => {
  await page.reload();
  await page.waitForSelector('table.find-results tbody tr');
  assert.equal(await page.locator('table.find-results tbody tr').count(), 1);
  assert.equal(await page.inputValue('.attr-row .aval'), 'gold');
  await page.click('svg.scatter circle.dot');
  await page.waitForSelector('.row[data-id]');
  assert.equal(new URL(page.url()).searchParams.get('trace'), GOLD);
  assert.ok(await page.locator('.row', { hasText: 'SELECT cart' }).count() > 0);
  await page.goBack();
  await page.waitForSelector('table.find-results tbody tr');
});

test('status and service filters, sorting by a column, paging state in the URL', async () => {
  await page.goto(`${query.base}/search?status=error`);
  await page.waitForSelector('table.find-results tbody tr');
  assert.deepEqual(await page.$$eval('table.find-results tbody tr td:first-child', (t) => t.map((x) => x.textContent)), [ERR]);
  await page.goto(`${query.base}/search?service=checkout-svc`);
  await page.waitForSelector('table.find-results tbody tr');
  assert.equal(await page.locator('table.find-results tbody tr').count(), 7);
  await page.click('th button.sort:has-text("Duration")');
  await page.waitForFunction(() => location.search.includes('sort=duration'));
  const durations = await page.$$eval('table.find-results tbody tr td:nth-child(5)', (t) => t.map((x) => x.textContent));
  const msOf = (d) => (d.endsWith(' ms') ? parseFloat(d) : d.endsWith(' s') ? parseFloat(d) * 1000 : NaN);
  const values = durations.map(msOf);
  assert.deepEqual([...values].sort((a, b) => b - a), values, `longest first: ${durations}`);
  assert.equal(await page.getAttribute('th[aria-sort="descending"] button', 'class'), 'sort');
});

test('the TraceQL box: results, and an invalid query shows where it is wrong', async () => {
  await page.goto(`${query.base}/search`);
  await page.fill('textarea[name=q]', '{ span.customer.tier = "silver" && status = error }');
  await page.press('textarea[name=q]', 'Enter');
  await page.waitForSelector('table.find-results tbody tr');
  assert.deepEqual(await page.$$eval('table.find-results tbody tr td:first-child', (t) => t.map((x) => x.textContent)), [ERR]);
  await page.fill('textarea[name=q]', '{ span.customer.tier = }');
  await page.press('textarea[name=q]', 'Enter');
  await page.waitForSelector('.q-error:not(.hidden)');
  const text = await page.textContent('.q-error');
  assert.match(text, /parse error at line 1 col \d+/);
  const caret = await page.textContent('.q-error pre.caret');
  const col = Number(/col (\d+)/.exec(text)[1]);
  assert.equal(caret.split('\n')[1].indexOf('^'), col - 1, 'the caret sits under the error');
  const expected = problems.findIndex((p) => /status of 400/.test(p)); // Chromium logs the 400 it was told about
  assert.ok(expected >= 0);
  problems.splice(expected, 1);
  await page.setViewportSize({ width: 800, height: 900 });
  await page.screenshot({ path: `${shots}ui-search-800-error.png`, fullPage: true });
  await page.goto(`${query.base}/search?attr=customer.tier%3Dsilver`);
  await page.waitForSelector('table.find-results tbody tr');
  await page.screenshot({ path: `${shots}ui-search-800.png`, fullPage: true });
  await page.setViewportSize({ width: 1440, height: 900 });
});

test('the ID box opens an execution or a trace, by keyboard', async () => {
  await page.goto(`${query.base}/search`);
  await page.fill('input.jump', 'exec-search-1');
  await page.press('input.jump', 'Enter');
  await page.waitForSelector('.row[data-id]');
  assert.equal(new URL(page.url()).searchParams.get('execution'), 'exec-search-1');
  await page.goto(`${query.base}/search`);
  await page.fill('input.jump', GOLD.toUpperCase());
  await page.press('input.jump', 'Enter');
  await page.waitForSelector('.row[data-id]');
  assert.equal(new URL(page.url()).searchParams.get('trace'), GOLD);
});

test('in-trace search: attribute values and event text match, with the count, next/previous and matches only', async () => {
  await page.goto(`${query.base}/?trace=${GOLD}`);
  await page.waitForSelector('.row[data-id]');
  await page.fill('.toolbar input[type=search]', 'basket');
  await page.waitForFunction(() => /^2 matches$/.test(document.querySelector('.toolbar .count').textContent));
  const matched = await page.$$eval('.row.match', (rows) => rows.map((r) => r.textContent));
  assert.ok(matched.some((t) => t.includes('SELECT cart')) && matched.some((t) => t.includes('render')), `event text and attribute value: ${matched}`);
  await page.press('.toolbar input[type=search]', 'Enter');
  const first = new URL(page.url()).searchParams.get('span');
  await page.press('.toolbar input[type=search]', 'Enter');
  const second = new URL(page.url()).searchParams.get('span');
  assert.notEqual(first, second, 'Enter moves to the next match');
  await page.press('.toolbar input[type=search]', 'Shift+Enter');
  assert.equal(new URL(page.url()).searchParams.get('span'), first, 'Shift+Enter goes back');
  await page.check('.toolbar input[type=checkbox]');
  await page.waitForFunction(() => window.location.search.includes('hide=1'));
  const shown = await page.$$eval('.row', (rows) => rows.filter((r) => getComputedStyle(r).display !== 'none').map((r) => r.dataset.id));
  assert.equal(shown.length, 3, `the two matches and their ancestor: ${shown}`);
  await page.fill('.toolbar input[type=search]', 'gold');
  await page.waitForFunction(() => /^1 match$/.test(document.querySelector('.toolbar .count').textContent));
  await page.screenshot({ path: `${shots}ui-intrace-search-1440.png` });
  await page.setViewportSize({ width: 800, height: 900 });
  await page.screenshot({ path: `${shots}ui-intrace-search-800.png` });
  await page.setViewportSize({ width: 1440, height: 900 });
});

test('downloads: the trace as OTLP JSON (Tempo\'s shape) and as the Canvas\'s TraceResponse', async () => {
  await page.goto(`${query.base}/?execution=exec-search-1`);
  await page.waitForSelector('.row[data-id]');
  const save = async (button) => {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
    return { name: dl.suggestedFilename(), body: JSON.parse(readFileSync(await dl.path(), 'utf8')) };
  };
  const otlp = await save('.theader button.dl-otlp');
  assert.equal(otlp.name, 'exec-search-1.otlp.json');
  const spans = otlp.body.trace.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((x) => x.spans));
  assert.equal(spans.length, 3, 'the root and two nodes');
  assert.ok(spans.some((x) => x.name === 'workflow.execution'));
  const canvas = await save('.theader button.dl-canvas');
  assert.equal(canvas.name, 'exec-search-1.canvas.json');
  assert.deepEqual(Object.keys(canvas.body).slice(0, 3), ['execution', 'spans', 'page_info']);
  assert.equal(canvas.body.spans.length, 3);
  assert.equal(canvas.body.execution.status, 'completed');
});

test('one status badge; an unknown execution says so instead of showing an empty grid', async () => {
  await page.goto(`${query.base}/?execution=exec-search-1`);
  await page.waitForSelector('.theader .badge.completed.done');
  assert.equal(await page.locator('.theader .badge').count(), 1, 'status and liveness in one badge');
  await page.goto(`${query.base}/?execution=no-such-run`);
  await page.waitForSelector('.empty-state:not(.hidden)');
  assert.match(await page.textContent('.empty-state'), /no span of execution no-such-run yet/);
  assert.equal(await page.locator('.theader .badge').count(), 1);
  assert.match(await page.textContent('.theader .badge'), /^unknown · (live|offline)$/);
  await page.screenshot({ path: `${shots}ui-unknown-execution-1440.png` });
  await page.setViewportSize({ width: 800, height: 900 });
  await page.screenshot({ path: `${shots}ui-unknown-execution-800.png` });
  await page.setViewportSize({ width: 1440, height: 900 });
});

test('cost: each span\'s model, tokens and cost from ARBOR_PRICES, subtree rollups, the run total, a column toggle', async () => {
  const COST = hex(0xc057, 32), ms = 1_000_000n;
  await postSpans(collector.url, [span({ trace: COST, id: 0x100, name: 'agent', start: NOW - 900n * ms, end: NOW - 100n * ms }),
    span({ trace: COST, id: 0x101, parent: 0x100, name: 'chat', start: NOW - 800n * ms, end: NOW - 600n * ms,
      attrs: { 'gen_ai.request.model': 'gpt-4o-2024-08-06', 'gen_ai.usage.input_tokens': 1000, 'gen_ai.usage.output_tokens': 500 } }),
    span({ trace: COST, id: 0x102, parent: 0x100, name: 'chat', start: NOW - 500n * ms, end: NOW - 300n * ms,
      attrs: { 'gen_ai.response.model': 'gpt-4o-mini', 'gen_ai.usage.input_tokens': 20000, 'gen_ai.usage.output_tokens': 4000 } }),
    span({ trace: COST, id: 0x103, parent: 0x100, name: 'tool', start: NOW - 250n * ms, end: NOW - 200n * ms,
      attrs: { 'gen_ai.request.model': 'in-house-model', 'gen_ai.usage.input_tokens': 7, 'gen_ai.usage.output_tokens': 7 } })],
  { 'service.name': 'agent-svc' });
  const table = await (await fetch(`${priced.base}/api/prices`)).json();
  assert.deepEqual(table, { currency: 'USD', prices: [{ model: 'gpt-4o-mini*', input: 0.15, output: 0.6 }, { model: 'gpt-4o*', input: 2.5, output: 10 }] });
  const want = (1000 * 2.5 + 500 * 10) / 1e6 + (20000 * 0.15 + 4000 * 0.6) / 1e6; // 0.0075 + 0.0054
  await page.goto(`${priced.base}/?trace=${COST}`);
  await page.waitForSelector('[data-testid=cost]');
  const shown = Number((await page.textContent('[data-testid=cost]')).replace('$', ''));
  assert.ok(Math.abs(shown - want) < 0.0005, `header ${shown} = price table x tokens ${want}`);
  assert.equal(await page.isVisible('.row .cost'), false, 'the cost column is off until asked for');
  await page.check('.toolbar .cost-toggle');
  await page.waitForFunction(() => location.search.includes('cost=1'));
  const cells = await page.$$eval('.row', (rows) => rows.map((r) => [r.querySelector('.name').textContent,
    [r.querySelector('.cost .model').textContent, r.querySelector('.cost .amount').textContent].filter(Boolean).join(' · ')]));
  const byName = (n) => cells.filter(([name]) => name === n).map(([, c]) => c);
  assert.deepEqual(byName('agent'), ['Σ $0.013'], 'the subtree rollup on the parent (0.0129, three digits)');
  assert.deepEqual(byName('chat').sort(), ['gpt-4o-2024-08-06 · $0.00750', 'gpt-4o-mini · $0.00540'].sort());
  assert.deepEqual(byName('tool'), [''], 'a model with no price: no cost');
  await page.screenshot({ path: `${shots}ui-cost-1440.png` });
  await page.setViewportSize({ width: 800, height: 900 });
  await page.screenshot({ path: `${shots}ui-cost-800.png` });
  await page.setViewportSize({ width: 1440, height: 900 });
});

test('waterfall: the critical path, idle gaps, ticks that never overlap, zoom by wheel and by dragging, reset', async () => {
  const WF = hex(0x3f, 32), ms = 1_000_000n, T = NOW - 20_000n * ms;
  const at = (a, b) => ({ start: T + BigInt(a) * ms, end: T + BigInt(b) * ms });
  await postSpans(collector.url, [span({ trace: WF, id: 0x10, name: 'run', ...at(0, 1000) }),
    span({ trace: WF, id: 0x11, parent: 0x10, name: 'plan', ...at(0, 400) }), span({ trace: WF, id: 0x12, parent: 0x11, name: 'think', ...at(50, 380) }),
    span({ trace: WF, id: 0x13, parent: 0x10, name: 'side-lookup', ...at(100, 300) }),
    span({ trace: WF, id: 0x14, parent: 0x10, name: 'act', ...at(600, 990) })], { 'service.name': 'agent' });
  await postSpans(collector.url, [span({ trace: WF, id: 0x15, parent: 0x14, name: 'fetch', ...at(650, 700) }),
    span({ trace: WF, id: 0x16, parent: 0x14, name: 'write', ...at(700, 980),
      events: [{ name: 'chunk', time: T + 800n * ms }, { name: 'flush', time: T + 950n * ms }] })], { 'service.name': 'tools' });
  await page.goto(`${query.base}/?trace=${WF}`);
  await page.waitForSelector('.row .bar.crit');
  const crit = await page.$$eval('.row', (rows) => rows.filter((r) => r.querySelector('.bar.crit')).map((r) => r.querySelector('.name').textContent));
  assert.deepEqual(crit.sort(), ['act', 'fetch', 'plan', 'run', 'think', 'write'], 'side-lookup ran beside plan: not on the path');
  assert.equal(await page.getAttribute('.row .gaps .gap', 'title'), 'idle 200.0 ms', 'the wait between plan and act');
  assert.deepEqual(await page.$$eval('.legend .svc', (l) => l.map((x) => x.textContent)), ['agent', 'tools'], 'a legend of the services');
  const colour = (name) => page.evaluate((nm) => [...document.querySelectorAll('.row')]
    .find((r) => r.querySelector('.name').textContent === nm).querySelector('.bar').style.background, name);
  assert.equal(await colour('plan'), await colour('act'), 'one colour per service');
  assert.notEqual(await colour('plan'), await colour('write'));
  const ticksOfWrite = await page.evaluate(() => [...[...document.querySelectorAll('.row')].find((r) => r.querySelector('.name').textContent === 'write')
    .querySelectorAll('.ticks .ev')].map((e) => [e.title, parseFloat(e.style.left)]));
  assert.deepEqual(ticksOfWrite.map(([t]) => t), ['chunk at +100.0 ms', 'flush at +250.0 ms'], 'span events as ticks on the bar');
  assert.ok(Math.abs(ticksOfWrite[0][1] - 80) < 0.5, `at 800 ms of 1000: ${ticksOfWrite[0][1]}%`);
  const ticks = () => page.$$eval('.axis .tick', (t) => t.map((x) => x.textContent));
  const apart = () => page.$$eval('.axis .tick', (t) => t.map((x) => x.getBoundingClientRect()).every((r, i, all) => i === 0 || r.left >= all[i - 1].right));
  assert.ok(await apart(), 'tick labels do not overlap at 1440 px');
  const before = await ticks();
  const axis = await page.locator('.axis').boundingBox();
  await page.mouse.move(axis.x + axis.width * 0.7, axis.y + axis.height / 2);
  await page.mouse.wheel(0, -300);
  await page.waitForFunction((b) => JSON.stringify([...document.querySelectorAll('.axis .tick')].map((x) => x.textContent)) !== b, JSON.stringify(before));
  assert.ok(await page.isVisible('button.reset-zoom'));
  await page.click('button.reset-zoom');
  assert.deepEqual(await ticks(), before, 'reset shows the whole trace again');
  await page.mouse.move(axis.x + axis.width * 0.6, axis.y + axis.height / 2);
  await page.mouse.down();
  await page.mouse.move(axis.x + axis.width * 0.7, axis.y + axis.height / 2, { steps: 5 });
  await page.mouse.up();
  const dragged = await ticks();
  assert.notDeepEqual(dragged, before);
  const toMs = (d) => (d.endsWith(' ms') ? parseFloat(d) : d.endsWith(' s') ? parseFloat(d) * 1000 : d.endsWith(' µs') ? parseFloat(d) / 1000 : NaN);
  assert.ok(toMs(dragged[0]) >= 590 && toMs(dragged.at(-1)) <= 710, `the dragged range 600–700 ms: ${dragged}`);
  await page.screenshot({ path: `${shots}ui-waterfall-zoomed-1440.png` });
  await page.keyboard.press('0');
  await page.setViewportSize({ width: 800, height: 900 });
  await page.goto(`${query.base}/?trace=${WF}`);
  await page.waitForSelector('.row .bar.crit');
  assert.ok(await apart(), 'tick labels do not overlap at 800 px');
  await page.screenshot({ path: `${shots}ui-waterfall-800.png` });
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`${query.base}/?trace=${WF}`);
  await page.waitForSelector('.row .bar.crit');
  await page.screenshot({ path: `${shots}ui-waterfall-1440.png` });
});

test('compare two executions: from the list (select two) and from a run (previous of its workflow); the known deltas', async () => {
  const ms = 1_000_000n;
  const runOf = (trace, exec, t, steps) => [span({ trace, id: trace * 16, name: 'workflow', start: t, end: t + 1000n * ms,
    attrs: { 'orcheo.execution.id': exec, 'orcheo.workflow.id': 'wf-cmp' } }),
  ...steps.map(([name, a, b, tin, tout, status, node], i) => span({ trace, id: trace * 16 + i + 1, parent: trace * 16, name, start: t + BigInt(a) * ms,
    end: t + BigInt(b) * ms, status, attrs: { ...(tin ? { 'gen_ai.usage.input_tokens': tin, 'gen_ai.usage.output_tokens': tout } : {}),
      ...(node ? { 'orcheo.node.id': node } : {}) } }))];
  await postSpans(collector.url, runOf(0xa1, 'exec-cmp-a', NOW - 60_000n * ms, [['plan', 0, 100, 10, 5], ['search', 100, 300], ['answer', 300, 600, 100, 50, undefined, 'n-answer']]));
  await postSpans(collector.url, runOf(0xb1, 'exec-cmp-b', NOW - 30_000n * ms, [['plan', 0, 150, 10, 5], ['rerank', 150, 200], ['answer v2', 300, 550, 120, 40, 2, 'n-answer']]));
  await page.goto(`${query.base}/`);
  await page.check('input.pick[value="exec-cmp-b"]');
  assert.equal(await page.isDisabled('button.compare-selected'), true, 'one is not a pair');
  await page.check('input.pick[value="exec-cmp-a"]');
  await page.click('button.compare-selected');
  await page.waitForSelector('table.cmp tbody tr');
  assert.equal(new URL(page.url()).search, '?a=exec-cmp-a&b=exec-cmp-b', 'the older run is A');
  const rows = await page.$$eval('table.cmp tbody tr', (trs) => trs.map((tr) => {
    const text = (c) => tr.querySelector(`td.${c}`).textContent.trim();
    return { kind: tr.dataset.kind, name: text(tr.dataset.kind === 'removed' ? 'a-name' : 'b-name'), aName: text('a-name'),
      dDur: text('d-dur'), dTok: text('d-tok'), change: text('change') };
  }));
  const row = (name) => rows.find((r) => r.name.replace(/^[+−]/, '') === name);
  assert.deepEqual(rows.map((r) => `${r.name}:${r.kind}`), ['workflow:same', 'plan:same', '−search:removed', '+rerank:added', 'answer v2:same'],
    'the renamed node is the same workflow node (orcheo.node.id)');
  assert.equal(row('answer v2').aName, 'answer', 'A\'s name on A\'s side');
  assert.equal(row('plan').dDur, '+50.0 ms');
  assert.equal(row('answer v2').dDur, '−50.0 ms');
  assert.equal(row('answer v2').dTok, '+10');
  assert.equal(row('workflow').dTok, '+10', 'the subtree\'s tokens');
  assert.match(row('answer v2').change, /^UNSET → ERROR$/);
  assert.equal(await page.textContent('[data-testid=cmp-counts]'), '1 added · 1 removed · 2 changed');
  await page.screenshot({ path: `${shots}ui-compare-1440.png`, fullPage: true });
  await page.setViewportSize({ width: 800, height: 900 });
  await page.screenshot({ path: `${shots}ui-compare-800.png`, fullPage: true });
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`${query.base}/?execution=exec-cmp-b`);
  await page.click('button.compare-prev');
  await page.waitForSelector('table.cmp tbody tr');
  assert.equal(new URL(page.url()).search, '?a=exec-cmp-a&b=exec-cmp-b');
});

test('no console errors', async () => {
  assert.deepEqual(problems, []);
  await browser.close();
});

await run();
