// Shared by the benchmark scripts: run the C load generator as a latency probe.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { BUILD, span } from '../integration/lib.mjs';

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
  return reportMedian(name, runs);
}

// Print and return the run with the median p50 of @p runs (probeQuiet results).
export function reportMedian(name, runs, how = '') {
  const mid = [...runs].sort((a, b) => a.p50 - b.p50)[Math.floor(runs.length / 2)];
  console.log(`${name}_p50 ${mid.p50.toFixed(3)} ms (median of ${runs.length} runs${how})`);
  console.log(`${name}_p99 ${mid.p99.toFixed(3)} ms`);
  return mid;
}

export function probeQuiet(url, { requests = 2000, header } = {}) {
  const args = ['--url', url, '--proto', 'h1', '--method', 'GET', '--connections', '1', '--requests', String(requests),
    '--warmup', '0', '--name', 'probe'];
  if (header) args.push('--header', header);
  const r = spawnSync(LOADGEN, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`loadgen ${url}: ${r.stderr}${r.stdout}`);
  const res = JSON.parse(r.stdout.trim().split('\n').at(-1));
  if (res.last_status !== 200) throw new Error(`${url}: HTTP ${res.last_status}`);
  return { p50: res.p50_ms, p99: res.p99_ms };
}

// The load generator without blocking node's loop: daemons started by this
// process log through pipes it must keep draining (with ARBOR_AUTH=required,
// arbor-query writes an audit line per request; a full pipe would stall it).
export function loadgenAsync(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(LOADGEN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)))
      : reject(new Error(`loadgen ${args.join(' ')}: ${err}${out}`))));
  });
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

// A 1,000-span Orcheo-like execution ("exec-1k", trace 1): root, 50 nodes, 19
// LLM/tool calls each, with previews and message content.
export function orcheoExecution1k(NOW) {
  const spans = [span({ trace: 1, id: 1, name: 'workflow.execution', start: NOW, end: NOW + 10n ** 10n,
    attrs: { 'orcheo.execution.id': 'exec-1k', 'orcheo.workflow.id': 'wf' } })];
  for (let n = 0; n < 50; n++) {
    spans.push(span({ trace: 1, id: 100 + n, parent: 1, name: `node-${n}`, start: NOW + BigInt(n * 1e8),
      attrs: { 'orcheo.node.kind': 'agent', 'orcheo.token.input': 100, 'orcheo.token.output': 40, 'orcheo.node.latency_ms': 250 },
      events: [{ name: 'prompt', attrs: { preview: 'Summarise the quarterly report. '.repeat(20) } }] }));
    for (let c = 0; c < 19; c++)
      spans.push(span({ trace: 1, id: 10000 + n * 100 + c, parent: 100 + n, name: `chat gpt-4o ${c}`, start: NOW + BigInt(n * 1e8 + c * 1e6),
        attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 80,
          'gen_ai.usage.output_tokens': 30, 'gen_ai.input.messages': JSON.stringify([{ role: 'user', content: 'q'.repeat(800) }]) } }));
  }
  return spans;
}
