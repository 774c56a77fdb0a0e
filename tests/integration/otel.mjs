// Real OpenTelemetry JS SDK + exporters emitting Orcheo-shaped workflow traces.
import assert from 'node:assert/strict';
import { trace, context, SpanStatusCode, SpanKind } from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { Metadata, credentials } from '@grpc/grpc-js';

// headers: sent as HTTP headers, or as gRPC call metadata; tls: {ca, cert?, key?}
// PEM buffers for https:// and gRPC over TLS (cert and key: a client certificate)
export function makeProvider({ protocol, url, gzip = false, batch = false, service = 'orcheo-backend', headers, tls }) {
  const Exporter = { proto: ProtoExporter, json: JsonExporter, grpc: GrpcExporter }[protocol];
  const extra = {};
  if (headers && protocol === 'grpc') {
    extra.metadata = new Metadata();
    for (const [k, v] of Object.entries(headers)) extra.metadata.set(k, v);
  } else if (headers) {
    extra.headers = headers;
  }
  if (tls && protocol === 'grpc') extra.credentials = credentials.createSsl(tls.ca, tls.key ?? null, tls.cert ?? null);
  else if (tls) extra.httpAgentOptions = { ca: tls.ca, cert: tls.cert, key: tls.key };
  const exporter = new Exporter({ url, compression: gzip ? 'gzip' : 'none', timeoutMillis: 30000, ...extra });
  // batch: true, or the BatchSpanProcessor's own options
  const processor = batch ? new BatchSpanProcessor(exporter, { scheduledDelayMillis: 50, ...(batch === true ? {} : batch) })
    : new SimpleSpanProcessor(exporter);
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [processor],
  });
}

// Orcheo's shape: node spans are zero-length children of `workflow.execution`,
// carry orcheo.token.* and orcheo.node.latency_ms, and the root ends (and so is
// exported) last, carrying orcheo.execution.id.
export async function orcheoRun(provider, { executionId, nodes = 3, error = false, cancelled = false } = {}) {
  const tracer = provider.getTracer('orcheo_backend.app.workflow_execution', '0.16.1');
  const t0 = Date.now() - 10000;
  const root = tracer.startSpan('workflow.execution', { startTime: t0, kind: SpanKind.INTERNAL });
  root.setAttribute('orcheo.workflow.id', 'wf-1');
  root.setAttribute('orcheo.execution.thread_id', 'thread-7');
  const ctx = trace.setSpan(context.active(), root);
  const ids = [];
  for (let i = 0; i < nodes; i++) {
    const at = t0 + 1000 * (i + 1);
    const s = tracer.startSpan(`node-${i}`, { startTime: at, kind: SpanKind.INTERNAL }, ctx);
    s.setAttributes({
      'orcheo.node.id': `n${i}`, 'orcheo.node.kind': 'llm', 'orcheo.node.status': 'success',
      'orcheo.node.latency_ms': 250, 'orcheo.token.input': 10 + i, 'orcheo.token.output': 20 + i,
      'orcheo.artifact.ids': [`art-${i}`],
    });
    s.addEvent('prompt', { preview: `question ${i}` }, at);
    s.addEvent('response', { preview: `answer ${i}` }, at);
    s.setStatus({ code: SpanStatusCode.OK });
    s.end(at); // zero-length, like Orcheo
    ids.push(s.spanContext().spanId);
  }
  root.setAttribute('orcheo.execution.id', executionId);
  if (cancelled) root.addEvent('workflow.cancelled', { reason: 'cancelled' });
  if (error || cancelled) root.setStatus({ code: SpanStatusCode.ERROR, message: error ? 'boom' : 'cancelled' });
  else root.setStatus({ code: SpanStatusCode.OK });
  root.end(t0 + 1000 * (nodes + 2));
  await provider.forceFlush();
  return { traceId: root.spanContext().traceId, rootId: root.spanContext().spanId, nodeIds: ids, t0 };
}

// Every rule of the Canvas contract that a finished Orcheo run must satisfy.
export function assertCompletedRun(body, run, executionId, nodes) {
  assert.deepEqual(Object.keys(body).slice(0, 3), ['execution', 'spans', 'page_info']);
  const ex = body.execution;
  for (const k of ['id', 'status', 'thread_id', 'started_at', 'finished_at', 'trace_id', 'token_usage'])
    assert.ok(k in ex, `execution.${k} present`);
  assert.equal(ex.id, executionId);
  assert.equal(ex.status, 'completed');
  assert.equal(ex.trace_id, run.traceId);
  assert.equal(ex.thread_id, 'thread-7');
  assert.match(ex.started_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$/);
  assert.match(ex.finished_at, /Z$/);
  const sumIn = [...Array(nodes).keys()].reduce((a, i) => a + 10 + i, 0);
  const sumOut = [...Array(nodes).keys()].reduce((a, i) => a + 20 + i, 0);
  assert.deepEqual(ex.token_usage, { input: sumIn, output: sumOut });
  assert.deepEqual(body.page_info, { has_next_page: false, cursor: null });
  assert.equal(body.spans.length, nodes + 1);
  // pre-order: root first, then nodes by start time
  const [root, ...kids] = body.spans;
  assert.equal(root.span_id, run.rootId);
  assert.equal(root.parent_span_id, null);
  assert.equal(root.name, 'workflow.execution');
  assert.equal(root.status.code, 'OK');
  assert.deepEqual(kids.map((s) => s.span_id), run.nodeIds);
  for (const [i, s] of kids.entries()) {
    for (const k of ['span_id', 'parent_span_id', 'name', 'start_time', 'end_time', 'attributes', 'events', 'status', 'links'])
      assert.ok(k in s, `span.${k} present`);
    assert.match(s.span_id, /^[0-9a-f]{16}$/);
    assert.equal(s.parent_span_id, run.rootId);
    assert.equal(s.name, `node-${i}`);
    assert.equal(s.attributes['orcheo.token.input'], 10 + i);
    assert.deepEqual(s.attributes['orcheo.artifact.ids'], [`art-${i}`]);
    // the Canvas's token badges read gen_ai.usage.*; Arbor adds them
    assert.equal(s.attributes['gen_ai.usage.input_tokens'], 10 + i);
    assert.equal(s.attributes['gen_ai.usage.output_tokens'], 20 + i);
    assert.deepEqual(s.token_usage, { input: 10 + i, output: 20 + i });
    assert.deepEqual(s.events.map((e) => e.name), ['prompt', 'response']);
    assert.equal(s.events[0].attributes.preview, `question ${i}`);
    // zero-length node spans are shown starting latency_ms before their end
    assert.equal(Date.parse(s.end_time) - Date.parse(s.start_time), 250);
    assert.equal(s.status.code, 'OK');
  }
}

