"""Slow readers and descriptor floods against the real binaries (docs/security.md, Limits).

- Hundreds of WatchStances and ListStances that never read (a raw HTTP/2 client granting a 1-byte
  flow-control window, answering pings so keepalive does not save the server) leave query-service
  under a memory bound while stances arrive; slow watchers end with RESOURCE_EXHAUSTED; fresh
  clients are still answered; memory held for a reader is released when it goes away.
- A connection kept open by a stalled reader is closed once --max-connection-age (and its grace)
  is over.
- Each service, started with a low descriptor limit, raises it to the hard limit; flooded with
  connections past it, it keeps serving the connections it has and accepts new ones once the
  flood is gone (gRPC 1.51 alone stops accepting for good after one EMFILE).
"""
import os
import resource
import selectors
import socket
import struct
import subprocess
import threading
import time
import unittest

import grpc

import harness
from stancewire.v1 import delivery_pb2, delivery_pb2_grpc, query_pb2, query_pb2_grpc, stance_pb2
from swtest import health_pb2, health_pb2_grpc

MIB = 1 << 20
# The bound docs/security.md states for the attack below (the figure).
RSS_BOUND = 1024 * MIB
STANCE_BYTES = 8 * 1024


def raise_own_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss(pid):
    """(VmRSS, VmHWM) of a process, in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out["VmRSS"], out["VmHWM"]


def fresh_channel(address):
    """A channel on a connection of its own: grpcio otherwise shares a connection between
    channels to the same address, and a "new" client would ride on an old connection."""
    return grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])


def soft_fd_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no 'Max open files' line")


# --- a minimal HTTP/2 client that opens one gRPC call and never lets the server send --------------

def _frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def _literal(name, value):
    # HPACK "literal header field without indexing, new name", no Huffman (RFC 7541, 6.2.2).
    def string(s):
        s = s.encode()
        assert len(s) < 127
        return bytes([len(s)]) + s
    return b"\x00" + string(name) + string(value)


class StalledCall:
    """One connection, one call; the stream's window is 1 byte and is never extended."""

    def __init__(self, address, method, request):
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.setblocking(False)
        self.buffer = b""
        self.headers = 0      # HEADERS frames received on the call (initial metadata, trailers)
        self.data_bytes = 0
        self.goaway = False
        self.closed = False   # the server closed the connection
        settings = struct.pack(">HI", 2, 0) + struct.pack(">HI", 4, 1)  # no push, window 1
        block = b"".join(_literal(n, v) for n, v in (
            (":method", "POST"), (":scheme", "http"), (":path", method), (":authority", address),
            ("content-type", "application/grpc"), ("te", "trailers")))
        message = request.SerializeToString()
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + _frame(4, 0, 0, settings)
                          + _frame(1, 4, 1, block)
                          + _frame(0, 1, 1, b"\x00" + struct.pack(">I", len(message)) + message))

    def on_readable(self):
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return
        self.buffer += data
        while len(self.buffer) >= 9:
            length = int.from_bytes(self.buffer[:3], "big")
            if len(self.buffer) < 9 + length:
                break
            kind, flags = self.buffer[3], self.buffer[4]
            payload = self.buffer[9:9 + length]
            self.buffer = self.buffer[9 + length:]
            if kind == 4 and not flags & 1:      # SETTINGS: acknowledge
                self.send(_frame(4, 1, 0))
            elif kind == 6 and not flags & 1:    # PING: answer, so keepalive sees a live peer
                self.send(_frame(6, 1, 0, payload))
            elif kind == 1:
                self.headers += 1
            elif kind == 0:
                self.data_bytes += length
            elif kind == 7:
                self.goaway = True

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            pass

    def close(self):
        self.sock.close()


class StalledCalls:
    """Many stalled calls, served by one thread that answers SETTINGS and PINGs and reads frames
    but never sends WINDOW_UPDATE."""

    def __init__(self):
        self.calls = []
        self.selector = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def open(self, address, method, request, n):
        for _ in range(n):
            call = StalledCall(address, method, request)
            with self.lock:
                self.calls.append(call)
                self.selector.register(call.sock, selectors.EVENT_READ, call)

    def _run(self):
        while not self.stopping:
            with self.lock:
                if not self.calls:
                    events = []
                else:
                    events = self.selector.select(timeout=0)
            if not events:
                time.sleep(0.02)
                continue
            with self.lock:
                for key, _ in events:
                    call = key.data
                    call.on_readable()
                    if call.closed:
                        self.selector.unregister(call.sock)

    def wait(self, predicate, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if all(predicate(c) for c in self.calls):
                    return
            time.sleep(0.1)
        with self.lock:
            n = sum(1 for c in self.calls if not predicate(c))
        raise AssertionError(f"{n} of {len(self.calls)} stalled calls: not {what} after {timeout}s")

    def close(self):
        self.stopping = True
        self.thread.join()
        with self.lock:
            for c in self.calls:
                if not c.closed:
                    self.selector.unregister(c.sock)
                c.close()
            self.calls = []


def big_stance(i, prefix="s"):
    return stance_pb2.Stance(
        id=f"{prefix}{i:06d}", item_id=f"item-{prefix}{i}", actor={"id": "TUR", "name": "Turkey"},
        topic="gaza-international-stabilization-force", position=stance_pb2.POSITION_OPPOSE,
        outlet="Reuters", published={"seconds": 1760000000 + i},
        evidence={"text": "x" * STANCE_BYTES, "start": 0, "end": STANCE_BYTES})


def deliver(channel, stances, batch=100, first_seq=1):
    """Delivers `stances` on one StanceSink stream, waiting for the last acknowledgement."""
    stub = delivery_pb2_grpc.StanceSinkStub(channel)
    batches = [delivery_pb2.DeliverBatch(seq=first_seq + i // batch, stances=stances[i:i + batch])
               for i in range(0, len(stances), batch)]
    last = batches[-1].seq
    for ack in stub.Deliver(iter(batches), timeout=120):
        if ack.seq == last:
            return
    raise AssertionError("the delivery stream ended before the last acknowledgement")


class SlowReadersTest(unittest.TestCase):
    def setUp(self):
        raise_own_fd_limit()
        self.stack = harness.Stack()
        self.addCleanup(self.stack.cleanup)
        self.stack.query.start()
        self.pid = self.stack.query.proc.pid
        self.address = self.stack.query.address
        self.stalled = StalledCalls()
        self.addCleanup(self.stalled.close)

    def fresh_client_is_answered(self):
        with fresh_channel(self.address) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                                timeout=10)
            self.assertEqual(health.status, health_pb2.HealthCheckResponse.SERVING)
            page = query_pb2_grpc.QueryServiceStub(channel).ListStances(
                query_pb2.ListStancesRequest(page_size=1), timeout=10)
            self.assertEqual(len(page.stances), 1)

    def test_stalled_watchers_leave_memory_bounded_and_slow_ones_are_dropped(self):
        # A gRPC watcher that reads nothing while stances arrive, then reads.
        slow = self.stack.query_stub().WatchStances(query_pb2.WatchStancesRequest(), timeout=120)
        slow.initial_metadata()
        self.stalled.open(self.address, "/stancewire.v1.QueryService/WatchStances",
                          query_pb2.WatchStancesRequest(), 300)
        self.stalled.wait(lambda c: c.headers >= 1, 60, "subscribed")
        baseline, _ = rss(self.pid)

        stances = [big_stance(i) for i in range(2000)]
        peak = 0
        with grpc.insecure_channel(self.address) as channel:
            for start in range(0, len(stances), 200):
                deliver(channel, stances[start:start + 200], first_seq=start + 1)
                peak = max(peak, rss(self.pid)[0])
        time.sleep(1)
        now, hwm = rss(self.pid)
        print(f"\nwatchers: RSS before {baseline / MIB:.0f} MiB, sampled peak {peak / MIB:.0f} "
              f"MiB, high-water mark {hwm / MIB:.0f} MiB, now {now / MIB:.0f} MiB")
        self.assertLess(hwm, RSS_BOUND, "query-service grew past the documented bound")

        self.fresh_client_is_answered()
        with self.assertRaises(grpc.RpcError) as caught:
            for _ in slow:
                pass
        self.assertEqual(caught.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED,
                         caught.exception.details())
        self.assertIn("behind", caught.exception.details())

    def test_stalled_lists_leave_memory_bounded_and_are_released_when_readers_go(self):
        with grpc.insecure_channel(self.address) as channel:
            deliver(channel, [big_stance(i) for i in range(600)])
        # ~4 MiB asked for; pages end early at their byte bound (3 MiB)
        request = query_pb2.ListStancesRequest(page_size=500)
        baseline, _ = rss(self.pid)
        self.stalled.open(self.address, "/stancewire.v1.QueryService/ListStances", request, 300)
        self.stalled.wait(lambda c: c.headers >= 1 or c.data_bytes > 0, 120, "answered")
        time.sleep(1)
        now, hwm = rss(self.pid)
        print(f"\nlists: RSS before {baseline / MIB:.0f} MiB, high-water mark {hwm / MIB:.0f} MiB,"
              f" now {now / MIB:.0f} MiB")
        self.assertLess(hwm, RSS_BOUND, "query-service grew past the documented bound")

        # The budget is spent on answers nobody reads: a big page waits, a small one is served.
        stub = self.stack.query_stub()
        with self.assertRaises(grpc.RpcError) as caught:
            stub.ListStances(request, timeout=20)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("not read yet", caught.exception.details())
        self.fresh_client_is_answered()

        # Readers gone: their answers' memory is released and big pages are served again.
        self.stalled.close()
        deadline = time.time() + 30
        while True:
            try:
                page = stub.ListStances(request, timeout=20)
                break
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or time.time() > deadline:
                    raise
                time.sleep(0.2)
        # a big page again: it ends early only at the page byte bound (docs/delivery.md, 3 MiB)
        self.assertGreater(page.ByteSize(), 2 * MIB)
        if len(page.stances) < 500:
            self.assertTrue(page.next_page_token, "a page cut short by bytes names the next one")


class ConnectionReapingTest(unittest.TestCase):
    def test_a_stalled_reader_is_disconnected_after_the_maximum_age(self):
        stack = harness.Stack(query_args=["--max-connection-age", "2",
                                          "--max-connection-age-grace", "2"])
        self.addCleanup(stack.cleanup)
        stack.query.start()
        with grpc.insecure_channel(stack.query.address) as channel:
            deliver(channel, [big_stance(i) for i in range(20)])
        stalled = StalledCalls()
        self.addCleanup(stalled.close)
        stalled.open(stack.query.address, "/stancewire.v1.QueryService/ListStances",
                     query_pb2.ListStancesRequest(page_size=20), 10)
        stalled.wait(lambda c: c.data_bytes > 0, 30, "answered")
        # They answer pings, so only the age limit ends their connections: at ~2 s (+-10%) the
        # server says GOAWAY, 2 s later it closes.
        stalled.wait(lambda c: c.goaway and c.closed, 20, "disconnected")


class DescriptorFloodTest(unittest.TestCase):
    SOFT, HARD = 64, 192

    def setUp(self):
        raise_own_fd_limit()

    def low_limit(self):
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.SOFT, self.HARD))

    def flood_and_recover(self, service):
        service.proc = None
        log = open(service.log_path, "ab")
        service.proc = subprocess.Popen(service.argv, stdout=log, stderr=subprocess.STDOUT,
                                        cwd=service.workdir, preexec_fn=self.low_limit)
        log.close()
        harness.wait_serving(service.address, timeout=30, proc=service.proc,
                             log_path=service.log_path)
        self.assertEqual(soft_fd_limit(service.proc.pid), self.HARD,
                         "the soft descriptor limit was not raised to the hard limit")

        existing = grpc.insecure_channel(service.address)
        self.addCleanup(existing.close)
        health = health_pb2_grpc.HealthStub(existing)
        health.Check(health_pb2.HealthCheckRequest(), timeout=10)

        host, port = service.address.rsplit(":", 1)
        flood = []
        try:
            for _ in range(3 * self.HARD):
                flood.append(socket.create_connection((host, int(port)), timeout=10))
            time.sleep(2)  # the server accepts what it can
            # The connection it had goes on working meanwhile.
            health.Check(health_pb2.HealthCheckRequest(), timeout=10)
        finally:
            for s in flood:
                s.close()

        deadline = time.time() + 30
        while True:
            try:
                with fresh_channel(service.address) as fresh:
                    r = health_pb2_grpc.HealthStub(fresh).Check(health_pb2.HealthCheckRequest(),
                                                                timeout=2, wait_for_ready=False)
                    self.assertEqual(r.status, health_pb2.HealthCheckResponse.SERVING)
                    break
            except grpc.RpcError:
                if time.time() > deadline:
                    self.fail(f"{service.name} accepts no new connection after the flood:\n"
                              + service.log()[-2000:])
                time.sleep(0.5)
        self.assertIn("refusing new connections", service.log())
        self.assertNotIn("Failed accept4", service.log())

    def test_query_service_accepts_again_after_a_descriptor_flood(self):
        stack = harness.Stack()
        self.addCleanup(stack.cleanup)
        self.flood_and_recover(stack.query)

    def test_ingest_service_accepts_again_after_a_descriptor_flood(self):
        stack = harness.Stack()
        self.addCleanup(stack.cleanup)
        self.flood_and_recover(stack.ingest)


if __name__ == "__main__":
    unittest.main()
