// SPEC §8 redaction at ingest: Orcheo's built-in rules, a PCRE2 patterns file and
// key globs, over OTLP/JSON and protobuf (the real OTel JS exporter), in span and
// event attributes. Spans are stored uncompressed here, so a grep of data.mdb
// would find any secret that reached the store.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, setup, run, tempDir, startCollector, startQuery, getJson, span, hex, postSpans, eventually, BUILD } from './lib.mjs';
import { makeProvider } from './otel.mjs';

let data, collector, query;
const SECRETS = {
  assignment: 'ABCD1234EFGH5678', // api_key=... (Orcheo's secrets rule keeps the label)
  email: 'alice.smith@example.com',
  card: '4111 1111 1111 1111',
  ssn: '123-45-6789',
  custom: 'internal-project-4242',
  keyGlob: 'plain-value-only-the-key-betrays',
  header: 'Bearer sk-header-secret-0987',
};
const KEEP = 'harmless-visible-marker';

setup('a collector with every redaction rule, spans stored uncompressed', async () => {
  data = tempDir();
  const patterns = path.join(data, '..', `patterns-${process.pid}`);
  writeFileSync(patterns, '# operator rules\ninternal-project-[0-9]+\n');
  collector = await startCollector(data, ['--span-compression=none', '--redact=secrets,emails,cards,ssn',
    `--redact-patterns=${patterns}`, '--redact-keys=*.api_key,http.request.header.authorization']);
  query = await startQuery(data);
});

const attrs = (tag) => ({
  'gen_ai.prompt': `${tag}: my api_key=${SECRETS.assignment}, mail ${SECRETS.email}, card ${SECRETS.card}`,
  'note': `ssn ${SECRETS.ssn} for ${SECRETS.custom}; ${KEEP}-${tag}`,
  'llm.api_key': SECRETS.keyGlob,
  'http.request.header.authorization': SECRETS.header,
});

test('OTLP/JSON: span and event attributes are redacted before storage', async () => {
  const trace = hex(0x5ec, 32);
  await postSpans(collector.url, [span({ trace, id: 1, attrs: attrs('json'),
    events: [{ name: 'prompt', attrs: { preview: `token: ${SECRETS.assignment} from ${SECRETS.email}` } }] })]);
  const s = await getJson(`${query.base}/api/traces/${trace}/spans/${hex(1, 16)}`);
  assert.equal(s.status, 200, s.text);
  for (const v of Object.values(SECRETS)) assert.ok(!s.text.includes(v), `${v} in ${s.text}`);
  assert.ok(s.text.includes('api_key= [REDACTED]'), 'a secret keeps its label');
  assert.ok(s.text.includes(`${KEEP}-json`), 'the rest of the value stays');
});

test('protobuf from the OTel JS exporter: the same rules', async () => {
  const provider = makeProvider({ protocol: 'proto', url: collector.url });
  const tracer = provider.getTracer('redact-test');
  const sp = tracer.startSpan('llm-call', { attributes: attrs('proto') });
  sp.addEvent('response', { text: `key=${SECRETS.assignment}`, contact: SECRETS.email });
  sp.end();
  await provider.forceFlush();
  await provider.shutdown();
  const { traceId, spanId } = sp.spanContext();
  const s = await eventually(async () => {
    const r = await getJson(`${query.base}/api/traces/${traceId}/spans/${spanId}`);
    return r.status === 200 && r;
  });
  for (const v of Object.values(SECRETS)) assert.ok(!s.text.includes(v), `${v} in ${s.text}`);
  assert.ok(s.text.includes(`${KEEP}-proto`));
});

test('data.mdb holds none of the secrets, and does hold the harmless text (the grep can see)', () => {
  const file = readFileSync(path.join(data, 'data.mdb'));
  for (const [name, v] of Object.entries(SECRETS)) assert.equal(file.indexOf(v), -1, `${name} (${v}) is in data.mdb`);
  assert.ok(file.indexOf(`${KEEP}-json`) >= 0 && file.indexOf(`${KEEP}-proto`) >= 0, 'the control text is stored as is');
});

test('redactions are counted on /metrics', async () => {
  const m = await fetch(`${query.base}/metrics`).then((r) => r.text());
  const n = Number(/^arbor_values_redacted_total (\d+)$/m.exec(m)?.[1]);
  // per span: assignment, email, card in the prompt; ssn, custom in the note; two keys; plus the event's two
  assert.equal(n, 2 * 7 + 2 + 2, m);
});

test('an announced execution ID passes the same rules, so it maps as the same ID on a span would', async () => {
  const trace = hex(0x5e3, 32);
  const r = await fetch(`${collector.base}/v1/executions`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ execution_id: `run api_key=${SECRETS.assignment}`, trace_id: trace }) });
  assert.equal(r.status, 200, await r.text());
  const mapped = await getJson(`${query.base}/api/executions/${encodeURIComponent('run api_key= [REDACTED]')}/trace`);
  assert.equal(mapped.body.execution.trace_id, trace, 'stored under the redacted ID');
  const raw = await getJson(`${query.base}/api/executions/${encodeURIComponent(`run api_key=${SECRETS.assignment}`)}/trace`);
  assert.equal(raw.body.execution.trace_id, null, 'not under the ID as sent');
});

// Secrets after a NUL byte and in fields OTLP does not define, in every kind of
// string, over protobuf (HTTP) and gRPC (grpcio): judged on the bytes that are
// stored, so none reaches data.mdb or a reader; the NULs themselves come back
// escaped on every JSON route, never cut.
const SMUGGLER = new URL('smuggle_request.py', import.meta.url).pathname;
const smuggle = (trace, ...how) => spawnSync('/usr/bin/python3', [SMUGGLER, BUILD, trace, ...how], { maxBuffer: 1 << 20 });

test('a secret behind a NUL byte or in an unknown field: redacted on the bytes stored (protobuf and gRPC)', async () => {
  const viaHttp = hex(0x5e1, 32), viaGrpc = hex(0x5e2, 32);
  const body = smuggle(viaHttp, 'body');
  assert.equal(body.status, 0, body.stderr.toString());
  const r = await fetch(collector.url, { method: 'POST', body: body.stdout,
    headers: { 'content-type': 'application/x-protobuf' } });
  assert.equal(r.status, 200, await r.text());
  const g = smuggle(viaGrpc, 'grpc', collector.grpcUrl.replace(/^http:\/\//, ''));
  assert.equal(g.stdout.toString().trim(), 'OK', g.stderr.toString());
  for (const trace of [viaHttp, viaGrpc]) {
    const s = await eventually(async () => {
      const x = await getJson(`${query.base}/api/traces/${trace}/spans/00000000000000a1`);
      return x.status === 200 && x;
    });
    assert.ok(!s.text.includes('SECRET'), s.text);
    assert.ok(s.text.includes('nul\\u0000end-visible-marker'), `the NUL comes back escaped: ${s.text}`);
    assert.ok(s.text.includes('ok\\u0000api_key= [REDACTED]'), 'the text around a redaction stays, NUL included');
    assert.equal(s.body.attributes.marker, 'nul\u0000end-visible-marker');
    const tempo = await fetch(`${query.base}/api/traces/${trace}`, { headers: { accept: 'application/protobuf' } });
    const bytes = Buffer.from(await tempo.arrayBuffer());
    assert.equal(tempo.status, 200);
    assert.equal(bytes.indexOf('SECRET'), -1, 'the Tempo protobuf route holds no secret');
    assert.ok(bytes.indexOf('nul\0end-visible-marker') >= 0, 'and holds the marker whole');
    for (const url of [`/api/traces/${trace}/trace`, `/api/v2/traces/${trace}`, `/api/traces/${trace}`]) {
      const j = await getJson(`${query.base}${url}`, { headers: { accept: 'application/json' } });
      assert.equal(j.status, 200, `${url}: ${j.text}`);
      assert.ok(!j.text.includes('SECRET'), `${url}: ${j.text}`);
      assert.ok(j.text.includes('nul\\u0000end-visible-marker'), `${url} cuts the string at its NUL: ${j.text}`);
    }
  }
  const file = readFileSync(path.join(data, 'data.mdb'));
  assert.equal(file.indexOf('SECRET'), -1, 'data.mdb holds none of the smuggled secrets');
  assert.ok(file.indexOf('nul\0end-visible-marker') >= 0, 'and holds the marker (the grep can see)');
});

await run();
