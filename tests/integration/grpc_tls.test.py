#!/usr/bin/python3
"""OTLP/gRPC with TLS, mTLS and auth, from Debian's python3-grpcio: ssl_channel_credentials
and call metadata (authorization, x-scope-orgid). Run with /usr/bin/python3. Prints TAP."""
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import grpc
from pytap import case, run
from otlp_desc import messages

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.abspath(os.environ.get("ARBOR_BUILD_DIR", os.path.join(HERE, "../../build")))
COLLECTOR = os.path.join(BUILD, "collector/arbor-collector")
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
WRITER, READER = "py-tls-writer", "py-tls-reader"

Request, Status, RetryInfo = messages(BUILD, "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest",
                                     "google.rpc.Status", "google.rpc.RetryInfo")


def spans(n):
    r = Request()
    ss = r.resource_spans.add().scope_spans.add()
    tid = os.urandom(16)
    for i in range(n):
        s = ss.spans.add()
        s.trace_id, s.span_id, s.name = tid, os.urandom(8), "s%d" % i
    return r.SerializeToString()

tmp = tempfile.mkdtemp(prefix="arbor-pytls-")
procs = []


def start_collector(*extra):
    """A collector with TLS, auth and multitenancy on; returns (process, grpc address)."""
    env = dict(os.environ, ARBOR_AUTH="required", ARBOR_MULTITENANCY="on",
               ARBOR_AUTH_TOKENS_FILE=os.path.join(tmp, "tokens"), ARBOR_AUTH_WRITE_SCOPES="traces:write",
               ARBOR_TLS_CERT=os.path.join(tmp, "server.pem"), ARBOR_TLS_KEY=os.path.join(tmp, "server.key"))
    data = tempfile.mkdtemp(dir=tmp)
    p = subprocess.Popen([COLLECTOR, "--data-dir=" + data, "--otlp-http-addr=off", "--otlp-grpc-addr=127.0.0.1:0",
                          "--retention=0s", *extra], env=env, stderr=subprocess.PIPE, text=True)
    procs.append(p)
    deadline, log = time.time() + 15, ""
    while time.time() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        log += line
        m = re.search(r"event=ready .*otlp_grpc=(\S+)", line)
        if m:
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            return m.group(1)
    raise RuntimeError("collector not ready:\n" + log)


def read(name):
    return open(os.path.join(tmp, name), "rb").read()


def export(addr, creds, metadata=(), body=b""):
    ch = grpc.secure_channel(addr, creds) if creds else grpc.insecure_channel(addr)
    try:
        return ch.unary_unary(EXPORT)(body, timeout=10, metadata=metadata)
    finally:
        ch.close()


def code_of(fn):
    try:
        fn()
        return grpc.StatusCode.OK
    except grpc.RpcError as e:
        return e.code()


subprocess.run(["sh", os.path.join(HERE, "make_certs.sh"), tmp], check=True)
with open(os.path.join(tmp, "tokens"), "w") as f:
    for tok, rest in ((WRITER, "acme traces:write w"), (READER, "acme traces:read r")):
        f.write("%s %s\n" % (hashlib.sha256(tok.encode()).hexdigest(), rest))

tls_addr = start_collector()
mtls_addr = start_collector("--tls-client-ca=" + os.path.join(tmp, "ca.pem"))
with open(os.path.join(tmp, "limits"), "w") as f:
    f.write("acme 1 10 0 0\n")  # one span a second: no pause refills the bucket between two calls
limited_addr = start_collector("--tenant-limits=" + os.path.join(tmp, "limits"))
server_creds = grpc.ssl_channel_credentials(root_certificates=read("ca.pem"))
client_creds = grpc.ssl_channel_credentials(root_certificates=read("ca.pem"), private_key=read("client.key"),
                                            certificate_chain=read("client.pem"))
bearer = lambda t: (("authorization", "Bearer " + t),)


@case
def tls_with_a_write_token_is_ok():
    assert code_of(lambda: export(tls_addr, server_creds, bearer(WRITER))) == grpc.StatusCode.OK


@case
def no_token_is_unauthenticated():
    assert code_of(lambda: export(tls_addr, server_creds)) == grpc.StatusCode.UNAUTHENTICATED


@case
def a_read_token_is_permission_denied():
    assert code_of(lambda: export(tls_addr, server_creds, bearer(READER))) == grpc.StatusCode.PERMISSION_DENIED


@case
def another_tenant_is_permission_denied():
    md = bearer(WRITER) + (("x-scope-orgid", "beta"),)
    assert code_of(lambda: export(tls_addr, server_creds, md)) == grpc.StatusCode.PERMISSION_DENIED


@case
def plaintext_to_the_tls_port_is_unavailable():
    assert code_of(lambda: export(tls_addr, None, bearer(WRITER))) == grpc.StatusCode.UNAVAILABLE


@case
def mtls_without_a_client_certificate_is_unavailable():
    assert code_of(lambda: export(mtls_addr, server_creds, bearer(WRITER))) == grpc.StatusCode.UNAVAILABLE


@case
def mtls_with_the_client_certificate_is_ok():
    assert code_of(lambda: export(mtls_addr, client_creds, bearer(WRITER))) == grpc.StatusCode.OK


@case
def over_the_tenant_rate_is_resource_exhausted_with_retry_info():
    assert code_of(lambda: export(limited_addr, server_creds, bearer(WRITER), spans(10))) == grpc.StatusCode.OK
    try:
        export(limited_addr, server_creds, bearer(WRITER), spans(5))
        raise AssertionError("accepted over the rate")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e.code()
        details = dict(e.trailing_metadata() or ()).get("grpc-status-details-bin")
        st = Status()
        st.ParseFromString(details)
        info = RetryInfo()
        assert st.details and st.details[0].Unpack(info), st
        assert info.retry_delay.seconds >= 1, info


def cleanup():
    for p in procs:
        p.kill()
        p.wait()
    shutil.rmtree(tmp, ignore_errors=True)


run(cleanup)
