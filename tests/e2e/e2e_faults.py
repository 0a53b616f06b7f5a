"""Nothing lost: crashes, restarts, late starts and frozen peers between ingest-service and
query-service. Every test compares the exact set of stance ids acknowledged by Ingest with the
set stored by query-service."""
import signal
import threading
import time
import unittest

import grpc

import harness
from stancewire.v1 import ingest_pb2, stance_pb2

# Sentences the extractor turns into one stance each, whatever else it learns: a state's
# name as the subject of an unambiguous cue verb.
HOLDERS = ["Turkey", "Egypt", "Indonesia", "Pakistan", "Jordan", "Qatar", "Italy", "Canada",
           "Brazil", "Kenya", "Japan", "Norway", "Chile", "Ghana", "Spain", "Peru"]
VERBS = ["rejected", "welcomed", "backed", "opposed"]


def synthetic_item(n):
    holder = HOLDERS[n % len(HOLDERS)]
    verb = VERBS[(n // len(HOLDERS)) % len(VERBS)]
    return stance_pb2.NewsItem(
        id=f"fault-{n:06d}", outlet="Fault Wire",
        text=f"{holder} {verb} the proposal for a maritime task force on Monday.",
        published={"seconds": 1760000000 + n})


class Ingester:
    """Sends items with many calls in flight, as a busy producer would; records what was
    acknowledged."""

    def __init__(self, address, concurrency=64):
        self.channel = grpc.insecure_channel(address)
        self.stub = harness.ingest_pb2_grpc.IngestServiceStub(self.channel)
        self.concurrency = concurrency
        self.acked_ids = set()
        self.acked_items = 0
        self.errors = []
        self.lock = threading.Lock()

    def send(self, items, timeout=60):
        slots = threading.Semaphore(self.concurrency)

        def done(future):
            try:
                self._collect(future)
            finally:
                slots.release()

        for item in items:
            slots.acquire()
            future = self.stub.Ingest.future(ingest_pb2.IngestRequest(item=item), timeout=timeout)
            future.add_done_callback(done)
        for _ in range(self.concurrency):  # wait for the calls still in flight
            slots.acquire()

    def _collect(self, future):
        try:
            r = future.result()
        except grpc.RpcError as e:
            with self.lock:
                self.errors.append((e.code(), e.details()))
            return
        with self.lock:
            self.acked_items += 1
            self.acked_ids.update(s.id for s in r.stances)

    def close(self):
        self.channel.close()


def stored_ids(stack):
    stances = stack.list_all(page_size=1000, timeout=30)
    ids = [s.id for s in stances]
    return ids


class FaultTest(unittest.TestCase):
    def setUp(self):
        self.stack = harness.Stack()

    def tearDown(self):
        self.stack.cleanup()

    def assertExactlyDelivered(self, expected, timeout=120):
        self.assertTrue(expected)
        self.stack.wait_for_ids(expected, timeout=timeout, page_size=1000)
        ids = stored_ids(self.stack)
        self.assertEqual(len(ids), len(set(ids)), "a stance is stored twice")
        self.assertEqual(set(ids), expected)

    def stream_in_background(self, items, until_acked):
        """Sends `items` from a thread; returns once `until_acked` of them are acknowledged (or the
        sender is done, or a minute passed), with the ingester and the still-running thread."""
        ingester = Ingester(self.stack.ingest.address)
        sender = threading.Thread(target=ingester.send,
                                  args=([synthetic_item(n) for n in range(items)],))
        sender.start()
        deadline = time.time() + 60
        while ingester.acked_items < until_acked and sender.is_alive() and time.time() < deadline:
            time.sleep(0.02)
        return ingester, sender

    def test_kill_9_query_service_while_20000_items_stream(self):
        self.stack.start()
        # Let the stream get going, then crash the receiver mid-stream.
        ingester, sender = self.stream_in_background(20000, until_acked=5000)
        self.stack.query.stop(sig=signal.SIGKILL)
        time.sleep(1)
        self.stack.query.start()
        sender.join()
        ingester.close()
        self.assertEqual(ingester.errors, [])
        self.assertEqual(ingester.acked_items, 20000)
        self.assertExactlyDelivered(ingester.acked_ids, timeout=180)

    def test_kill_9_ingest_service_right_after_acknowledged_calls(self):
        self.stack.start()
        ingester = Ingester(self.stack.ingest.address)
        ingester.send([synthetic_item(n) for n in range(3000)])
        self.stack.ingest.stop(sig=signal.SIGKILL)
        ingester.close()
        self.assertEqual(ingester.errors, [])
        self.stack.ingest.start()
        self.assertExactlyDelivered(ingester.acked_ids)

    def test_query_service_started_long_after_ingest_service(self):
        self.stack.ingest.start()
        ingester = Ingester(self.stack.ingest.address)
        ingester.send([synthetic_item(n) for n in range(2000)])
        ingester.close()
        self.assertEqual(ingester.errors, [])
        # The forwarder keeps retrying with backoff; several rounds pass before the receiver exists.
        time.sleep(5)
        self.stack.query.start()
        self.assertExactlyDelivered(ingester.acked_ids)

    def test_query_service_frozen_and_resumed_mid_stream(self):
        self.stack.start()
        ingester, sender = self.stream_in_background(6000, until_acked=1500)
        self.stack.query.proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(3)
        finally:
            self.stack.query.proc.send_signal(signal.SIGCONT)
        sender.join()
        ingester.close()
        self.assertEqual(ingester.errors, [])
        self.assertExactlyDelivered(ingester.acked_ids)

    def test_full_outbox_refuses_with_resource_exhausted_then_recovers(self):
        self.stack.cleanup()
        self.stack = harness.Stack(ingest_args=["--outbox-limit", "50"])
        self.stack.ingest.start()  # query-service down: nothing drains
        ingester = Ingester(self.stack.ingest.address, concurrency=1)
        ingester.send([synthetic_item(n) for n in range(80)])
        # Every item here yields stances, so the limit (in stances) must have been reached.
        self.assertLessEqual(len(ingester.acked_ids), 50)
        self.assertGreater(len(ingester.errors), 0)
        for code, details in ingester.errors:
            self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertIn("outbox is full", details)
        self.stack.query.start()
        self.assertExactlyDelivered(set(ingester.acked_ids))
        # Drained: accepted again.
        more = Ingester(self.stack.ingest.address)
        more.send([synthetic_item(n) for n in range(80, 100)])
        more.close()
        ingester.close()
        self.assertEqual(more.errors, [])
        self.assertExactlyDelivered(ingester.acked_ids | more.acked_ids)

    def test_sigterm_on_query_service_mid_stream_ends_the_stream_not_the_grace(self):
        # A shutdown grace far longer than the test allows: the delivery stream, which the
        # sender never ends by itself, must be ended by query-service's drain, not by the grace.
        self.stack.cleanup()
        self.stack = harness.Stack(query_args=("--shutdown-grace", "60"))
        self.stack.start()
        ingester, sender = self.stream_in_background(6000, until_acked=1500)
        started = time.monotonic()
        self.assertEqual(self.stack.query.stop(sig=signal.SIGTERM, timeout=20), 0,
                         self.stack.query.log())
        stopped_in = time.monotonic() - started
        self.assertLess(stopped_in, 10, f"query-service took {stopped_in:.1f} s to stop")
        log = self.stack.query.log()
        self.assertIn("ending 1 delivery stream(s)", log)
        self.assertIn("query-service stopped", log)
        self.stack.query.start()
        sender.join()
        ingester.close()
        self.assertEqual(ingester.errors, [])
        self.assertEqual(ingester.acked_items, 6000)
        self.assertExactlyDelivered(ingester.acked_ids, timeout=180)

    def test_sigterm_flushes_and_loses_nothing(self):
        self.stack.start()
        ingester = Ingester(self.stack.ingest.address)
        ingester.send([synthetic_item(n) for n in range(2000)])
        ingester.close()
        self.assertEqual(self.stack.ingest.stop(sig=signal.SIGTERM), 0)
        self.assertIn("stances stay in the outbox", self.stack.ingest.log())
        self.stack.ingest.start()
        self.assertExactlyDelivered(ingester.acked_ids)


if __name__ == "__main__":
    unittest.main()
