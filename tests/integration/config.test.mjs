// The declarative config tables: --help, --version, --check-config, env vs flag
// precedence, clear errors naming the setting, and docs/configuration.md in sync.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test, run, BIN, tempDir, startCollector } from './lib.mjs';

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
    [['--max-request-bytes=12'], {}, /--max-request-bytes.*out of range/],
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
