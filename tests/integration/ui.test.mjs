// The built-in Trace tab in headless Debian Chromium (playwright-core): list ->
// execution -> tree -> span detail -> deep-link reload, search, keyboard, a live
// run growing, a 20,000-span trace with a bounded DOM. Screenshots are written to
// tests/out/ for people to look at; no console error may occur.
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdirSync } from 'node:fs';
import { test, setup, run, tempDir, startCollector, startQuery, span, postSpans, hex, launchChromium } from './lib.mjs';
import { makeProvider, orcheoRun } from './otel.mjs';

const shots = new URL('../out/', import.meta.url).pathname;
mkdirSync(shots, { recursive: true });
const upstream = http.createServer((req, res) => {
  if (req.url === '/api/artifacts/report-0/download') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"summary":"quarterly numbers","revenue":[1,2,3]}');
  } else { res.writeHead(404); res.end(); }
});
await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
const data = tempDir();
const collector = await startCollector(data);
const query = await startQuery(data, ['--live-quiet=500ms', `--artifact-upstream=http://127.0.0.1:${upstream.address().port}`,
  '--trace-links=Grafana=http://grafana.invalid/explore?trace={trace_id}']);
const browser = await launchChromium();
const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
const page = await context.newPage();
// rows a person sees: displayed, whatever attributes say
await page.addInitScript(() => {
  window.shownRows = () => [...document.querySelectorAll('.row')].filter((e) => getComputedStyle(e).display !== 'none').length;
});
const problems = [];
page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
const NOW = BigInt(Date.now()) * 1_000_000n;

let run1;
setup('an Orcheo run with prompts, messages and an artifact', async () => {
  const provider = makeProvider({ protocol: 'proto', url: collector.url });
  run1 = await orcheoRun(provider, { executionId: 'exec-ui-1', nodes: 5 });
  await provider.shutdown();
  // one LLM call with GenAI messages and an artifact event, under node-2
  await postSpans(collector.url, [span({ trace: run1.traceId, id: 'c0ffee0000000001', parent: run1.nodeIds[2], name: 'chat gpt-4o',
    start: NOW, end: NOW + 900_000_000n, attrs: {
      'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 120, 'gen_ai.usage.output_tokens': 40,
      'gen_ai.input.messages': JSON.stringify([{ role: 'system', parts: [{ type: 'text', content: 'You are terse.' }] },
        { role: 'user', parts: [{ type: 'text', content: 'Summarise the report. ' + 'Detail. '.repeat(200) }] }]),
      'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: 'Revenue grew 12%.' }] }]),
      'orcheo.artifact.ids': ['report-0'] },
    events: [{ name: 'artifact', attrs: { 'artifact.id': 'report-0', name: 'report.json', mime_type: 'application/json', size: 49 } }] })],
  { 'service.name': 'orcheo-backend' });
});

test('list -> execution -> tree: the run is listed and opens as a tree with a waterfall', async () => {
  await page.goto(`${query.base}/`);
  const link = page.locator('a', { hasText: 'exec-ui-1' });
  await link.waitFor();
  await page.screenshot({ path: `${shots}ui-list.png` });
  await link.click();
  await page.waitForSelector('.row[data-id]');
  assert.match(page.url(), /\?execution=exec-ui-1/);
  await page.waitForFunction(() => document.querySelector('[data-testid=span-count]')?.textContent === '7');
  assert.equal(await page.locator('.theader .badge.completed').count(), 1);
  assert.equal(await page.locator('.theader a', { hasText: 'Grafana' }).getAttribute('href'), `http://grafana.invalid/explore?trace=${run1.traceId}`);
  const names = await page.locator('.row:not([hidden]) .name').allTextContents();
  assert.deepEqual(names.slice(0, 4), ['workflow.execution', 'node-0', 'node-1', 'node-2']);
  assert.ok(names.includes('chat gpt-4o'));
  const bars = await page.locator('.row:not([hidden]) .bar').count();
  assert.equal(bars, 7);
  assert.equal(await page.locator('[role=treegrid]').count(), 1);
  assert.equal(await page.locator('[role=row][aria-level="2"]').count(), 5, 'five nodes at level 2');
  await page.screenshot({ path: `${shots}ui-trace.png` });
});

test('span detail: conversation with the full text on demand, artifact preview, attributes; deep-link reload', async () => {
  await page.locator('.row', { hasText: 'chat gpt-4o' }).click();
  await page.waitForSelector('.detail .msg');
  const roles = await page.locator('.detail .msg .role').allTextContents();
  assert.deepEqual(roles, ['system', 'user', 'assistant']);
  const userText = page.locator('.detail .msg.user pre');
  assert.ok((await userText.textContent()).length < 700, 'long message shown as a preview');
  await page.locator('.detail .msg.user button.more').click();
  assert.ok((await userText.textContent()).length > 1600, 'full text on demand');
  await page.locator('.detail .artifact button', { hasText: 'Preview' }).click();
  await page.waitForSelector('.detail .artifact pre');
  assert.match(await page.locator('.detail .artifact pre').textContent(), /"revenue"/);
  assert.equal(await page.locator('.detail .artifact a', { hasText: 'Download' }).getAttribute('href'), '/api/artifacts/report-0/download');
  assert.match(await page.locator('.detail .attrs').first().textContent(), /gen_ai\.request\.model/);
  assert.equal(await page.locator('.detail .derived').count(), 0, 'its own gen_ai.usage.* is not derived');
  await page.screenshot({ path: `${shots}ui-detail.png` });
  assert.match(page.url(), /span=c0ffee0000000001/);
  await page.reload();
  await page.waitForSelector('.detail .msg');
  assert.equal(await page.locator('.row[aria-selected=true] .name').textContent(), 'chat gpt-4o');
  // an Orcheo node: its prompt and response events are the conversation
  await page.locator('.row', { hasText: 'node-1' }).click();
  await page.waitForFunction(() => document.querySelectorAll('.detail .msg').length === 2);
  assert.deepEqual(await page.locator('.detail .msg .role').allTextContents(), ['prompt', 'response']);
  // its tokens came as orcheo.token.*: shown, marked derived, and not invented as attributes
  assert.equal(await page.locator('.detail .derived').count(), 1);
  assert.equal(await page.locator('.detail .derived').getAttribute('title'), 'Arbor read these from orcheo.token.input / orcheo.token.output',
    'the source named from the conventions table the collector reads (genai.js)');
  assert.doesNotMatch(await page.locator('.detail .attrs').first().textContent(), /gen_ai\.usage/);
});

test('search keeps ancestors of matches; matches only hides the rest; keyboard moves and collapses', async () => {
  await page.keyboard.press('Escape');
  await page.keyboard.press('/');
  await page.keyboard.type('gpt');
  await page.waitForFunction(() => document.querySelector('.count')?.textContent === '1 match');
  await page.locator('label', { hasText: 'Matches only' }).click();
  await page.waitForFunction(() => shownRows() === 3);
  assert.deepEqual(await page.locator('.row:visible .name').allTextContents(), ['workflow.execution', 'node-2', 'chat gpt-4o']);
  assert.match(page.url(), /q=gpt/);
  assert.match(page.url(), /hide=1/);
  await page.keyboard.press('Escape'); // focus is on the checkbox: Esc still clears the search
  await page.waitForFunction(() => shownRows() === 7);
  await page.locator('.row', { hasText: 'workflow.execution' }).click();
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.locator('.row[aria-selected=true] .name').textContent(), 'node-0');
  await page.keyboard.press('ArrowLeft'); // to the parent
  assert.equal(await page.locator('.row[aria-selected=true] .name').textContent(), 'workflow.execution');
  await page.keyboard.press('ArrowLeft'); // collapse
  await page.waitForFunction(() => shownRows() === 1);
  assert.equal(await page.locator('.row[aria-selected=true]').getAttribute('aria-expanded'), 'false');
  await page.keyboard.press('ArrowRight'); // expand
  await page.waitForFunction(() => shownRows() === 7);
  await page.keyboard.press('End');
  assert.equal(await page.locator('.row[aria-selected=true] .name').textContent(), 'node-4');
  // Collapse all: one row left on screen, not the old rows with stale bars under it
  await page.locator('button', { hasText: 'Collapse all' }).click();
  await page.waitForFunction(() => shownRows() === 1);
  assert.equal(await page.locator('.row:visible').count(), 1);
});

test('a live run grows on screen: placeholder root, nodes as they commit, then complete', async () => {
  await page.goto(`${query.base}/?execution=exec-ui-live`);
  await page.waitForSelector('.theader .badge.live');
  const { trace, context } = await import('@opentelemetry/api');
  const provider = makeProvider({ protocol: 'proto', url: collector.url });
  const tracer = provider.getTracer('live');
  const root = tracer.startSpan('workflow.execution');
  const ctx = trace.setSpan(context.active(), root);
  const phBar = () => page.locator('.row.placeholder .bar').evaluate((b) => [parseFloat(b.style.left), parseFloat(b.style.width)]);
  const bars = [];
  const t0 = Date.now();
  for (let i = 0; i < 3; i++) {
    const s = tracer.startSpan(`step-${i}`, { startTime: t0 + i * 1000 }, ctx);
    s.setAttribute('execution.id', 'exec-ui-live');
    s.setAttribute('orcheo.token.input', 10);
    s.end(t0 + i * 1000 + 500);
    await provider.forceFlush();
    await page.waitForFunction((n) => document.querySelector('[data-testid=span-count]')?.textContent === String(n), i + 1);
    // the placeholder's subtree total follows its children
    await page.waitForFunction((want) => document.querySelector('.row.placeholder .tok')?.textContent === want, `Σ ${10 * (i + 1)} tok`);
    bars.push(await phBar());
  }
  assert.equal(await page.locator('.row.placeholder').count(), 1, 'the pending root as a placeholder');
  // its bar spans every child that has arrived (here: all there is, the whole
  // axis), not the range of the first one it was made for
  for (const [left, width] of bars)
    assert.ok(left < 0.5 && width > 99, `placeholder bar spans its children: ${JSON.stringify(bars)}`);
  await page.screenshot({ path: `${shots}ui-live.png` });
  root.setAttribute('orcheo.execution.id', 'exec-ui-live');
  root.end();
  await provider.shutdown();
  await page.waitForSelector('.theader .badge.done');
  assert.equal(await page.locator('.row.placeholder').count(), 0);
  assert.equal(await page.locator('.row .name', { hasText: 'workflow.execution' }).count(), 1);
  await page.waitForSelector('.theader .badge.completed');
  await page.screenshot({ path: `${shots}ui-live-complete.png` });
});

test('a 20,000-span trace opens quickly, scrolls, and keeps the DOM small', async () => {
  const T = 0x20000;
  for (let b = 0; b < 4; b++) {
    const spans = [];
    for (let i = 0; i < 5000; i++) {
      const k = b * 5000 + i + 2;
      spans.push(span({ trace: T, id: k, parent: 2 + Math.floor((k - 2) / 50) * 0 + (k > 101 ? 2 + ((k - 2) % 100) : 1), start: NOW + BigInt(k) * 1000n,
        end: NOW + BigInt(k) * 1000n + 500000n, attrs: { 'gen_ai.usage.input_tokens': 1 } }));
    }
    if (b === 0) spans.push(span({ trace: T, id: 1, start: NOW, end: NOW + 30_000_000_000n }));
    await postSpans(collector.url, spans);
  }
  const t0 = Date.now();
  await page.goto(`${query.base}/?trace=${hex(T, 32)}`);
  await page.waitForFunction(() => document.querySelector('[data-testid=span-count]')?.textContent === '20001');
  await page.waitForSelector('.row[data-id]');
  const openMs = Date.now() - t0;
  const rows = await page.locator('.row').count();
  assert.ok(rows < 200, `DOM rows bounded: ${rows}`);
  assert.equal(await page.locator('[role=treegrid]').getAttribute('aria-rowcount'), '20001');
  // scrolling 10,000 rows: timed in the page, from the scroll to the frame that shows row 10,001
  const scrollMs = await page.evaluate(() => new Promise((resolve) => {
    const v = document.querySelector('.viewport'), row = parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--row')) || 26;
    const t = performance.now();
    v.scrollTop = 10000 * row;
    const check = () => ([...document.querySelectorAll('.row:not([hidden])')].some((r) => r.getAttribute('aria-rowindex') === '10001')
      ? resolve(performance.now() - t) : requestAnimationFrame(check));
    requestAnimationFrame(check);
  }));
  await page.locator('.viewport').evaluate((v) => { v.scrollTop = v.scrollHeight; });
  await page.waitForFunction(() => [...document.querySelectorAll('.row:not([hidden])')].some((r) => r.getAttribute('aria-rowindex') === '20001'));
  assert.ok((await page.locator('.row').count()) < 200);
  await page.screenshot({ path: `${shots}ui-20k.png` });
  console.log(`# 20,001-span trace: shown in ${openMs} ms, ${rows} row elements in the DOM; 10,000 rows scrolled and drawn in ${scrollMs.toFixed(1)} ms`);
});

test('no console errors, clean exits', async () => {
  assert.deepEqual(problems, []);
  await browser.close();
  upstream.close();
  assert.deepEqual(await collector.stop(), { code: 0, sig: null });
  assert.deepEqual(await query.stop(), { code: 0, sig: null });
});

await run();
