// Live updates received by headless Chromium's own WebSocket implementation.
import assert from 'node:assert/strict';
import { test, run, tempDir, startCollector, startQuery, span, postSpans, hex, launchChromium } from './lib.mjs';

const data = tempDir();
const collector = await startCollector(data);
const query = await startQuery(data, ['--live-quiet=300ms']);
const browser = await launchChromium();
const page = await browser.newPage();
await page.goto(`${query.base}/healthz`); // any page of the service's own origin
const NOW = 1_800_000_000_000_000_000n;

test('Chromium WebSocket: spans in commit order, placeholder replaced, complete last', async () => {
  await page.evaluate((url) => {
    window.msgs = [];
    window.ws = new WebSocket(url);
    window.ws.onmessage = (e) => window.msgs.push(JSON.parse(e.data));
    return new Promise((r) => { window.ws.onopen = r; });
  }, `ws://${query.query}/api/executions/exec-browser/trace/live`);
  const T = 0xb0;
  for (let i = 2; i <= 4; i++) {
    await postSpans(collector.url, [span({ trace: T, id: i, parent: 1, start: NOW + BigInt(i), attrs: { 'execution.id': 'exec-browser' } })]);
    await page.waitForFunction((id) => window.msgs.some((m) => m.spans.some((s) => s.span_id === id)), hex(i, 16));
  }
  await postSpans(collector.url, [span({ trace: T, id: 1, start: NOW, attrs: { 'orcheo.execution.id': 'exec-browser' } })]);
  await page.waitForFunction(() => window.msgs.some((m) => m.complete));
  const msgs = await page.evaluate(() => window.msgs);
  const real = msgs.flatMap((m) => m.spans).filter((s) => !s.attributes['arbor.placeholder']).map((s) => s.span_id);
  assert.deepEqual(real, [2, 3, 4, 1].map((i) => hex(i, 16)), 'commit order');
  assert.equal(msgs.at(-1).complete, true);
  assert.equal(msgs.find((m) => m.spans.some((s) => s.span_id === hex(1, 16) && s.name !== '(span not received yet)'))
    .spans.find((s) => s.span_id === hex(1, 16)).attributes['arbor.placeholder'], false);
  assert.ok(msgs.every((m) => m.type === 'trace:update' && m.execution_id === 'exec-browser'));
  const spans = msgs.flatMap((m) => m.spans);
  assert.ok(spans.filter((s) => !s.attributes['arbor.placeholder']).every((s) => s.service === 'test-svc'), 'each span names its service');
  assert.ok(spans.filter((s) => s.attributes['arbor.placeholder']).every((s) => !('service' in s)), 'a placeholder has none');
});

test('teardown', async () => {
  await browser.close();
  assert.deepEqual(await collector.stop(), { code: 0, sig: null });
  assert.deepEqual(await query.stop(), { code: 0, sig: null });
});

await run();
