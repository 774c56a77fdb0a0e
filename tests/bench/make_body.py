#!/usr/bin/python3
"""Write a realistic OTLP ExportTraceServiceRequest (an Orcheo-like workflow:
one root span and N-1 node/LLM spans with attributes and prompt/response events)
and the byte offsets of its IDs, so the load generator can give every request
fresh trace and span IDs by patching in place.
Usage: make_body.py DESCRIPTOR_SET BODY_OUT OFFSETS_OUT [SPANS=100]
Offsets file: lines "t OFFSET" (trace ID, 16 bytes), "r OFFSET" (the root span
ID or a parent ID pointing at it, 8 bytes), "s OFFSET" (another span ID, 8 bytes)."""
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

desc, body_out, offsets_out = sys.argv[1:4]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 100
fds = descriptor_pb2.FileDescriptorSet()
fds.ParseFromString(open(desc, "rb").read())
pool = descriptor_pool.DescriptorPool()
for f in fds.file:
    pool.Add(f)
Req = message_factory.MessageFactory(pool).GetPrototype(
    pool.FindMessageTypeByName("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"))

# Marker IDs: unique byte patterns that cannot occur elsewhere, found afterwards.
TRACE = bytes([0xA7] * 16)
ROOT = bytes([0xB7] * 8)
def span_marker(i):
    return bytes([0xC7, 0xC7]) + i.to_bytes(4, "big") + bytes([0xC7, 0xC7])

# Prompt/response text: ~190 bytes of non-repeating prose per event, so that
# per-span compression (and disk figures) are not flattered by repetition.
WORDS = ("the quarter report revenue board margin growth customers churn forecast region sales "
         "pipeline hiring costs summarise explain compare previous year percent closed rose fell "
         "because product launch delayed strong weak demand europe asia america team outlook risk "
         "cash flow operating expenses guidance analyst question answer model tool call retrieved "
         "document section table figure notes appendix draft final review approve").split()
def prose(seed, size):
    import random
    rnd, out = random.Random(seed), []
    while sum(len(w) + 1 for w in out) < size:
        out.append(rnd.choice(WORDS))
    text = " ".join(out)
    return text[0].upper() + text[1:] + "."

r = Req()
rs = r.resource_spans.add()
for k, v in [("service.name", "orcheo-backend"), ("telemetry.sdk.language", "python"),
             ("telemetry.sdk.name", "opentelemetry"), ("telemetry.sdk.version", "1.39.1")]:
    kv = rs.resource.attributes.add(); kv.key = k; kv.value.string_value = v
ss = rs.scope_spans.add()
ss.scope.name = "orcheo_backend.app.workflow_execution"
t0 = 1_800_000_000_000_000_000
root = ss.spans.add()
root.trace_id, root.span_id, root.name, root.kind = TRACE, ROOT, "workflow.execution", 1
root.start_time_unix_nano, root.end_time_unix_nano = t0, t0 + 60_000_000_000
for k, v in [("orcheo.execution.id", "run-bench-0001"), ("orcheo.workflow.id", "wf-bench")]:
    kv = root.attributes.add(); kv.key = k; kv.value.string_value = v
root.status.code = 1
for i in range(1, n):
    s = ss.spans.add()
    s.trace_id, s.span_id, s.parent_span_id = TRACE, span_marker(i), ROOT
    s.name = f"node-{i % 20}"
    s.kind = 1
    s.start_time_unix_nano = t0 + i * 1_000_000
    s.end_time_unix_nano = s.start_time_unix_nano
    for k, v in [("orcheo.node.id", f"n{i}"), ("orcheo.node.kind", "llm"), ("orcheo.node.status", "success"),
                 ("orcheo.ai.model.requested", "openai:gpt-4o"), ("orcheo.ai.provider", "openai")]:
        kv = s.attributes.add(); kv.key = k; kv.value.string_value = v
    for k, v in [("orcheo.token.input", 120 + i), ("orcheo.token.output", 40), ("orcheo.node.latency_ms", 250)]:
        kv = s.attributes.add(); kv.key = k; kv.value.int_value = v
    for name in ("prompt", "response"):
        e = s.events.add(); e.name = name; e.time_unix_nano = s.start_time_unix_nano
        kv = e.attributes.add(); kv.key = "preview"; kv.value.string_value = prose(i * 2 + (name == "response"), 190)
    s.status.code = 1
body = r.SerializeToString()
open(body_out, "wb").write(body)

def find_all(pattern):
    out, at = [], body.find(pattern)
    while at >= 0:
        out.append(at)
        at = body.find(pattern, at + 1)
    return out

lines = [f"t {o}" for o in find_all(TRACE)] + [f"r {o}" for o in find_all(ROOT)]
for i in range(1, n):
    found = find_all(span_marker(i))
    assert len(found) == 1, i
    lines.append(f"s {found[0]}")
assert len(find_all(TRACE)) == n and len(find_all(ROOT)) == n
open(offsets_out, "w").write("\n".join(lines) + "\n")
print(f"{len(body)} bytes, {n} spans, {len(body) / n:.0f} bytes/span")
