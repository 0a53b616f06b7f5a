"""The walking skeleton end to end: both binaries on loopback, the samples and the founding
article ingested over gRPC, queried back by actor, alias, condition and page; reflection, health,
the offline `extract` and a clean SIGTERM."""
import json
import os
import subprocess
import unittest

import grpc

import harness
from stancewire.v1 import ingest_pb2, query_pb2, stance_pb2

POS = stance_pb2.Position


class WalkingSkeletonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack().start()
        cls.ingest = cls.stack.ingest_stub()
        cls.ingested = {}  # item id -> IngestResponse
        items = [harness.news_item(o) for o in
                 harness.read_jsonl(os.path.join(harness.SOURCE, "samples", "news.jsonl"))]
        # the founding article's story, told in the project's own words (samples/news.jsonl)
        cls.founding = items[0]
        for item in items:
            cls.ingested[item.id] = cls.ingest.Ingest(ingest_pb2.IngestRequest(item=item), timeout=10)
        cls.all_ids = {s.id for r in cls.ingested.values() for s in r.stances}
        cls.stack.wait_for_ids(cls.all_ids)

    @classmethod
    def tearDownClass(cls):
        cls.stack.cleanup()

    def by_actor(self, stances):
        return {s.actor.name: s for s in stances}

    def test_founding_article_comes_out_right(self):
        stances = self.by_actor(self.ingested[self.founding.id].stances)
        self.assertIn("United States", stances)
        self.assertEqual(stances["United States"].position, POS.POSITION_SUPPORT)
        aze = stances["Azerbaijan"]
        self.assertEqual(aze.position, POS.POSITION_CONDITIONAL)
        self.assertTrue({"UN_MANDATE", "CLEAR_MANDATE", "REGIONAL_CONSENSUS"}
                        <= {c.kind for c in aze.conditions}, aze.conditions)
        self.assertNotIn("Israel", stances)
        text = self.founding.text.encode("utf-8")
        for s in self.ingested[self.founding.id].stances:
            self.assertEqual(s.item_id, self.founding.id)
            self.assertEqual(s.outlet, self.founding.outlet)
            self.assertEqual(s.published.seconds, self.founding.published.seconds)
            self.assertEqual(text[s.evidence.start:s.evidence.end].decode("utf-8"), s.evidence.text)
            self.assertTrue(s.evidence.text)

    def test_reingesting_yields_same_ids_and_no_duplicates(self):
        again = self.ingest.Ingest(ingest_pb2.IngestRequest(item=self.founding), timeout=10)
        self.assertEqual([s.id for s in again.stances], [s.id for s in self.ingested[self.founding.id].stances])
        stored = self.stack.list_all(page_size=1000)
        ids = [s.id for s in stored]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual(set(ids), self.all_ids)

    def test_list_by_actor_name_alias_and_id_agree(self):
        by_name = self.stack.list_all(actor="Azerbaijan")
        self.assertTrue(by_name)
        self.assertTrue(all(s.actor.name == "Azerbaijan" for s in by_name))
        expected = {s.id for s in by_name}
        self.assertIn(self.by_actor(self.ingested[self.founding.id].stances)["Azerbaijan"].id, expected)
        for alias in ("Baku", "baku", "AZE", by_name[0].actor.id):
            with self.subTest(alias=alias):
                self.assertEqual({s.id for s in self.stack.list_all(actor=alias)}, expected)
        self.assertEqual(self.stack.list_all(actor="Atlantis"), [])

    def test_list_by_condition_kind_and_words(self):
        un = self.stack.list_all(condition="UN_MANDATE")
        self.assertIn("Azerbaijan", {s.actor.name for s in un})
        for s in un:
            self.assertIn("UN_MANDATE", {c.kind for c in s.conditions})
        expected = {s.id for r in self.ingested.values() for s in r.stances
                    if "UN_MANDATE" in {c.kind for c in s.conditions}}
        self.assertEqual({s.id for s in un}, expected)
        words = self.stack.list_all(condition="security council")
        self.assertTrue(words)
        for s in words:
            self.assertTrue(any("security council" in c.text.lower() for c in s.conditions))
        both = self.stack.list_all(actor="Baku", condition="UN_MANDATE")
        self.assertEqual({s.actor.name for s in both}, {"Azerbaijan"})

    def test_paging_walks_every_stance_once_newest_first(self):
        everything = self.stack.list_all(page_size=1000)
        stub = self.stack.query_stub()
        seen, token, pages = [], "", 0
        while True:
            r = stub.ListStances(query_pb2.ListStancesRequest(page_size=2, page_token=token), timeout=5)
            self.assertLessEqual(len(r.stances), 2)
            seen.extend(s.id for s in r.stances)
            pages += 1
            token = r.next_page_token
            if not token:
                break
        self.assertEqual(seen, [s.id for s in everything])
        self.assertEqual(pages, (len(everything) + 1) // 2)
        times = [s.published.seconds for s in everything]
        self.assertEqual(times, sorted(times, reverse=True))

    def test_bad_page_requests_are_refused_precisely(self):
        stub = self.stack.query_stub()
        first = stub.ListStances(query_pb2.ListStancesRequest(page_size=1), timeout=5)
        cases = [
            (dict(page_size=-1), "page_size"),
            (dict(page_size=100000), "page_size"),
            (dict(page_token="forged-token"), "page_token"),
            (dict(page_size=1, page_token=first.next_page_token, actor="Baku"), "different filters"),
        ]
        for request, words in cases:
            with self.subTest(request=request):
                with self.assertRaises(grpc.RpcError) as e:
                    stub.ListStances(query_pb2.ListStancesRequest(**request), timeout=5)
                self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
                self.assertIn(words, e.exception.details())
        # and the service goes on serving
        self.assertTrue(stub.ListStances(query_pb2.ListStancesRequest(), timeout=5).stances)

    def test_bad_items_get_invalid_argument(self):
        cases = [
            (stance_pb2.NewsItem(id="x", text=""), "empty"),
            (stance_pb2.NewsItem(id="", text="Turkey backs the plan."), "item.id"),
        ]
        for item, words in cases:
            with self.subTest(item=item):
                with self.assertRaises(grpc.RpcError) as e:
                    self.ingest.Ingest(ingest_pb2.IngestRequest(item=item), timeout=5)
                self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
                self.assertIn(words, e.exception.details())

    def test_extract_parses_without_storing(self):
        item = stance_pb2.NewsItem(id="extract-only", text=self.founding.text)
        r = self.ingest.Extract(ingest_pb2.ExtractRequest(item=item), timeout=10)
        self.assertIn("Azerbaijan", self.by_actor(r.stances))
        self.assertEqual(self.stack.list_all(actor="Azerbaijan", page_size=1000),
                         [s for s in self.stack.list_all(actor="Azerbaijan", page_size=1000)
                          if s.item_id != "extract-only"])

    def test_reflection_lists_describes_and_calls_health(self):
        for service, own in ((self.stack.query, "stancewire.v1.QueryService"),
                             (self.stack.ingest, "stancewire.v1.IngestService")):
            with self.subTest(service=service.name):
                client = harness.ReflectionClient(self.stack.channel(service.address))
                names = client.list_services()
                self.assertIn(own, names)
                self.assertIn("grpc.health.v1.Health", names)
                self.assertTrue(any(n.startswith("grpc.reflection.") for n in names))
                desc = client.describe("grpc.health.v1.Health")
                self.assertIsNotNone(desc.FindMethodByName("Check"))
                health = client.call("grpc.health.v1.Health/Check", "{}")
                self.assertEqual(health.get("status"), "SERVING")
                self.assertIsNotNone(client.describe(own))

    def test_reflection_calls_list_stances_with_json(self):
        client = harness.ReflectionClient(self.stack.channel(self.stack.query.address))
        r = client.call("stancewire.v1.QueryService/ListStances",
                        json.dumps({"actor": "Baku", "condition": "UN_MANDATE"}))
        self.assertTrue(r["stances"])
        self.assertEqual({s["actor"]["name"] for s in r["stances"]}, {"Azerbaijan"})
        self.assertEqual(r["stances"][0]["position"], "POSITION_CONDITIONAL")


class OfflineExtractTest(unittest.TestCase):
    def run_extract(self, lines, *args):
        return subprocess.run([harness.INGEST_BIN, "extract", *args], input="\n".join(lines) + "\n",
                              capture_output=True, text=True, timeout=60)

    def test_extract_reads_json_lines_and_writes_stances(self):
        obj = harness.read_jsonl(os.path.join(harness.SOURCE, "samples", "news.jsonl"))[0]
        item = {"id": obj["id"], "outlet": obj["outlet"], "text": obj["text"],
                "published": obj["published"]}
        r = self.run_extract([json.dumps(item)])
        self.assertEqual(r.returncode, 0, r.stderr)
        stances = [json.loads(line) for line in r.stdout.splitlines()]
        names = {s["actor"]["name"]: s for s in stances}
        self.assertEqual(names["Azerbaijan"]["position"], "POSITION_CONDITIONAL")
        self.assertEqual(names["United States"]["position"], "POSITION_SUPPORT")
        self.assertTrue(all(s["itemId"] == obj["id"] for s in stances))

    def test_malformed_line_is_reported_with_its_number(self):
        good = json.dumps({"id": "a", "text": "Turkey rejected the plan."})
        r = self.run_extract([good, "{broken", good])
        self.assertEqual(r.returncode, 1)
        self.assertIn("stdin:line 2:", r.stderr)
        r = self.run_extract([good, "{broken", good], "--on-error", "skip")
        self.assertEqual(r.returncode, 1)
        self.assertIn("line 2", r.stderr)
        # skip goes on to line 3: the same item twice gives the same stances twice
        out = r.stdout.splitlines()
        self.assertEqual(len(out) % 2, 0)

    def test_unknown_fields_are_refused_unless_ignored(self):
        line = json.dumps({"id": "a", "text": "Turkey rejected the plan.", "stances": []})
        r = self.run_extract([line])
        self.assertEqual(r.returncode, 1)
        self.assertIn("stances", r.stderr)
        r = self.run_extract([line], "--ignore-unknown-fields")
        self.assertEqual(r.returncode, 0, r.stderr)


class ShutdownTest(unittest.TestCase):
    def test_sigterm_stops_both_services_cleanly(self):
        stack = harness.Stack().start()
        try:
            codes = stack.stop()
            self.assertEqual(codes, (0, 0), stack.ingest.log() + stack.query.log())
            self.assertIn("stopped", stack.query.log())
        finally:
            stack.cleanup()


if __name__ == "__main__":
    unittest.main()
