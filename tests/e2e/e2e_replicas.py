"""Two query-service replicas over one PostgreSQL database (started by
tests/postgres/with-postgres.sh, which sets STANCEWIRE_TEST_POSTGRES_URI and PGPASSWORD): both
give the same answers, and a watcher on one replica sees stances stored through the other."""
import os
import threading
import time
import unittest

import harness
from stancewire.v1 import ingest_pb2, query_pb2, stance_pb2

URI = os.environ.get("STANCEWIRE_TEST_POSTGRES_URI", "")


@unittest.skipUnless(URI, "run through tests/postgres/with-postgres.sh")
class ReplicasTest(unittest.TestCase):
    def setUp(self):
        # Replica A takes the delivery stream; replica B only answers queries.
        self.a = harness.Stack()
        self.a.query.argv[self.a.query.argv.index("--store") + 1] = URI
        self.b_port = harness.free_port()
        self.b = harness.Service("query-service-b", [
            harness.QUERY_BIN, "--listen", f"127.0.0.1:{self.b_port}", "--store", URI],
            self.a.workdir, self.b_port)
        # Both start at once: migrations must run once, under the advisory lock.
        self.a.query.start(wait=False)
        self.b.start(wait=False)
        harness.wait_serving(self.a.query.address, proc=self.a.query.proc,
                             log_path=self.a.query.log_path)
        harness.wait_serving(self.b.address, proc=self.b.proc, log_path=self.b.log_path)
        self.a.ingest.start()

    def tearDown(self):
        self.b.stop()
        self.a.cleanup()

    def test_watch_on_one_replica_sees_writes_through_the_other_and_answers_agree(self):
        b_channel = self.a.channel(self.b.address)
        b_stub = harness.query_pb2_grpc.QueryServiceStub(b_channel)
        seen, ready = [], threading.Event()

        def watch():
            stream = b_stub.WatchStances(query_pb2.WatchStancesRequest(actor="Ankara"), timeout=30)
            ready.set()
            for stance in stream:
                seen.append(stance)
                if len(seen) >= 2:
                    stream.cancel()

        watcher = threading.Thread(target=watch)
        watcher.start()
        ready.wait(5)
        time.sleep(0.5)  # the watch is registered once the call is running on the server
        ingest = self.a.ingest_stub()
        acked = set()
        for n, text in enumerate([
                "Turkey rejected the proposal for a maritime task force on Monday.",
                "Egypt welcomed the proposal for a maritime task force.",
                "Ankara said it would join the maritime task force only if the UN Security "
                "Council authorises it."]):
            r = ingest.Ingest(ingest_pb2.IngestRequest(item=stance_pb2.NewsItem(
                id=f"replica-{n}", text=text, published={"seconds": 1760000000 + n})), timeout=5)
            acked |= {s.id for s in r.stances}
        self.a.wait_for_ids(acked)
        watcher.join(30)
        self.assertFalse(watcher.is_alive())
        self.assertEqual({s.actor.name for s in seen}, {"Turkey"})
        self.assertEqual(len(seen), 2)
        # The same answers from both replicas.
        a_stub = self.a.query_stub()
        for request in (query_pb2.ListStancesRequest(), query_pb2.ListStancesRequest(actor="Baku"),
                        query_pb2.ListStancesRequest(condition="UN_MANDATE")):
            ra = a_stub.ListStances(request, timeout=5)
            rb = b_stub.ListStances(request, timeout=5)
            self.assertEqual([s.id for s in ra.stances], [s.id for s in rb.stances])
            self.assertEqual(ra.total_size, rb.total_size)
        self.assertTrue(acked)


if __name__ == "__main__":
    unittest.main()
