// Delivery through the real OpenTelemetry Collector (SPEC §9): Arbor killed and
// restarted mid-stream. The Collector's retry and its persistent (file_storage)
// sending queue must deliver every span; Arbor's idempotent writes keep any
// resent one from counting twice. Spans are counted in the store, per trace and
// in total. Then back-pressure: an Arbor whose writer commits at most once a
// second (ARBOR_COMMIT_INTERVAL) with a small queue (ARBOR_MAX_QUEUE_SPANS)
// answers UNAVAILABLE to a burst, deterministically; the Collector retries until
// every span is in, once.
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { test, setup, run, tempDir, startCollector, startQuery, getJson, eventually, freePort, startOtelcol } from './lib.mjs';
import { trace, context } from '@opentelemetry/api';
import { makeProvider } from './otel.mjs';

const OTELCOL = process.env.ARBOR_OTELCOL;
let dir, data, arbor, query, grpcPort, otelcol;

// Arbor's collector on a fixed port (a restart must come back where the Collector sends).
const startArbor = () => startCollector(data, [`--otlp-grpc-addr=127.0.0.1:${grpcPort}`, '--otlp-http-addr=off']);

setup('Arbor, and a Collector with retry and a file-backed sending queue in front of it', async () => {
  assert.ok(OTELCOL, 'ARBOR_OTELCOL is unset: tests/run builds the Collector (tests/collector/build) and sets it');
  dir = tempDir('arbor-delivery-');
  data = tempDir();
  grpcPort = await freePort();
  arbor = await startArbor();
  query = await startQuery(data);
  const inPort = await freePort();
  mkdirSync(path.join(dir, 'queue'));
  const config = path.join(dir, 'otelcol.yaml');
  writeFileSync(config, `
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${inPort} } } }
processors:
  batch: { send_batch_size: 600, send_batch_max_size: 600, timeout: 100ms }
extensions:
  file_storage/queue: { directory: ${path.join(dir, 'queue')} }
exporters:
  otlp/arbor:
    endpoint: 127.0.0.1:${grpcPort}
    tls: { insecure: true }
    compression: gzip
    retry_on_failure: { enabled: true, initial_interval: 100ms, max_interval: 1s, max_elapsed_time: 0s }
    sending_queue: { enabled: true, storage: file_storage/queue, num_consumers: 4 }
service:
  extensions: [file_storage/queue]
  telemetry: { metrics: { level: none } }
  pipelines: { traces: { receivers: [otlp], processors: [batch], exporters: [otlp/arbor] } }
`);
  otelcol = { ...await startOtelcol(config), url: `http://127.0.0.1:${inPort}` };
});

// @p traces traces of @p spans spans each, through the Collector, as fast as the SDK goes.
async function send(prefix, traces, spans) {
  const provider = makeProvider({ protocol: 'grpc', url: otelcol.url, batch: { maxExportBatchSize: 512, maxQueueSize: 100000 } });
  const tracer = provider.getTracer('delivery-test');
  const ids = [];
  for (let t = 0; t < traces; t++) {
    const root = tracer.startSpan(`${prefix}-root-${t}`);
    root.setAttribute('orcheo.execution.id', `${prefix}-${t}`);
    const ctx = trace.setSpan(context.active(), root);
    for (let s = 1; s < spans; s++) tracer.startSpan(`${prefix}-${t}-${s}`, {}, ctx).end();
    root.end();
    ids.push(root.spanContext().traceId);
  }
  await provider.forceFlush();
  await provider.shutdown();
  return ids;
}

async function countSpans(traceIds) {
  let total = 0;
  for (const id of traceIds) {
    const r = await getJson(`${query.base}/api/traces/${id}/tree?limit=1000`);
    total += r.status === 200 ? r.body.spans.length : 0;
  }
  return total;
}

test('Arbor killed -9 and restarted mid-stream: every span arrives, none twice', async () => {
  const sending = send('restart', 40, 50); // 2,000 spans
  await eventually(async () => (await getJson(`${query.base}/api/traces?limit=5`)).body.traces?.length > 0, { timeoutMs: 30000 });
  await arbor.stop('SIGKILL');
  const ids = await sending; // the SDK hands everything to the Collector, which queues it on disk
  arbor = await startArbor();
  await eventually(async () => (await countSpans(ids)) === 2000, { timeoutMs: 60000, intervalMs: 500 });
  for (const id of ids) {
    const r = await getJson(`${query.base}/api/traces/${id}/tree?limit=1000`);
    assert.equal(r.body.spans.length, 50, `trace ${id}`);
    assert.equal(new Set(r.body.spans.map((s) => s.span_id)).size, 50, 'each span once');
  }
});

test('Arbor answering UNAVAILABLE while its queue is full: the Collector retries until every span is in, once', async () => {
  const slowData = tempDir(), slowPort = await freePort(), inPort = await freePort();
  const slow = await startCollector(slowData, [`--otlp-grpc-addr=127.0.0.1:${slowPort}`, '--otlp-http-addr=off',
    '--commit-interval=1s', '--max-queue-spans=1000']);
  const slowQuery = await startQuery(slowData);
  const config = path.join(dir, 'otelcol-busy.yaml');
  writeFileSync(config, `
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${inPort} } } }
processors:
  batch: { send_batch_size: 500, send_batch_max_size: 500, timeout: 50ms }
exporters:
  otlp/arbor:
    endpoint: 127.0.0.1:${slowPort}
    tls: { insecure: true }
    retry_on_failure: { enabled: true, initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 0s }
    sending_queue: { enabled: true, num_consumers: 8, queue_size: 1000 }
service:
  telemetry: { metrics: { level: none } }
  pipelines: { traces: { receivers: [otlp], processors: [batch], exporters: [otlp/arbor] } }
`);
  const busy = await startOtelcol(config);
  try {
    const prev = otelcol;
    otelcol = { url: `http://127.0.0.1:${inPort}` };
    const ids = await send('busy', 60, 50); // 3,000 spans: six batches, eight senders, 1,000 may wait
    otelcol = prev;
    const count = async () => {
      let total = 0;
      for (const id of ids) {
        const r = await getJson(`${slowQuery.base}/api/traces/${id}/tree?limit=1000`);
        total += r.status === 200 ? r.body.spans.length : 0;
      }
      return total;
    };
    await eventually(async () => (await count()) === 3000, { timeoutMs: 60000, intervalMs: 500 });
    assert.match(busy.log(), /Unavailable|UNAVAILABLE/, 'the Collector was told to back off');
    assert.match(busy.log(), /writer queue is full/);
    for (const id of ids) {
      const r = await getJson(`${slowQuery.base}/api/traces/${id}/tree?limit=1000`);
      assert.equal(new Set(r.body.spans.map((s) => s.span_id)).size, 50, `trace ${id}: each span once`);
      assert.equal(r.body.spans.length, 50);
    }
  } finally {
    await busy.stop();
    await slowQuery.stop();
    await slow.stop();
  }
});

await run();
