#!/usr/bin/python3
"""Decode a Tempo protobuf body from stdin with Debian's python3-protobuf and the
project's descriptor set; print a JSON summary. argv: BUILD_DIR MESSAGE_TYPE"""
import json
import sys

from otlp_desc import messages

[Msg] = messages(sys.argv[1], sys.argv[2])
m = Msg()
m.ParseFromString(sys.stdin.buffer.read())
trace = m.trace if sys.argv[2] == "tempopb.TraceByIDResponse" else m
out = {"batches": []}
for rs in trace.resourceSpans:
    out["batches"].append({
        "resource": {kv.key: kv.value.string_value for kv in rs.resource.attributes},
        "scopes": [{"name": ss.scope.name, "spans": [{"name": s.name, "span_id": s.span_id.hex(),
                    "trace_id": s.trace_id.hex(), "parent": s.parent_span_id.hex(), "kind": s.kind,
                    "status": s.status.code, "attrs": len(s.attributes), "events": len(s.events)}
                    for s in ss.spans]} for ss in rs.scope_spans]})
if sys.argv[2] == "tempopb.TraceByIDResponse":
    out["status"] = m.status
print(json.dumps(out))
