// Test harness: start the real binaries on 127.0.0.1 with ephemeral ports and a
// fresh data directory, and a tiny TAP runner so meson counts every case.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const BUILD = path.resolve(process.env.ARBOR_BUILD_DIR || new URL('../../build', import.meta.url).pathname);
export const BIN = {
  collector: path.join(BUILD, 'collector/arbor-collector'),
  query: path.join(BUILD, 'query/arbor-query'),
  admin: path.join(BUILD, 'store/arbor-admin'),
};

const cases = [];
export function test(name, fn) { cases.push({ name, fn }); }
// A setup step: runs in order with the tests but is not one; if it fails, the
// suite stops there ("Bail out!"), since nothing after it would mean anything.
export function setup(name, fn) { cases.push({ name, fn, setup: true }); }
// Throw from a test to report it skipped (TAP "# SKIP"), with the reason.
export class Skip extends Error {}

export async function run() {
  let n = 0, failed = 0;
  const cleanup = [];
  for (const c of cases) {
    if (c.setup) {
      try {
        await c.fn();
        console.log(`# setup: ${c.name}`);
        continue;
      } catch (e) {
        console.log(`Bail out! setup failed: ${c.name}: ${String(e && e.message || e).split('\n')[0]}`);
        for (const line of String(e && e.stack || e).split('\n')) console.log(`#   ${line}`);
        failed++;
        break;
      }
    }
    n++;
    try {
      await c.fn();
      console.log(`ok ${n} - ${c.name}`);
    } catch (e) {
      if (e instanceof Skip) {
        console.log(`ok ${n} - ${c.name} # SKIP ${e.message}`);
        continue;
      }
      failed++;
      console.log(`not ok ${n} - ${c.name}`);
      for (const line of String(e && e.stack || e).split('\n')) console.log(`#   ${line}`);
      explainDaemons();
    }
  }
  cleanUp();
  console.log(`1..${n}`);
  // The suite is over: a server or socket a bailed setup or a failed test left
  // open must not keep node (and so meson) waiting until its timeout.
  process.exit(failed ? 1 : 0);
}

const running = new Set();
const daemons = []; // every daemon started, for explainDaemons()

// After a failure: each daemon's state and the end of its log (a crash, a
// sanitizer report, an error line), so CI output says what happened.
function explainDaemons() {
  for (const d of daemons) {
    const exited = d.proc.exitCode !== null || d.proc.signalCode !== null;
    const tail = d.log.split('\n').filter((l) => exited || /level=(warn|error)|ERROR|Sanitizer|runtime error/.test(l)).slice(-25);
    if (!exited && tail.length === 0) continue;
    console.log(`#   -- ${path.basename(d.proc.spawnfile)} pid ${d.proc.pid}: ${exited ? `exited ${d.proc.exitCode ?? d.proc.signalCode}` : 'running'}`);
    for (const l of tail) console.log(`#      ${l}`);
  }
}
const dirs = [];
// Kill what is still running and remove the temp dirs: at the end of run(), and on
// exit too, so that a suite that throws before run() (a failed import, a top-level
// await) leaves no daemons behind ('exit' fires on every way out; kill() is synchronous).
function cleanUp() {
  for (const p of running) { try { p.kill('SIGKILL'); } catch {} }
  running.clear();
  for (const d of dirs.splice(0)) { try { rmSync(d, { recursive: true, force: true }); } catch {} }
}
process.on('exit', cleanUp);
// A child process the suite started itself (not through startDaemon): killed
// with the daemons at the end, so it cannot keep node (and the suite) alive.
export function track(proc) {
  running.add(proc);
  proc.on('exit', () => running.delete(proc));
  return proc;
}

// The built OpenTelemetry Collector (ARBOR_OTELCOL, from tests/collector/build)
// running @p config (a file), once it says it is ready; stop() ends it.
export async function startOtelcol(config, { env = {} } = {}) {
  const bin = process.env.ARBOR_OTELCOL;
  if (!bin) throw new Error('ARBOR_OTELCOL is unset: tests/run builds the Collector (tests/collector/build) and sets it');
  const proc = track(spawn(bin, [`--config=${config}`], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  await eventually(() => /Everything is ready/.test(log) || (proc.exitCode !== null && Promise.reject(new Error(log))),
    { timeoutMs: 30000 });
  return { proc, log: () => log,
    stop: () => new Promise((resolve) => { if (proc.exitCode !== null) { resolve(); return; } proc.on('exit', resolve); proc.kill('SIGTERM'); }) };
}

// A free local port, for a listener that cannot report the port it bound (the
// OpenTelemetry Collector's) or must come back on the same one after a restart:
// free when asked, so another process could take it first.
export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// An ARBOR_AUTH_TOKENS_FILE at @p file: { token: 'tenants scopes name' } becomes
// one line each, the token as the SHA-256 the daemons expect. Returns @p file.
export function writeTokensFile(file, tokens) {
  writeFileSync(file, Object.entries(tokens)
    .map(([t, rest]) => `${createHash('sha256').update(t).digest('hex')} ${rest}\n`).join(''));
  return file;
}

export function tempDir(prefix = 'arbor-it-') {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

// Start a daemon and wait for its `event=ready` log line; returns a handle.
export function startDaemon(bin, args, { env = {}, readyTimeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(proc);
    let log = '';
    const h = {
      proc, get log() { return log; },
      exited: new Promise((res) => proc.on('exit', (code, sig) => { running.delete(proc); res({ code, sig }); })),
      async stop(signal = 'SIGTERM', timeoutMs = 20000) {
        if (proc.exitCode !== null || proc.signalCode !== null) return h.exited;
        proc.kill(signal);
        const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
        const r = await h.exited;
        clearTimeout(t);
        return r;
      },
    };
    daemons.push(h);
    const timer = setTimeout(() => reject(new Error(`${path.basename(bin)} not ready:\n${log}`)), readyTimeoutMs);
    const onData = (d) => {
      log += d;
      const m = /event=ready (.*)/.exec(log);
      if (m && !h.ready) {
        h.ready = true;
        clearTimeout(timer);
        for (const kv of m[1].split(' ')) {
          const [k, v] = kv.split('=');
          h[k] = v;
        }
        resolve(h);
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => { if (!h.ready) { clearTimeout(timer); reject(new Error(`exited ${code}:\n${log}`)); } });
  });
}

// Test spans often carry timestamps near 1970, which retention (by span time)
// would delete a second after start: keep everything unless a test asks.
export async function startCollector(dataDir, extra = [], opts = {}) {
  const keep = extra.some((a) => a.startsWith('--retention')) ? [] : ['--retention=0s'];
  const h = await startDaemon(BIN.collector,
    [`--data-dir=${dataDir}`, '--otlp-http-addr=127.0.0.1:0', '--otlp-grpc-addr=127.0.0.1:0', ...keep, ...extra], opts);
  h.url = `http://${h.otlp_http}/v1/traces`;
  h.base = `http://${h.otlp_http}`;
  h.grpcUrl = `http://${h.otlp_grpc}`;
  return h;
}

export async function startQuery(dataDir, extra = [], opts = {}) {
  const h = await startDaemon(BIN.query, [`--data-dir=${dataDir}`, '--query-addr=127.0.0.1:0', ...extra], opts);
  h.base = `http://${h.query}`;
  return h;
}

// A kept-alive connection the server closed while idle fails the next request on
// it: a GET is retried once on a fresh connection, as browsers do (a spawnSync
// that blocks node's loop keeps undici from dropping such sockets in time).
// A refused connection is not retried: the server is gone.
export async function getJson(url, init) {
  let r;
  try {
    r = await fetch(url, init);
  } catch (e) {
    const code = e.cause?.code;
    if ((init?.method ?? 'GET') !== 'GET' || !(code === 'ECONNRESET' || code === 'UND_ERR_SOCKET')) throw e;
    r = await fetch(url, init);
  }
  const text = await r.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: r.status, headers: r.headers, body, text };
}

// Poll until fn() returns a truthy value (spans become visible once committed).
export async function eventually(fn, { timeoutMs = 10000, intervalMs = 50 } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`condition not met in ${timeoutMs} ms; last: ${last && last.stack || JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function admin(dataDir, ...args) {
  return spawnSync(BIN.admin, [`--data-dir=${dataDir}`, ...args], { encoding: 'utf8' });
}

// Test certificates (make_certs.sh: a CA, two server certificates, a client one
// and a self-signed "rogue" client one) in @p dir; returns their paths.
export function makeCerts(dir) {
  const r = spawnSync('sh', [new URL('make_certs.sh', import.meta.url).pathname, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make_certs.sh: ${r.stderr}`);
  const f = (n) => path.join(dir, n);
  return { dir, ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key'), cert2: f('server2.pem'),
    key2: f('server2.key'), clientCert: f('client.pem'), clientKey: f('client.key'), rogueCert: f('rogue.pem'),
    rogueKey: f('rogue.key') };
}

export function curl(args, input) {
  return spawnSync('curl', ['-s', '-S', ...args], { input, maxBuffer: 256 << 20 });
}

// OTLP/JSON request helpers for hand-shaped traces.
export const hex = (n, width) => BigInt(n).toString(16).padStart(width, '0');

export function span({ trace, id, parent, name = `span-${id}`, start = 1, end, status, attrs = {}, events = [] }) {
  const kv = (k, v) => ({ key: k, value: typeof v === 'string' ? { stringValue: v }
    : typeof v === 'boolean' ? { boolValue: v }
    : Array.isArray(v) ? { arrayValue: { values: v.map((x) => ({ stringValue: String(x) })) } }
    : Number.isInteger(v) ? { intValue: v } : { doubleValue: v } });
  return {
    traceId: typeof trace === 'string' ? trace : hex(trace, 32),
    spanId: typeof id === 'string' ? id : hex(id, 16),
    parentSpanId: parent === undefined ? undefined : typeof parent === 'string' ? parent : hex(parent, 16),
    name, kind: 1,
    startTimeUnixNano: String(BigInt(start)), endTimeUnixNano: String(end ?? BigInt(start) + 1000n),
    attributes: Object.entries(attrs).map(([k, v]) => kv(k, v)),
    events: events.map((e) => ({ name: e.name, timeUnixNano: String(e.time ?? BigInt(start)),
      attributes: Object.entries(e.attrs || {}).map(([k, v]) => kv(k, v)) })),
    status: status ? { code: status } : undefined,
  };
}

export async function postSpans(url, spans, resource = { 'service.name': 'test-svc' }) {
  const body = JSON.stringify({ resourceSpans: [{
    resource: { attributes: Object.entries(resource).map(([k, v]) => ({ key: k, value: { stringValue: v } })) },
    scopeSpans: [{ scope: { name: 'test-scope', version: '1.2.3' }, spans }] }] });
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`POST ${r.status}: ${text}`);
  return JSON.parse(text);
}

// ISO-8601 the way the query API writes it: microseconds when non-zero.
export function isoNs(ns) {
  ns = BigInt(ns);
  const base = new Date(Number(ns / 1000000000n) * 1000).toISOString().slice(0, 19);
  const us = (ns % 1000000000n) / 1000n;
  return us ? `${base}.${String(us).padStart(6, '0')}Z` : `${base}Z`;
}

// Debian's Chromium, headless, driven by playwright-core (no browser download).
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
