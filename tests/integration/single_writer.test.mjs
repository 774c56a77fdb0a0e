// One writer per data directory and one process per port: a second collector on
// the same store or the same listener fails with a message naming what is taken;
// a reader process that dies inside a read transaction has its slot freed by the
// writer, which reports it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test, run, BIN, BUILD, tempDir, startCollector, startQuery, startDaemon, getJson, postSpans, span, admin,
  eventually, Skip } from './lib.mjs';

// Run a daemon expected to fail at start; returns its exit code and log.
function startFails(bin, args) {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 30000 });
  return { code: r.status, log: r.stdout + r.stderr };
}

test('a second collector on the same data directory exits naming the directory and the holder', async () => {
  const data = tempDir();
  const first = await startCollector(data);
  await postSpans(first.url, [span({ trace: 1, id: 1, name: 'kept', attrs: { 'orcheo.execution.id': 'ex-1' } })]);
  const second = startFails(BIN.collector, [`--data-dir=${data}`, '--otlp-http-addr=127.0.0.1:0',
    '--otlp-grpc-addr=127.0.0.1:0']);
  assert.equal(second.code, 1, second.log);
  assert.match(second.log, /event=store_open_failed/);
  assert.ok(second.log.includes(`data_dir=${data}`), second.log);
  assert.match(second.log, /in use by another writer/);
  assert.match(second.log, new RegExp(`holder_pid=${first.proc.pid}\\b`));
  // the first one goes on serving, and the store is intact
  await postSpans(first.url, [span({ trace: 1, id: 2, parent: 1, name: 'after', attrs: {} })]);
  assert.deepEqual(await first.stop(), { code: 0, sig: null });
  const check = admin(data, 'check');
  assert.equal(check.status, 0, check.stdout + check.stderr);
  // once the holder is gone (even killed), the directory is free again
  const again = await startCollector(data);
  again.proc.kill('SIGKILL');
  await again.exited;
  const third = await startCollector(data);
  assert.deepEqual(await third.stop(), { code: 0, sig: null });
});

test('the store is private to its owner (0700 directory, 0600 files)', async () => {
  const data = path.join(tempDir(), 'fresh');
  const c = await startCollector(data);
  await c.stop();
  assert.equal(statSync(data).mode & 0o777, 0o700);
  for (const f of ['data.mdb', 'lock.mdb', 'writer.lock'])
    assert.equal(statSync(path.join(data, f)).mode & 0o077, 0, `${f} has no group/other bits`);
});

test('a daemon running as root says so at start', async () => {
  if (process.geteuid() !== 0) throw new Skip('not running as root here');
  const data = tempDir();
  const c = await startCollector(data);
  const q = await startQuery(data);
  assert.match(c.log, /event=running_as_root program=arbor-collector/);
  assert.match(q.log, /event=running_as_root program=arbor-query/);
  await q.stop();
  await c.stop();
});

test('the systemd units name a user that deploy/systemd/arbor.sysusers.conf creates', () => {
  const dir = new URL('../../deploy/systemd/', import.meta.url).pathname;
  const sysusers = readFileSync(path.join(dir, 'arbor.sysusers.conf'), 'utf8');
  assert.match(sysusers, /^u arbor - /m);
  for (const unit of ['arbor-collector.service', 'arbor-query.service'])
    assert.match(readFileSync(path.join(dir, unit), 'utf8'), /^User=arbor$/m, unit);
});

test('a port in use is an error naming the address, for both receivers and the query service', async () => {
  const data = tempDir();
  const first = await startCollector(data);
  const q = await startQuery(data);
  const other = tempDir();
  const http = startFails(BIN.collector, [`--data-dir=${other}`, `--otlp-http-addr=${first.otlp_http}`,
    '--otlp-grpc-addr=off']);
  assert.equal(http.code, 1, http.log);
  assert.match(http.log, new RegExp(`event=listen_failed proto=otlp_http addr=${first.otlp_http} error="Address already in use"`));
  const grpc = startFails(BIN.collector, [`--data-dir=${other}`, '--otlp-http-addr=off',
    `--otlp-grpc-addr=${first.otlp_grpc}`]);
  assert.equal(grpc.code, 1, grpc.log);
  assert.match(grpc.log, new RegExp(`event=listen_failed proto=otlp_grpc addr=${first.otlp_grpc}`));
  const query = startFails(BIN.query, [`--data-dir=${other}`, `--query-addr=${q.query}`]);
  assert.notEqual(query.code, 0, query.log);
  assert.match(query.log, new RegExp(`event=listen_failed proto=query addr=${q.query} error="Address already in use"`));
  await q.stop();
  await first.stop();
});

test('with several HTTP threads every request still lands in this collector', async () => {
  const data = tempDir();
  const c = await startCollector(data, ['--http-threads=4']);
  const q = await startQuery(data);
  for (let i = 0; i < 40; i++)
    await postSpans(c.url, [span({ trace: 7, id: i + 1, name: `s${i}`, attrs: { 'orcheo.execution.id': 'ex-mt' } })]);
  const t = await getJson(`${q.base}/api/executions/ex-mt/trace`);
  assert.equal(t.body.spans.length, 40);
  await q.stop();
  await c.stop();
});

test('a reader killed inside a read transaction: the writer frees its slot and reports it', async () => {
  const data = tempDir();
  const c = await startCollector(data, ['--reader-check-interval=200ms']);
  const q = await startQuery(data);
  await postSpans(c.url, [span({ trace: 9, id: 1, name: 'x' })]);
  const holder = spawn(path.join(BUILD, 'tests/hold-reader'), [data], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    holder.stdout.on('data', (d) => { if (/holding/.test(d)) resolve(); });
    holder.on('exit', (code) => reject(new Error(`hold-reader exited ${code}`)));
  });
  const readers = () => spawnSync('mdb_stat', ['-r', data], { encoding: 'utf8' }).stdout;
  assert.match(readers(), new RegExp(`^\\s*${holder.pid}\\s`, 'm'), 'the helper holds a reader slot');
  holder.kill('SIGKILL');
  await new Promise((r) => holder.on('exit', r));
  await eventually(() => /event=stale_readers_cleared count=1\b/.test(c.log), { timeoutMs: 30000 });
  assert.doesNotMatch(readers(), new RegExp(`^\\s*${holder.pid}\\s`, 'm'), 'its slot is free');
  await postSpans(c.url, [span({ trace: 9, id: 2, name: 'y' })]); // a commit carries the counter too
  await eventually(async () => /^arbor_stale_readers_cleared_total 1$/m.test((await getJson(`${q.base}/metrics`)).text));
  await q.stop();
  await c.stop();
});

await run();
