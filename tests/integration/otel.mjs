// Real OpenTelemetry JS SDK + exporters emitting Orcheo-shaped workflow traces.
import { trace, context, SpanStatusCode, SpanKind } from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';

export function makeProvider({ protocol, url, gzip = false, batch = false, service = 'orcheo-backend' }) {
  const Exporter = { proto: ProtoExporter, json: JsonExporter, grpc: GrpcExporter }[protocol];
  const exporter = new Exporter({ url, compression: gzip ? 'gzip' : 'none', timeoutMillis: 10000 });
  const processor = batch ? new BatchSpanProcessor(exporter, { scheduledDelayMillis: 50 }) : new SimpleSpanProcessor(exporter);
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
