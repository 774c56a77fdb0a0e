// The declarative config tables: --help, --version, --check-config, env vs flag
// precedence, clear errors naming the setting, and docs/configuration.md in sync.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, run, BIN, tempDir, startCollector, startDaemon, eventually } from './lib.mjs';

const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
const sh = (bin, args, env = {}) => spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, ...env } });

for (const [name, bin] of Object.entries(BIN)) {
  test(`${name}: --help, --version and --check-config`, () => {
    const h = sh(bin, ['--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /--data-dir=<string>\s+\(ARBOR_DATA_DIR, default: \.\/data\)/);
    const v = sh(bin, ['--version']);
    assert.equal(v.status, 0);
    assert.match(v.stdout, /^arbor-\w+ \d+\.\d+\.\d+/);
    const c = sh(bin, ['--check-config']);
    assert.equal(c.status, 0);
    assert.match(c.stdout, /configuration is valid/);
  });

  test(`${name}: docs/configuration.md carries the table's generated section verbatim`, () => {
    const md = sh(bin, ['--config-markdown']);
    assert.equal(md.status, 0);
    assert.ok(doc.includes(md.stdout.trim()), `docs/configuration.md is missing or stale for ${name}:\n${md.stdout}`);
  });
}

test('invalid values stop startup with a message naming the setting', () => {
  const cases = [
    [[], { ARBOR_MAP_SIZE: 'lots' }, /ARBOR_MAP_SIZE/],
    [['--sync=sometimes'], {}, /--sync/],
    [['--otlp-http-addr=nowhere'], {}, /--otlp-http-addr/],
    [['--max-request-bytes=12'], {}, /--max-request-bytes.*out of range: from 1024 bytes to 2147483647 bytes/],
    [['--sync=sometimes'], {}, /not one of: commit none/],
    [['--data-dir=/etc/hostname'], {}, /ARBOR_DATA_DIR: '\/etc\/hostname' exists and is not a directory/],
    [['--map-size=1000TiB'], {}, /ARBOR_MAP_SIZE: this machine cannot map/],
    [['--otlp-http-addr=off', '--otlp-grpc-addr=off'], {}, /both off/],
    [['--http-threads=0'], {}, /--http-threads/],
    [['--no-such-flag=1'], {}, /unknown flag/],
    [['--log-level'], {}, /needs a value/],
  ];
  for (const [args, env, re] of cases) {
    const r = sh(BIN.collector, ['--check-config', ...args], env);
    assert.equal(r.status, 2, `${args} ${JSON.stringify(env)} exits 2`);
    assert.match(r.stderr, re);
  }
});

test('query: a data dir that is a file, off as its address, malformed trace links: refused at start', () => {
  const cases = [
    [['--data-dir=/etc/hostname'], {}, /exists and is not a directory/],
    [['--query-addr=off'], {}, /ARBOR_QUERY_ADDR: off is not allowed/],
    [[], { ARBOR_TRACE_LINKS: 'garbage' }, /ARBOR_TRACE_LINKS: 'garbage' is not Name=URL/],
    [[], { ARBOR_TRACE_LINKS: 'Grafana=http://g/{trace_id},=http://x' }, /'=http:\/\/x' is not Name=URL/],
    [[], { ARBOR_TRACE_LINKS: 'Logs=javascript:alert(1)' }, /is not Name=URL/],
  ];
  for (const [args, env, re] of cases) {
    const r = sh(BIN.query, ['--check-config', ...args], env);
    assert.equal(r.status, 2, `${args} ${JSON.stringify(env)} exits 2`);
    assert.match(r.stderr, re);
  }
  const ok = sh(BIN.query, ['--check-config'], { ARBOR_TRACE_LINKS: 'Grafana=https://g/{trace_id},Logs=/logs/{execution_id}' });
  assert.equal(ok.status, 0, ok.stderr);
});

// The tests run as root, whom permissions do not stop: these run the binaries as
// nobody (setpriv), on directories root made and nobody may not write.
const AS_NOBODY = ['--reuid=nobody', '--regid=nogroup', '--clear-groups'];
const asNobody = (bin, args) => spawnSync('setpriv', [...AS_NOBODY, bin, ...args], { encoding: 'utf8' });

test('--check-config refuses a data directory that cannot be created or read', () => {
  for (const [bin, args, re] of [
    [BIN.collector, ['--data-dir=/etc/hostname/data'], /ARBOR_DATA_DIR: '\/etc\/hostname\/data' cannot be reached: Not a directory/],
    [BIN.query, ['--data-dir=/etc/hostname/data'], /cannot be reached: Not a directory/],
    [BIN.collector, [`--data-dir=${tempDir()}/missing/data`], /cannot be created: '.*\/missing': does not exist \(only the last directory is created\)/],
  ]) {
    const r = sh(bin, ['--check-config', ...args]);
    assert.equal(r.status, 2, `${args}: ${r.stdout}`);
    assert.match(r.stderr, re);
  }
  const shared = tempDir();
  chmodSync(shared, 0o755); // nobody may look in, not write
  mkdirSync(path.join(shared, 'store'), { mode: 0o700 });
  const create = asNobody(BIN.collector, ['--check-config', `--data-dir=${shared}/data`]);
  assert.equal(create.status, 2, create.stdout);
  assert.match(create.stderr, /ARBOR_DATA_DIR: '.*\/data' cannot be created: '.*': Permission denied/);
  for (const bin of [BIN.collector, BIN.query]) {
    const read = asNobody(bin, ['--check-config', `--data-dir=${shared}/store`]);
    assert.equal(read.status, 2, read.stdout);
    assert.match(read.stderr, /ARBOR_DATA_DIR: '.*\/store' cannot be (written|read) by this user: Permission denied/);
  }
  const wait = asNobody(BIN.query, ['--check-config', `--data-dir=${shared}/not-yet`]);
  assert.equal(wait.status, 0, `the query waits for a store the collector will create: ${wait.stderr}`);
  const fed = asNobody(BIN.query, ['--check-config', `--data-dir=${shared}/store`, '--shards=http://127.0.0.1:1']);
  assert.equal(fed.status, 0, `federated, no local store is read: ${fed.stderr}`);
});

test('query on a store it may not read: the cause at error level (once, not per retry) and in /ready', async () => {
  const dir = tempDir();
  chmodSync(dir, 0o755);
  const store = path.join(dir, 'store');
  // the query first (its store to come), then a collector of another user makes it (mode 0700)
  const q = await startDaemon('setpriv', [...AS_NOBODY, BIN.query, `--data-dir=${store}`, '--query-addr=127.0.0.1:0'],
    { env: { ARBOR_LOG_LEVEL: 'info' } });
  assert.match(q.log, /event=ready .* store=waiting/);
  const base = `http://${q.query}`;
  assert.deepEqual(await (await fetch(`${base}/ready`)).json(), { detail: 'store not available yet: arbor-collector has not created it' });
  const c = await startCollector(store, ['--otlp-grpc-addr=off']);
  await c.stop();
  await eventually(async () => (await fetch(`${base}/ready`)).status === 503 && /level=error event=store_open_failed/.test(q.log));
  assert.match(q.log, /level=error event=store_open_failed data_dir=\S+ error="Permission denied"/);
  for (let i = 0; i < 8; i++) { // each /ready retries the open (at most 5 a second)
    const r = await fetch(`${base}/ready`);
    assert.equal(r.status, 503);
    assert.deepEqual(await r.json(), { detail: 'store cannot be opened: Permission denied' });
    await new Promise((res) => setTimeout(res, 250));
  }
  assert.equal(q.log.match(/event=store_open_failed/g).length, 1, `logged once, not per retry:\n${q.log}`);
  // made readable (LMDB writes its lock file even to read): ready
  for (const f of ['', 'data.mdb', 'lock.mdb']) chmodSync(path.join(store, f), f ? 0o666 : 0o777);
  await eventually(async () => (await fetch(`${base}/ready`)).status === 200);
  await q.stop();
});

test('query: a price table or shard list it cannot use is refused at start, naming the setting and the line', () => {
  const dir = tempDir();
  const bad = path.join(dir, 'prices');
  writeFileSync(bad, '# prices\ngpt-4o* 2.50 10.00\nclaude* cheap 15\n');
  const good = path.join(dir, 'good');
  writeFileSync(good, 'currency EUR\ngpt-4o* 2.50 10.00\n');
  const cases = [
    [{ ARBOR_PRICES: path.join(dir, 'missing') }, /ARBOR_PRICES: cannot read .*missing/],
    [{ ARBOR_PRICES: bad }, /ARBOR_PRICES: .*prices line 3: want 'model-glob input-per-million output-per-million'/],
    [{ ARBOR_SHARDS: 'http://127.0.0.1:1,ftp://shard' }, /ARBOR_SHARDS: 'ftp:\/\/shard' is not an http:\/\/ or https:\/\/ URL/],
  ];
  for (const [env, re] of cases) {
    const r = sh(BIN.query, [], { ...env, ARBOR_QUERY_ADDR: '127.0.0.1:0', ARBOR_DATA_DIR: dir });
    assert.equal(r.status, 2, `${JSON.stringify(env)} exits 2: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  const ok = sh(BIN.query, ['--check-config'], { ARBOR_PRICES: good });
  assert.equal(ok.status, 0, ok.stderr);
});

test('--check-config prints every setting as it will be used', () => {
  const r = sh(BIN.collector, ['--check-config', '--map-size=1GiB', '--sync=none'], { ARBOR_RETENTION: '2h' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ARBOR_MAP_SIZE=1073741824B$/m);
  assert.match(r.stdout, /^ARBOR_SYNC=none$/m);
  assert.match(r.stdout, /^ARBOR_RETENTION=7200000ms$/m);
  assert.match(r.stdout, /^ARBOR_OTLP_HTTP_ADDR=127\.0\.0\.1:4318$/m);
  assert.match(r.stdout, /^ARBOR_CAPTURE_CONTENT=true$/m);
  assert.match(r.stdout, /configuration is valid/);
});

test('a misspelled ARBOR_* variable is warned about, naming the closest setting', () => {
  const r = sh(BIN.collector, ['--check-config'], { ARBOR_MAP_SIZ: '1GiB', ARBOR_RETENTON: '1h', ARBOR_SEARCH_TIMEOUT: '5s' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /event=unknown_setting program=arbor-collector variable=ARBOR_MAP_SIZ closest=ARBOR_MAP_SIZE/);
  assert.match(r.stderr, /variable=ARBOR_RETENTON closest=ARBOR_RETENTION/);
  assert.doesNotMatch(r.stderr, /ARBOR_SEARCH_TIMEOUT/, "the query service's settings are left alone");
});

test('a flag wins over its environment variable', async () => {
  const d = tempDir();
  // env asks for a port that is taken by nothing in particular; the flag's ephemeral port wins
  const c = await startCollector(d, [], { env: { ARBOR_OTLP_HTTP_ADDR: '127.0.0.1:1', ARBOR_LOG_LEVEL: 'debug' } });
  assert.notEqual(c.otlp_http, '127.0.0.1:1');
  assert.match(c.log, /level=debug|event=ready/);
  assert.deepEqual(await c.stop(), { code: 0, sig: null });
});

test('otlp-http-addr=off disables the listener', async () => {
  const d = tempDir();
  const c = await startCollector(d, ['--otlp-http-addr=off']);
  assert.equal(c.otlp_http, 'off');
  assert.deepEqual(await c.stop(), { code: 0, sig: null });
});

await run();
