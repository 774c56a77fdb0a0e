// The peer bench's Jaeger is the release SPEC §7 names (v1.75.0): the Go module
// proxy also serves v1.76, which is not an approved release. Checks the pin in
// go.mod and go.sum, and the names the bench and its docs give it; with
// ARBOR_JAEGER (a built binary) and Go at hand, the module the binary was built from.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const WANT = 'v1.75.0';
const read = (rel) => readFileSync(new URL(rel, import.meta.url), 'utf8');

test('go.mod requires Jaeger v1.75.0 and go.sum holds no other Jaeger', () => {
  assert.match(read('go.mod'), new RegExp(`^require github\\.com/jaegertracing/jaeger ${WANT.replaceAll('.', '\\.')}$`, 'm'));
  const versions = new Set([...read('go.sum').matchAll(/^github\.com\/jaegertracing\/jaeger (v[^ /]+)/gm)].map((m) => m[1]));
  assert.deepEqual([...versions], [WANT]);
});

test('the build script, the bench and docs/performance.md name the version built', () => {
  for (const f of ['build', '../peers.mjs', '../run', '../../../docs/performance.md']) {
    const text = read(f);
    assert.ok(text.includes(`Jaeger ${WANT}`), `${f} names Jaeger ${WANT}`);
    assert.doesNotMatch(text, /Jaeger v1\.76(\.0)? all-in-one/, `${f}: v1.76 is not what is built`);
  }
});

test('the built binary comes from the pinned module', { skip: !process.env.ARBOR_JAEGER && 'ARBOR_JAEGER unset' }, () => {
  const r = spawnSync('go', ['version', '-m', process.env.ARBOR_JAEGER], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`\\bmod\\s+github\\.com/jaegertracing/jaeger\\s+${WANT.replaceAll('.', '\\.')}\\s`));
});
