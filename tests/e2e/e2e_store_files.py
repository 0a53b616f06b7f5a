"""Store files that went wrong on disk, against the running binaries: a 0-byte store or outbox is
refused at start (unless the file is new), and a -shm file that fails while the service runs ends
it with a logged error, not a SIGBUS core dump."""
import os
import signal
import subprocess
import tempfile
import time
import unittest

import grpc

import harness
from stancewire.v1 import ingest_pb2, query_pb2, stance_pb2

TEXT = "Turkey rejected the proposal for an international stabilisation force in Gaza."


class EmptyStoreFileTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="stancewire-e2e-")
        self.addCleanup(self.tmp.cleanup)

    def run_until_exit(self, argv, timeout=30):
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              cwd=self.tmp.name)

    def test_zero_byte_store_is_refused(self):
        store = os.path.join(self.tmp.name, "stances.db")
        open(store, "wb").close()
        r = self.run_until_exit([harness.QUERY_BIN, "--listen", f"127.0.0.1:{harness.free_port()}",
                                 "--store", f"sqlite:{store}"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("is an empty file (0 bytes), not a database", r.stderr + r.stdout)
        self.assertEqual(os.path.getsize(store), 0)  # left as it was, for the operator

    def test_zero_byte_outbox_is_refused(self):
        outbox = os.path.join(self.tmp.name, "outbox.db")
        open(outbox, "wb").close()
        r = self.run_until_exit([harness.INGEST_BIN, "--listen",
                                 f"127.0.0.1:{harness.free_port()}", "--query",
                                 f"127.0.0.1:{harness.free_port()}", "--outbox", outbox])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("is an empty file (0 bytes), not a database", r.stderr + r.stdout)
        self.assertEqual(os.path.getsize(outbox), 0)

    def test_new_files_start_and_keep_what_they_store(self):
        stack = harness.Stack(workdir=self.tmp.name)
        try:
            stack.start()
            r = stack.ingest_stub().Ingest(ingest_pb2.IngestRequest(item=stance_pb2.NewsItem(
                id="fresh", text=TEXT)), timeout=10)
            ids = {s.id for s in r.stances}
            self.assertTrue(ids)
            stack.wait_for_ids(ids)
            stack.stop()
            # Restarted over the files it made (the store may still be all in its -wal).
            stack.query.start()
            stack.ingest.start()
            stack.wait_for_ids(ids)
        finally:
            stack.cleanup()


class ShmFailureTest(unittest.TestCase):
    def test_shm_truncated_while_running_is_a_logged_exit_not_sigbus(self):
        stack = harness.Stack()
        try:
            stack.start()
            r = stack.ingest_stub().Ingest(ingest_pb2.IngestRequest(item=stance_pb2.NewsItem(
                id="shm", text=TEXT)), timeout=10)
            stack.wait_for_ids({s.id for s in r.stances})
            shm = stack.store_path + "-shm"
            self.assertTrue(os.path.exists(shm))
            os.truncate(shm, 0)
            query = stack.query_stub()
            deadline = time.time() + 30
            while stack.query.proc.poll() is None and time.time() < deadline:
                try:
                    query.ListStances(query_pb2.ListStancesRequest(), timeout=2)
                    query.ListActors(query_pb2.ListActorsRequest(), timeout=2)
                except grpc.RpcError:
                    pass
                time.sleep(0.05)
            code = stack.query.proc.wait(timeout=10)
            log = stack.query.log()
            self.assertNotEqual(code, -signal.SIGBUS, log)
            self.assertEqual(code, 70, log)
            self.assertIn("fatal: SIGBUS: a memory-mapped SQLite file", log)
        finally:
            stack.cleanup()


if __name__ == "__main__":
    unittest.main()
