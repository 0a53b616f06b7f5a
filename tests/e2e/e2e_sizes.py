"""Size limits that keep every acknowledged stance deliverable, against the running binaries:
an item of about 1 MiB naming many actors and conditions, an outbox left with an entry larger
than a gRPC message, pages of large stances, and items past the per-item limits."""
import os
import sqlite3
import unittest

import grpc

import harness
from stancewire.v1 import delivery_pb2, delivery_pb2_grpc, ingest_pb2, query_pb2, stance_pb2

MIB = 1024 * 1024
CONDITIONS = ("provided that it operates under a clear mandate from the UN Security Council, "
              "with the consent of the parties and regional consensus")


def state_names(limit=200):
    """Canonical names of states in the actor dictionary, as the extractor knows them."""
    names = []
    with open(os.path.join(harness.SOURCE, "data", "actors", "10_states.tsv"), encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) >= 4 and fields[1] == "actor" and fields[3] == "state":
                names.append(fields[2])
    return names[:limit]


def normal_item(n):
    return stance_pb2.NewsItem(id=f"after-{n}", outlet="Limits Wire",
                               text="Turkey rejected the proposal for a maritime task force.",
                               published={"seconds": 1760000000 + n})


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def big_stance(n, actor="TUR", size=250_000, topic=None):
    return stance_pb2.Stance(
        id=f"big-{n:04d}", item_id=f"big-item-{n}", topic=topic or f"topic-{n}",
        actor=stance_pb2.Actor(id=actor, name=actor),
        position=stance_pb2.POSITION_OPPOSE,
        evidence=stance_pb2.Evidence(text="x" * size, start=0, end=size),
        published={"seconds": 1760000000 + n})


class LimitsTest(unittest.TestCase):
    def setUp(self):
        self.stack = None

    def tearDown(self):
        if self.stack:
            self.stack.cleanup()

    def assertDelivered(self, ids, timeout=60):
        self.stack.wait_for_ids(ids, timeout=timeout)

    def test_a_one_mib_item_naming_many_actors_never_blocks_delivery(self):
        self.stack = harness.Stack().start()
        ingest = self.stack.ingest_stub()
        names = state_names()
        # One sentence per actor, each naming conditions; together about 1 MiB (within
        # --max-text-bytes): many stances, each of modest size.
        sentences, i = [], 0
        while sum(len(s) + 1 for s in sentences) < MIB - 4096:
            sentences.append(f"{names[i % len(names)]} said it would join the stabilisation force "
                             f"for Gaza {CONDITIONS} (report {i}).")
            i += 1
        many = stance_pb2.NewsItem(id="many-actors", outlet="Limits Wire",
                                   text="\n".join(sentences), published={"seconds": 1760000000})
        # Sentences that each name 30 actors and the conditions: every actor's stance gathers
        # the conditions of all of them, about 30 MB of stances in all (before the limits, one
        # outbox entry far past a gRPC message, which blocked delivery for good).
        group = ", ".join(names[:29]) + " and " + names[29]
        sentence = f"{group} said they would join the stabilisation force for Gaza {CONDITIONS}."
        dense = stance_pb2.NewsItem(id="dense", outlet="Limits Wire",
                                    text="\n".join([sentence] * (MIB // (len(sentence) + 1))),
                                    published={"seconds": 1760000001})
        self.assertLessEqual(len(dense.text.encode()), MIB)
        self.assertLessEqual(len(many.text.encode()), MIB)

        expected = set()
        outcomes = {}
        for item in (dense, many):
            try:
                r = ingest.Ingest(ingest_pb2.IngestRequest(item=item), timeout=60)
                self.assertTrue(r.stances, item.id)
                expected |= {s.id for s in r.stances}
                outcomes[item.id] = len(r.stances)
            except grpc.RpcError as e:
                # Refused before anything is stored, with a status that names the limit.
                self.assertEqual(e.code(), grpc.StatusCode.INVALID_ARGUMENT, e.details())
                self.assertIn("limit", e.details())
                outcomes[item.id] = e.details()
        # The dense item is refused (its stances have too many conditions); the many short
        # sentences are accepted, as several outbox entries.
        self.assertIn("conditions, over the limit of", str(outcomes["dense"]))
        self.assertIsInstance(outcomes["many-actors"], int, outcomes)
        self.assertGreater(outcomes["many-actors"], 50)
        after = {s.id for n in range(3) for s in ingest.Ingest(
            ingest_pb2.IngestRequest(item=normal_item(n)), timeout=10).stances}
        self.assertDelivered(expected | after)
        self.assertNotIn("larger than max", self.stack.ingest.log())

    def test_an_outbox_holding_an_entry_larger_than_a_grpc_message_drains(self):
        # An earlier ingest-service committed one entry of ~10 MB (40 stances of 250 KB), past
        # the 8 MiB message limit, and one ordinary entry after it.
        self.stack = harness.Stack()
        os.makedirs(os.path.dirname(self.stack.outbox_path))
        db = sqlite3.connect(self.stack.outbox_path)
        db.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA user_version = 1; "
            "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, stances INTEGER NOT NULL, "
            "body BLOB NOT NULL);")
        record = lambda s: b"\x12" + varint(s.ByteSize()) + s.SerializeToString()  # noqa: E731
        big = [big_stance(n) for n in range(40)]
        body = b"".join(record(s) for s in big)
        self.assertGreater(len(body), 9 * MIB)
        small = stance_pb2.Stance(id="small-0001", item_id="small", topic="t",
                                  actor=stance_pb2.Actor(id="EGY", name="Egypt"),
                                  position=stance_pb2.POSITION_SUPPORT)
        db.execute("INSERT INTO outbox(seq, stances, body) VALUES (7, ?, ?)", (len(big), body))
        db.execute("INSERT INTO outbox(seq, stances, body) VALUES (8, 1, ?)", (record(small),))
        db.commit()
        db.close()
        self.stack.start()
        ids = {s.id for s in big} | {"small-0001"}
        self.assertDelivered(ids)
        # Numbers go on after the old ones, and later items follow.
        r = self.stack.ingest_stub().Ingest(ingest_pb2.IngestRequest(item=normal_item(0)),
                                            timeout=10)
        self.assertDelivered(ids | {s.id for s in r.stances})
        self.assertIn("split entries", self.stack.ingest.log())
        self.assertNotIn("larger than max", self.stack.ingest.log())

    def test_pages_of_large_stances_end_early_with_a_next_page_token(self):
        # Stances stored before the per-item limits existed: 20 of ~500 KB, ten of one actor,
        # ten of ten others, delivered straight to query-service's stream (plaintext loopback,
        # --insecure-delivery).
        self.stack = harness.Stack()
        self.stack.query.start()
        stances = [big_stance(n, actor="TUR", size=500_000) for n in range(10)]
        others = ["EGY", "JOR", "QAT", "ITA", "CAN", "BRA", "KEN", "JPN", "NOR", "CHL"]
        stances += [big_stance(10 + n, actor=a, size=500_000, topic="shared")
                    for n, a in enumerate(others)]
        sink = delivery_pb2_grpc.StanceSinkStub(self.stack.channel(self.stack.query.address))
        batches = [delivery_pb2.DeliverBatch(seq=k + 1, stances=stances[k * 5:(k + 1) * 5])
                   for k in range(4)]
        acks = list(sink.Deliver(iter(batches), timeout=60))
        self.assertEqual([a.seq for a in acks], [1, 2, 3, 4])

        query = self.stack.query_stub()
        first = query.ListStances(query_pb2.ListStancesRequest(), timeout=10)
        self.assertLess(len(first.stances), 20)
        self.assertTrue(first.next_page_token)
        self.assertEqual(first.total_size, 20)
        self.assertEqual({s.id for s in self.stack.list_all(timeout=10)},
                         {s.id for s in stances})
        # The other list reads that carry a stance per entry page the same way.
        actors = query.ListActors(query_pb2.ListActorsRequest(), timeout=10)
        self.assertLess(len(actors.actors), 11)
        self.assertTrue(actors.next_page_token)
        timeline = query.GetActorTimeline(query_pb2.GetActorTimelineRequest(actor="TUR"),
                                          timeout=10)
        self.assertLess(len(timeline.entries), 10)
        self.assertTrue(timeline.next_page_token)
        claims = query.ListClaims(query_pb2.ListClaimsRequest(), timeout=10)
        self.assertLess(len(claims.claims), 20)
        self.assertTrue(claims.next_page_token)

    def test_items_past_the_per_item_limits_are_refused_naming_the_limit(self):
        self.stack = harness.Stack(ingest_args=["--max-stances-per-item", "2",
                                                "--max-condition-bytes", "24",
                                                "--max-evidence-bytes", "200"]).start()
        ingest = self.stack.ingest_stub()
        cases = [
            ("three-actors", "Turkey rejected the proposal. Egypt rejected the proposal. "
             "Jordan rejected the proposal.", "--max-stances-per-item"),
            ("long-condition", f"Turkey said it would join the force {CONDITIONS}.",
             "--max-condition-bytes"),
            ("long-sentence", "Turkey rejected the proposal for a maritime task force, " +
             "which was discussed at length by many delegations, " * 5 + "on Monday.",
             "--max-evidence-bytes"),
            ("long-url", "Turkey rejected the proposal.", "item.url"),
        ]
        for item_id, text, limit in cases:
            with self.subTest(limit=limit):
                item = stance_pb2.NewsItem(id=item_id, text=text)
                if item_id == "long-url":
                    item.url = "https://example.org/" + "a" * 5000
                for call in (ingest.Ingest, ingest.Extract):
                    with self.assertRaises(grpc.RpcError) as e:
                        call(ingest_pb2.IngestRequest(item=item), timeout=10)
                    self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
                    self.assertIn(limit, e.exception.details())
        ok = ingest.Ingest(ingest_pb2.IngestRequest(item=normal_item(0)), timeout=10)
        self.assertDelivered({s.id for s in ok.stances})
        self.assertEqual({s.id for s in self.stack.list_all()}, {s.id for s in ok.stances})

    def test_an_item_with_more_stances_than_the_outbox_limit_says_it_can_never_fit(self):
        self.stack = harness.Stack(ingest_args=["--outbox-limit", "2"])
        self.stack.ingest.start()  # query-service down: what is accepted stays in the outbox
        ingest = self.stack.ingest_stub()
        item = stance_pb2.NewsItem(id="three", text="Turkey rejected the proposal. Egypt rejected "
                                   "the proposal. Jordan rejected the proposal.")
        with self.assertRaises(grpc.RpcError) as e:
            ingest.Ingest(ingest_pb2.IngestRequest(item=item), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("can never succeed", e.exception.details())
        self.assertNotIn("retry later", e.exception.details())
        # Items that fit are still accepted, and "full" still means retry later.
        for n in range(2):
            ingest.Ingest(ingest_pb2.IngestRequest(item=normal_item(n)), timeout=10)
        with self.assertRaises(grpc.RpcError) as e:
            ingest.Ingest(ingest_pb2.IngestRequest(item=normal_item(2)), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("retry later", e.exception.details())


if __name__ == "__main__":
    unittest.main()
