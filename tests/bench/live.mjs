// Commit -> WebSocket frame latency (SPEC §7: p99 <= 50 ms). Each span is POSTed
// alone; the collector answers after its commit, so the commit lies between the
// request and the acknowledgement: frame-minus-ack is a lower bound of the
// latency and frame-minus-send an upper bound. Prints both, p50/p99.
// Usage: node tests/bench/live.mjs [--quick]
import WebSocket from 'ws';
import { tempDir, startCollector, startQuery, span, postSpans, hex } from '../integration/lib.mjs';

const N = process.argv.includes('--quick') ? 200 : 1000;
const data = tempDir('arbor-bench-');
const collector = await startCollector(data, ['--log-level=warn']);
const query = await startQuery(data, ['--log-level=warn']);
const NOW = 1_800_000_000_000_000_000n;
await postSpans(collector.url, [span({ trace: 0x11, id: 1, start: NOW })]);
const ws = new WebSocket(`ws://${query.query}/api/traces/${hex(0x11, 32)}/live`);
const arrived = new Map();
let waiting = null;
ws.on('message', (m) => {
  const t = performance.now();
  for (const s of JSON.parse(m.toString()).spans) {
    arrived.set(s.span_id, t);
    if (waiting && waiting.id === s.span_id) waiting.resolve();
  }
});
await new Promise((r) => ws.on('open', r));
const lower = [], upper = [];
for (let i = 0; i < N; i++) {
  const id = hex(1000 + i, 16);
  const got = new Promise((resolve) => { waiting = { id, resolve }; });
  const t0 = performance.now();
  await postSpans(collector.url, [span({ trace: 0x11, id: 1000 + i, parent: 1, start: NOW + BigInt(i) })]);
  const tAck = performance.now();
  if (!arrived.has(id)) await got;
  const tFrame = arrived.get(id);
  lower.push(Math.max(0, tFrame - tAck));
  upper.push(tFrame - t0);
}
const pct = (v, q) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(q * v.length))];
const out = { commit_to_frame_lower_p50: pct(lower, 0.5), commit_to_frame_lower_p99: pct(lower, 0.99),
  commit_to_frame_upper_p50: pct(upper, 0.5), commit_to_frame_upper_p99: pct(upper, 0.99) };
for (const [k, v] of Object.entries(out)) console.log(`${k} ${v.toFixed(2)} ms`);
console.log(JSON.stringify(out));
ws.close();
await collector.stop();
await query.stop();
process.exit(0);
