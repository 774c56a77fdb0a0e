// Shared by the benchmark scripts: run the C load generator as a latency probe.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { BUILD } from '../integration/lib.mjs';

export const LOADGEN = path.join(BUILD, 'tests/bench/loadgen');

// p50/p99 of N sequential keep-alive GETs (one connection), measured in C.
export function probe(name, url, opts = {}) {
  const res = probeQuiet(url, opts);
  console.log(`${name}_p50 ${res.p50.toFixed(3)} ms`);
  console.log(`${name}_p99 ${res.p99.toFixed(3)} ms`);
  return res;
}

// The same probe run `times` times, reporting the run with the median p50: a
// single 0.2 ms figure moves by a third from run to run on a shared VM.
export function probeMedian(name, url, { times = 3, ...opts } = {}) {
  const runs = [];
  for (let i = 0; i < times; i++) runs.push(probeQuiet(url, opts));
  runs.sort((a, b) => a.p50 - b.p50);
  const mid = runs[Math.floor(runs.length / 2)];
  console.log(`${name}_p50 ${mid.p50.toFixed(3)} ms (median of ${times} runs)`);
  console.log(`${name}_p99 ${mid.p99.toFixed(3)} ms`);
  return mid;
}

function probeQuiet(url, { requests = 2000, header } = {}) {
  const args = ['--url', url, '--proto', 'h1', '--method', 'GET', '--connections', '1', '--requests', String(requests),
    '--warmup', '0', '--name', 'probe'];
  if (header) args.push('--header', header);
  const r = spawnSync(LOADGEN, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`loadgen ${url}: ${r.stderr}${r.stdout}`);
  const res = JSON.parse(r.stdout.trim().split('\n').at(-1));
  if (res.last_status !== 200) throw new Error(`${url}: HTTP ${res.last_status}`);
  return { p50: res.p50_ms, p99: res.p99_ms };
}

export function rssKb(pid) {
  const s = spawnSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }).stdout;
  return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1]), hwm: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1]),
    anon: Number(/RssAnon:\s+(\d+)/.exec(s)?.[1]) };
}

// Flush dirty pages before a latency figure: gigabytes just ingested are still
// being written back by the kernel, and that writeback competes with the query
// being measured (it doubled some p99s).
export function settle() {
  spawnSync('sync');
}
