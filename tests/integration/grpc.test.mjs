// OTLP/gRPC with the real @opentelemetry/exporter-trace-otlp-grpc: the same
// trees as over HTTP, plain and gzip, and both receivers writing at once.
import assert from 'node:assert/strict';
import { test, run, tempDir, startCollector, startQuery, getJson, admin } from './lib.mjs';
import { makeProvider, orcheoRun, assertCompletedRun } from './otel.mjs';

const data = tempDir();
const collector = await startCollector(data);
const query = await startQuery(data);
const traceOf = async (id) => (await getJson(`${query.base}/api/executions/${id}/trace`)).body;

for (const gzip of [false, true]) {
  test(`grpc${gzip ? '+gzip' : ''} exporter: an Orcheo run reads back exactly as over HTTP`, async () => {
    const g = makeProvider({ protocol: 'grpc', url: collector.grpcUrl, gzip });
    const id = `exec-grpc-${gzip}`;
    const r = await orcheoRun(g, { executionId: id, nodes: 4 });
    await g.shutdown();
    const viaGrpc = await traceOf(id);
    assertCompletedRun(viaGrpc, r, id, 4);
  });
}

test('the same spans over gRPC and over HTTP give identical span JSON', async () => {
  // one provider per protocol, spans built identically; compare all but IDs/times
  const strip = (b) => b.spans.map(({ span_id, parent_span_id, start_time, end_time, trace_id, seq, events, ...rest }) =>
    ({ ...rest, attributes: { ...rest.attributes, 'orcheo.execution.id': 'x' }, events: events.map(({ time, ...e }) => e) }));
  const g = makeProvider({ protocol: 'grpc', url: collector.grpcUrl });
  const h = makeProvider({ protocol: 'proto', url: collector.url });
  await orcheoRun(g, { executionId: 'exec-cmp-grpc', nodes: 3 });
  await orcheoRun(h, { executionId: 'exec-cmp-http', nodes: 3 });
  await g.shutdown();
  await h.shutdown();
  const a = await traceOf('exec-cmp-grpc'), b = await traceOf('exec-cmp-http');
  assert.deepEqual(strip(a), strip(b));
  assert.equal(a.execution.status, b.execution.status);
  assert.deepEqual(a.execution.token_usage, b.execution.token_usage);
});

test('both receivers writing at the same time: every run complete, store consistent', async () => {
  const runs = [];
  for (let i = 0; i < 12; i++) {
    const protocol = ['grpc', 'proto', 'json'][i % 3];
    const url = protocol === 'grpc' ? collector.grpcUrl : collector.url;
    runs.push((async () => {
      const p = makeProvider({ protocol, url, batch: i % 2 === 0 });
      const r = await orcheoRun(p, { executionId: `exec-mixed-${i}`, nodes: 20 });
      await p.shutdown();
      return r;
    })());
  }
  const done = await Promise.all(runs);
  for (const [i, r] of done.entries()) {
    const b = await traceOf(`exec-mixed-${i}`);
    assert.equal(b.spans.length, 21, `exec-mixed-${i}`);
    assert.equal(b.execution.trace_id, r.traceId);
    assert.equal(b.execution.status, 'completed');
  }
  const check = admin(data, 'check');
  assert.equal(check.status, 0, check.stdout);
});

test('daemons exit cleanly', async () => {
  assert.deepEqual(await collector.stop(), { code: 0, sig: null });
  assert.deepEqual(await query.stop(), { code: 0, sig: null });
});

await run();
