#!/usr/bin/python3
"""OTLP/gRPC error paths with Debian's python3-grpcio (run with /usr/bin/python3).
Requests are built from the project's own descriptor set (no protoc, no
generated Python). Prints TAP."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
import gzip

import grpc
from pytap import case, run
from otlp_desc import messages

BUILD = os.path.abspath(os.environ.get("ARBOR_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build")))
COLLECTOR = os.path.join(BUILD, "collector/arbor-collector")
QUERY = os.path.join(BUILD, "query/arbor-query")
ADMIN = os.path.join(BUILD, "store/arbor-admin")
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

Request, Response, Status, RetryInfo = messages(
    BUILD, "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest",
    "opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse", "google.rpc.Status", "google.rpc.RetryInfo")

tmp_dirs, procs = [], []


class Daemon:
    def __init__(self, binary, args):
        self.proc = subprocess.Popen([binary] + args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        procs.append(self.proc)
        self.log = ""
        deadline = time.time() + 15
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log += line
            m = re.search(r"event=ready (.*)", line)
            if m:
                self.info = dict(kv.split("=", 1) for kv in m.group(1).split())
                threading.Thread(target=self._drain, daemon=True).start()
                return
        raise RuntimeError("daemon not ready:\n" + self.log)

    def _drain(self):
        for line in self.proc.stderr:
            self.log += line

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)


def collector(data, *extra):
    # the test spans start near 1970: retention (by span time) would delete them
    return Daemon(COLLECTOR, ["--data-dir=" + data, "--otlp-http-addr=off", "--otlp-grpc-addr=127.0.0.1:0",
                              "--retention=0s", *extra])


def query(data):
    return Daemon(QUERY, ["--data-dir=" + data, "--query-addr=127.0.0.1:0"])


def tempdir():
    d = tempfile.mkdtemp(prefix="arbor-py-")
    tmp_dirs.append(d)
    return d


def make_request(execution_id, n=10, trace_id=None, bad=0, payload=""):
    r = Request()
    rs = r.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "py-grpc"
    ss = rs.scope_spans.add()
    ss.scope.name = "test"
    tid = trace_id or os.urandom(16)
    for i in range(n + bad):
        s = ss.spans.add()
        s.trace_id = tid if i < n else b"\0" * 16
        s.span_id = os.urandom(8)
        s.name = "span-%d" % i
        s.start_time_unix_nano = 1_700_000_000_000_000_000 + i
        s.end_time_unix_nano = s.start_time_unix_nano + 10
        a = s.attributes.add()
        a.key, a.value.string_value = "orcheo.execution.id", execution_id
        if payload:
            a = s.attributes.add()
            a.key, a.value.string_value = "payload", payload
    return r.SerializeToString()


def export(channel, body, timeout=10, compression=None):
    call = channel.unary_unary(EXPORT)
    return call(body, timeout=timeout, compression=compression)


def get_trace(q, execution_id):
    with urllib.request.urlopen("http://%s/api/executions/%s/trace" % (q.info["query"], execution_id)) as r:
        return json.loads(r.read())


def status_details(err):
    for k, v in err.trailing_metadata() or ():
        if k == "grpc-status-details-bin":
            st = Status()
            st.ParseFromString(v)
            return st
    return None


data = tempdir()
C = collector(data, "--max-request-bytes=1MiB")
Q = query(data)
ch = grpc.insecure_channel(C.info["otlp_grpc"])


@case
def export_ok_and_visible():
    resp = Response()
    resp.ParseFromString(export(ch, make_request("py-ok", 10)))
    assert not resp.HasField("partial_success"), resp
    t = get_trace(Q, "py-ok")
    assert len(t["spans"]) == 10, len(t["spans"])


@case
def gzip_compressed_call():
    export(ch, make_request("py-gzip", 7), compression=grpc.Compression.Gzip)
    assert len(get_trace(Q, "py-gzip")["spans"]) == 7


@case
def partial_success_counts_invalid_spans():
    resp = Response()
    resp.ParseFromString(export(ch, make_request("py-partial", 3, bad=2)))
    assert resp.partial_success.rejected_spans == 2, resp
    assert "trace_id" in resp.partial_success.error_message
    assert len(get_trace(Q, "py-partial")["spans"]) == 3


@case
def garbage_is_invalid_argument():
    try:
        export(ch, b"\xff\xff\xff garbage")
        raise AssertionError("garbage accepted")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e.code()
        assert "malformed" in e.details(), e.details()


@case
def deep_nesting_is_invalid_argument():
    r = Request()
    s = r.resource_spans.add().scope_spans.add().spans.add()
    s.trace_id, s.span_id = os.urandom(16), os.urandom(8)
    v = s.attributes.add()
    v.key = "deep"
    val = v.value
    for _ in range(60):
        val = val.array_value.values.add()
    val.int_value = 1
    try:
        export(ch, r.SerializeToString())
        raise AssertionError("accepted")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "nested" in e.details(), (e.code(), e.details())


@case
def oversized_is_resource_exhausted_without_retry_info():
    try:
        export(ch, make_request("py-big", 1, payload="x" * (2 << 20)))
        raise AssertionError("accepted")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e.code()
        st = status_details(e)
        assert st is None or not any("RetryInfo" in d.type_url for d in st.details)


@case
def gzip_bomb_is_resource_exhausted():
    # 64 MiB of one attribute value compresses to ~64 KiB; the limit is 1 MiB
    try:
        export(ch, make_request("py-bomb", 1, payload="a" * (64 << 20)), compression=grpc.Compression.Gzip, timeout=60)
        raise AssertionError("accepted")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (e.code(), e.details())


def peak_rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) // 1024


@case
def gzip_bomb_is_refused_with_bounded_memory():
    # 256 MiB of zeros in one attribute: gRPC's own inflate took it all (and a copy)
    # before the size check; the bounded inflate stops at the 1 MiB limit
    body = make_request("py-big-bomb", 1, payload="\0" * (256 << 20))
    before = peak_rss_mib(C.proc.pid)
    try:
        export(ch, body, compression=grpc.Compression.Gzip, timeout=120)
        raise AssertionError("accepted")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (e.code(), e.details())
        assert "size limit" in e.details(), e.details()
    grown = peak_rss_mib(C.proc.pid) - before
    print("# peak RSS grew by %d MiB for a 256 MiB bomb" % grown)
    assert grown < 100, "peak RSS grew by %d MiB" % grown
    export(ch, make_request("py-after-bomb", 2), compression=grpc.Compression.Deflate)
    assert len(get_trace(Q, "py-after-bomb")["spans"]) == 2


@case
def two_messages_in_a_unary_call_are_refused():
    # a client-streaming call to the unary method: nothing of it is stored
    two = [make_request("py-two", 1), make_request("py-two", 2)]
    try:
        ch.stream_unary(EXPORT)(iter(two), timeout=10)
        raise AssertionError("accepted")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, (e.code(), e.details())
        assert "exactly one request message" in e.details(), e.details()
    assert get_trace(Q, "py-two")["spans"] == []


@case
def unknown_method_is_unimplemented_not_a_hang():
    t0 = time.time()
    try:
        ch.unary_unary("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")(b"", timeout=5)
        raise AssertionError("accepted")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNIMPLEMENTED, e.code()
    assert time.time() - t0 < 2, "answered promptly"


@case
def cancelled_calls_leave_the_server_healthy():
    call = ch.unary_unary(EXPORT)
    futures = [call.future(make_request("py-cancel-%d" % i, 50, payload="y" * 2000), timeout=10) for i in range(40)]
    for f in futures:
        f.cancel()
    for f in futures:
        try:
            f.result()
        except (grpc.RpcError, grpc.FutureCancelledError):
            pass
    export(ch, make_request("py-after-cancel", 2))
    assert len(get_trace(Q, "py-after-cancel")["spans"]) == 2


@case
def many_calls_in_flight():
    call = ch.unary_unary(EXPORT)
    futures = [call.future(make_request("py-many-%d" % i, 20), timeout=20) for i in range(64)]
    for f in futures:
        f.result()
    for i in (0, 31, 63):
        assert len(get_trace(Q, "py-many-%d" % i)["spans"]) == 20


@case
def store_full_is_unavailable_with_retry_info():
    d = tempdir()
    small = collector(d, "--map-size=2MiB")
    c2 = grpc.insecure_channel(small.info["otlp_grpc"])
    err = None
    for i in range(200):
        try:
            export(c2, make_request("py-full-%d" % i, 40, payload="z" * 1500))
        except grpc.RpcError as e:
            err = e
            break
    assert err is not None, "map never filled"
    assert err.code() == grpc.StatusCode.UNAVAILABLE, err.code()
    st = status_details(err)
    assert st is not None and st.code == 14, st
    ri = [d for d in st.details if d.type_url == "type.googleapis.com/google.rpc.RetryInfo"]
    assert ri, st
    info = RetryInfo()
    info.ParseFromString(ri[0].value)
    assert info.retry_delay.seconds > 0
    c2.close()
    assert small.stop() == 0, small.log
    chk = subprocess.run([ADMIN, "--data-dir=" + d, "check"], capture_output=True, text=True)
    assert chk.returncode == 0, chk.stdout


@case
def sigterm_with_calls_in_flight_loses_nothing_acknowledged():
    d = tempdir()
    c = collector(d)
    c3 = grpc.insecure_channel(c.info["otlp_grpc"])
    call = c3.unary_unary(EXPORT)
    futures = [(i, call.future(make_request("py-term-%d" % i, 30), timeout=20)) for i in range(150)]
    time.sleep(0.05)
    c.proc.send_signal(signal.SIGTERM)
    acked = []
    for i, f in futures:
        try:
            f.result()
            acked.append(i)
        except grpc.RpcError as e:
            assert e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), e.code()
    assert c.proc.wait(timeout=30) == 0, c.log
    c3.close()
    q = query(d)
    for i in acked:
        assert len(get_trace(q, "py-term-%d" % i)["spans"]) == 30, i
    q.stop()
    print("# %d/150 calls acknowledged before SIGTERM, all present" % len(acked))


# An HTTP/2 client's opening: the preface and an empty SETTINGS frame.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def read_until_closed(sock, limit_s):
    """Everything the server sends until it closes; raises if it is still open after limit_s."""
    sock.settimeout(limit_s)
    data = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def eventually(check, timeout=30):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@case
def idle_connections_are_closed_within_the_idle_bound():
    c = collector(tempdir(), "--grpc-max-connection-idle=1s")
    port = int(c.info["otlp_grpc"].rsplit(":", 1)[1])
    try:
        talker = socket.create_connection(("127.0.0.1", port))
        talker.sendall(PREFACE)  # then nothing
        mute = socket.create_connection(("127.0.0.1", port))  # not even the preface
        t0 = time.monotonic()
        said = read_until_closed(talker, 60)
        read_until_closed(mute, 60)
        took = time.monotonic() - t0
        # SETTINGS then GOAWAY (type 7), then the close: no sooner than the bound
        assert took >= 0.9, took
        assert any(said[i + 3] == 7 for i in range(0, len(said) - 9)), said
        ok_channel = grpc.insecure_channel(c.info["otlp_grpc"])
        export(ok_channel, make_request("py-idle", 1))  # a client reconnects and exports
        ok_channel.close()
    finally:
        assert c.stop() == 0, c.log
    print("# idle connections closed after %.2f s (bound 1 s)" % took)


@case
def idle_connections_past_the_cap_leave_grpc_and_http_ingest_working():
    # a low limit on open files, as in the report that 300 idle gRPC connections
    # ended all ingest: gRPC 1.51's own listener stops at its first EMFILE
    d = tempdir()
    c = Daemon("prlimit", ["--nofile=200:200", COLLECTOR, "--data-dir=" + d, "--otlp-http-addr=127.0.0.1:0",
                           "--otlp-grpc-addr=127.0.0.1:0", "--retention=0s", "--max-connections=16"])
    port = int(c.info["otlp_grpc"].rsplit(":", 1)[1])
    idle = []
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(PREFACE)
            idle.append(s)
        ch2 = grpc.insecure_channel(c.info["otlp_grpc"])
        export(ch2, make_request("py-cap", 3), timeout=30)
        ch2.close()
        req = urllib.request.Request("http://%s/v1/traces" % c.info["otlp_http"], data=b"{}",
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200
        assert open_fds(c.proc.pid) < 200
        closed = sum(1 for s in idle if closed_by_server(s))
        assert closed >= 300 - 16, "the idlest went to make room: %d of 300 closed" % closed
        assert "event=connection_closed proto=otlp_grpc reason=connection_cap max_connections=16" in c.log, c.log
    finally:
        for s in idle:
            s.close()
        assert c.stop() == 0, c.log


def closed_by_server(s):
    """Reads what is there without waiting: did the server close the connection?"""
    try:
        while True:
            chunk = s.recv(65536, socket.MSG_DONTWAIT)
            if not chunk:
                return True
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def tcp_sockets(port):
    """(state, rx_queue, inode) of every socket on local port @p port."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1].endswith(":%04X" % port):
                    yield fields[3], int(fields[4].split(":")[1], 16), int(fields[9])


def accept_backlog(port):
    """Connections the kernel holds for a listener on @p port, not yet accepted."""
    return sum(rx for state, rx, _ in tcp_sockets(port) if state == "0A")


def accepted(port):
    """Connections to @p port a process has accepted (a queued one has no inode yet)."""
    return sum(1 for state, _, inode in tcp_sockets(port) if state == "01" and inode != 0)


@case
def the_http_receiver_holds_no_more_connections_than_the_cap():
    c = collector(tempdir(), "--otlp-http-addr=127.0.0.1:0", "--otlp-grpc-addr=off", "--max-connections=16",
                  "--http-threads=2")
    host, port = c.info["otlp_http"].rsplit(":", 1)
    held = [socket.create_connection((host, int(port))) for _ in range(40)]
    try:
        # 16 taken, the other 24 left waiting in the kernel's queue (a receiver
        # without a cap takes all 40 and leaves none)
        eventually(lambda: accepted(int(port)) == 16 and accept_backlog(int(port)) == 24)
        for s in held:
            s.close()
        req = urllib.request.Request("http://%s/v1/traces" % c.info["otlp_http"], data=b"{}",
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200
    finally:
        for s in held:
            s.close()
        assert c.stop() == 0, c.log


@case
def daemons_exit_cleanly():
    ch.close()
    assert C.stop() == 0, C.log
    assert Q.stop() == 0, Q.log


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
    for d in tmp_dirs:
        shutil.rmtree(d, ignore_errors=True)


run(cleanup)
