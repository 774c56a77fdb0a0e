// Shared by the benchmark scripts: run the C load generator as a latency probe.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { BUILD } from '../integration/lib.mjs';

export const LOADGEN = path.join(BUILD, 'tests/bench/loadgen');

// p50/p99 of N sequential keep-alive GETs (one connection), measured in C.
export function probe(name, url, { requests = 2000, header } = {}) {
  const args = ['--url', url, '--proto', 'h1', '--method', 'GET', '--connections', '1', '--requests', String(requests),
    '--warmup', '0', '--name', name];
  if (header) args.push('--header', header);
  const r = spawnSync(LOADGEN, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`loadgen ${name}: ${r.stderr}${r.stdout}`);
  const res = JSON.parse(r.stdout.trim().split('\n').at(-1));
  if (res.last_status !== 200) throw new Error(`${name}: HTTP ${res.last_status}`);
  console.log(`${name}_p50 ${res.p50_ms.toFixed(3)} ms`);
  console.log(`${name}_p99 ${res.p99_ms.toFixed(3)} ms`);
  return { p50: res.p50_ms, p99: res.p99_ms };
}

export function rssKb(pid) {
  const s = spawnSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }).stdout;
  return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1]), hwm: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1]),
    anon: Number(/RssAnon:\s+(\d+)/.exec(s)?.[1]) };
}
