#!/usr/bin/python3
"""An ExportTraceServiceRequest that hides secrets where a reader of views would
not look: after a NUL byte in every kind of string (resource and span attributes,
scope name, span and event names, status message, link attributes, a bytes
value), in an attribute key, and in fields OTLP does not define (inside an
AnyValue, and in the span).
Built with Debian's python3-protobuf from the build's descriptor set.

  smuggle_request.py BUILD TRACE_HEX body          the request's bytes on stdout
  smuggle_request.py BUILD TRACE_HEX grpc ADDR     sent with grpcio; prints the status
Every secret starts with SECRET; the harmless text "nul\\0end-visible-marker" must
come back whole."""
import sys

import grpc

from otlp_desc import messages

build, trace_hex, mode = sys.argv[1:4]
Req, AnyValue = messages(build, "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest",
                         "opentelemetry.proto.common.v1.AnyValue")


def field(number, payload):
    """A length-delimited field's bytes (small numbers and lengths only)."""
    assert len(payload) < 128
    tag = number << 3 | 2
    head = bytes([tag]) if tag < 128 else bytes([tag & 0x7f | 0x80, tag >> 7])
    return head + bytes([len(payload)]) + payload


def kv(attrs, key, value):
    a = attrs.add()
    a.key = key
    if isinstance(value, bytes):
        a.value.bytes_value = value
    else:
        a.value.string_value = value
    return a


req = Req()
rs = req.resource_spans.add()
kv(rs.resource.attributes, "service.name", "smuggler")
kv(rs.resource.attributes, "deploy", "ok\0token=SECRETRES0001")
ss = rs.scope_spans.add()
ss.scope.name = "lib\0api_key=SECRETSCOPE01"
s = ss.spans.add()
s.trace_id = bytes.fromhex(trace_hex)
s.span_id = bytes.fromhex("00000000000000a1")
s.name = "call\0api_key=SECRETNAME001"
s.start_time_unix_nano = 1700000000000000000
s.end_time_unix_nano = 1700000001000000000
s.status.code = 2
s.status.message = "failed\0secret=SECRETSTAT001"
kv(s.attributes, "note", "ok\0api_key=SECRETATTR001")
kv(s.attributes, "blob", b"raw\0api_key=SECRETBYTE001")
kv(s.attributes, "marker", "nul\0end-visible-marker")
kv(s.attributes, "api_key=SECRETKEY0001", "a key that is itself a secret")
hidden = kv(s.attributes, "hidden", "visible")
hidden.value.MergeFromString(field(12, b"api_key=SECRETUNKN001"))  # a field AnyValue does not define
ev = s.events.add()
ev.name = "ev\0api_key=SECRETEVNT001"
ev.time_unix_nano = 1700000000500000000
link = s.links.add()
link.trace_id = bytes.fromhex(trace_hex)
link.span_id = bytes.fromhex("00000000000000b2")
kv(link.attributes, "l", "ok\0password=SECRETLINK001")
s.MergeFromString(field(50, b"token=SECRETSPAN0001"))  # a field Span does not define
body = req.SerializeToString()

if mode == "body":
    sys.stdout.buffer.write(body)
else:
    channel = grpc.insecure_channel(sys.argv[4])
    export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
    try:
        export(body, timeout=30)
        print("OK")
    except grpc.RpcError as e:
        print(e.code().name, e.details())
