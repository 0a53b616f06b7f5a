"""Limits at the entry points, against the running binaries: timestamps (Ingest, query filters,
the CLI), over-long filters, unparsable requests to every QueryService method, no store internals
in any status, and the health-only port serving health alone."""
import json
import os
import sqlite3
import subprocess
import unittest

import grpc
from google.protobuf import timestamp_pb2

import harness
from stancewire.v1 import delivery_pb2, delivery_pb2_grpc, ingest_pb2, query_pb2, query_pb2_grpc
from stancewire.v1 import stance_pb2
from swtest import health_pb2, health_pb2_grpc

CLI_BIN = os.path.join(harness.BUILD, "cli", "stancewire")
INT64_MAX = 2**63 - 1
TEXT = "Turkey rejected the proposal for an international stabilisation force in Gaza."


def ts(text):
    t = timestamp_pb2.Timestamp()
    t.FromJsonString(text)
    return t


def field(number, payload):
    """A length-delimited protobuf field, built by hand so that it can hold invalid UTF-8."""
    n, out = len(payload), bytearray([number << 3 | 2])
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out) + payload


def cli(stack, *args):
    return subprocess.run([CLI_BIN, "list", "--query", stack.query.address, *args],
                          capture_output=True, text=True, timeout=30)


def no_internals(test, details):
    for word in ("SELECT", "WHERE", " LIKE ", "sqlite", "stances.db"):
        test.assertNotIn(word, details)


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack().start()
        cls.ingest = cls.stack.ingest_stub()
        cls.query = cls.stack.query_stub()
        cls.channel = cls.stack.channel(cls.stack.query.address)
        # Stances published at both ends of the storable range and in between.
        cls.ids = {}
        for name, when in (("early", "1700-06-01T00:00:00Z"), ("now", "2025-10-20T00:00:00Z"),
                           ("late", "2261-06-01T00:00:00Z")):
            item = stance_pb2.NewsItem(id=f"lim-{name}", outlet="Limits", text=TEXT,
                                       published=ts(when))
            r = cls.ingest.Ingest(ingest_pb2.IngestRequest(item=item), timeout=10)
            assert r.stances, f"no stance extracted from {TEXT!r}"
            cls.ids[name] = {s.id for s in r.stances}
        cls.stack.wait_for_ids(set().union(*cls.ids.values()), outlet="Limits")

    @classmethod
    def tearDownClass(cls):
        cls.stack.cleanup()

    def assertStatus(self, call, code, *words):
        with self.assertRaises(grpc.RpcError) as e:
            call()
        self.assertEqual(e.exception.code(), code, e.exception.details())
        for w in words:
            self.assertIn(w, e.exception.details())
        no_internals(self, e.exception.details())
        return e.exception.details()

    def ids_where(self, **filters):
        return {s.id for s in self.stack.list_all(outlet="Limits", **filters)}

    # --- timestamps -------------------------------------------------------------------------

    def test_ingest_refuses_timestamps_out_of_range(self):
        cases = [
            (timestamp_pb2.Timestamp(seconds=INT64_MAX), "not a valid timestamp"),
            (timestamp_pb2.Timestamp(seconds=-INT64_MAX), "not a valid timestamp"),
            (timestamp_pb2.Timestamp(seconds=100, nanos=-1), "nanos -1"),
            (timestamp_pb2.Timestamp(seconds=100, nanos=1000000000), "nanos 1000000000"),
            (ts("2300-01-01T00:00:00Z"), "outside 1678-01-01T00:00:00Z..2262-01-01T00:00:00Z"),
            (ts("1600-01-01T00:00:00Z"), "outside 1678-01-01T00:00:00Z..2262-01-01T00:00:00Z"),
        ]
        for published, words in cases:
            item = stance_pb2.NewsItem(id="bad-time", text=TEXT, published=published)
            for method in ("Ingest", "Extract"):
                with self.subTest(published=str(published), method=method):
                    request = getattr(ingest_pb2, f"{method}Request")(item=item)
                    self.assertStatus(lambda: getattr(self.ingest, method)(request, timeout=5),
                                      grpc.StatusCode.INVALID_ARGUMENT, "item bad-time",
                                      "published", words)

    def test_filters_beyond_the_stored_range_compare_correctly(self):
        early, now, late = self.ids["early"], self.ids["now"], self.ids["late"]
        everything = early | now | late
        cases = [
            (dict(published_after=ts("2300-01-01T00:00:00Z")), set()),
            (dict(published_after=ts("9999-12-31T23:59:59Z")), set()),
            (dict(published_after=ts("2261-01-01T00:00:00Z")), late),
            (dict(published_before=ts("1600-01-01T00:00:00Z")), set()),
            (dict(published_before=ts("0001-01-01T00:00:01Z")), set()),
            (dict(published_before=ts("1800-01-01T00:00:00Z")), early),
            (dict(published_after=ts("0001-01-01T00:00:00Z")), everything),
            (dict(published_before=ts("2300-01-01T00:00:00Z")), everything),
            (dict(published_after=ts("2300-01-01T00:00:00Z"),
                  published_before=ts("2400-01-01T00:00:00Z")), set()),
            (dict(published_after=ts("1500-01-01T00:00:00Z"),
                  published_before=ts("1600-01-01T00:00:00Z")), set()),
        ]
        for filters, expected in cases:
            with self.subTest(filters={k: v.ToJsonString() for k, v in filters.items()}):
                self.assertEqual(self.ids_where(**filters), expected)
        # The same bounds on the other methods that take them.
        r = self.query.ListClaims(query_pb2.ListClaimsRequest(
            outlet="Limits", published_after=ts("2300-01-01T00:00:00Z")), timeout=5)
        self.assertEqual(len(r.claims), 0)
        r = self.query.GetActorTimeline(query_pb2.GetActorTimelineRequest(
            actor="Turkey", published_after=ts("2300-01-01T00:00:00Z")), timeout=5)
        self.assertEqual(len(r.entries), 0)

    def test_query_filters_refuse_invalid_timestamps(self):
        bad = timestamp_pb2.Timestamp(seconds=INT64_MAX)
        calls = {
            "ListStances": lambda: self.query.ListStances(
                query_pb2.ListStancesRequest(published_after=bad), timeout=5),
            "ListClaims": lambda: self.query.ListClaims(
                query_pb2.ListClaimsRequest(published_before=bad), timeout=5),
            "GetActorTimeline": lambda: self.query.GetActorTimeline(
                query_pb2.GetActorTimelineRequest(actor="Turkey", published_after=bad), timeout=5),
            "WatchStances": lambda: next(self.query.WatchStances(
                query_pb2.WatchStancesRequest(published_before=bad), timeout=5)),
        }
        for method, call in calls.items():
            with self.subTest(method=method):
                self.assertStatus(call, grpc.StatusCode.INVALID_ARGUMENT, "not a valid timestamp")

    def cli(self, *args):
        return cli(self.stack, *args)

    def test_cli_time_filters(self):
        r = self.cli("--format", "json", "--all", "--published-after", "2300-01-01T00:00:00Z")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")
        r = self.cli("--format", "json", "--all", "--published-after", "2261-01-01T00:00:00Z")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual({json.loads(line)["id"] for line in r.stdout.splitlines()},
                         self.ids["late"])
        for bad in ("10000-01-01T00:00:00Z", "yesterday", "2025-13-01T00:00:00Z"):
            with self.subTest(bad=bad):
                r = self.cli("--published-before", bad)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertIn("--published-before", r.stderr)
                self.assertEqual(r.stdout, "")

    # --- filters and unparsable requests ----------------------------------------------------

    def test_too_many_filter_words_is_invalid_argument_naming_the_limit(self):
        many = " ".join(chr(ord("a") + i % 26) for i in range(512))  # 1023 bytes: under 1024
        calls = {
            "ListStances/condition": lambda: self.query.ListStances(
                query_pb2.ListStancesRequest(condition=many), timeout=5),
            "ListStances/topic": lambda: self.query.ListStances(
                query_pb2.ListStancesRequest(topic=many), timeout=5),
            "ListClaims/condition": lambda: self.query.ListClaims(
                query_pb2.ListClaimsRequest(condition=many), timeout=5),
            "ListActors/topic": lambda: self.query.ListActors(
                query_pb2.ListActorsRequest(topic=many), timeout=5),
            "ListConditions/topic": lambda: self.query.ListConditions(
                query_pb2.ListConditionsRequest(topic=many), timeout=5),
            "GetActorTimeline/topic": lambda: self.query.GetActorTimeline(
                query_pb2.GetActorTimelineRequest(actor="Turkey", topic=many), timeout=5),
            "WatchStances/condition": lambda: next(self.query.WatchStances(
                query_pb2.WatchStancesRequest(condition=many), timeout=5)),
        }
        for name, call in calls.items():
            with self.subTest(call=name):
                field_name = name.split("/")[1]
                self.assertStatus(call, grpc.StatusCode.INVALID_ARGUMENT,
                                  f"{field_name} has 512 words, over the limit of 32")

    def test_filters_at_the_word_limit_are_answered(self):
        words = " ".join(f"w{i}" for i in range(32))
        r = self.query.ListStances(query_pb2.ListStancesRequest(
            condition=words, topic=words, actor="Turkey", outlet="Limits"), timeout=10)
        self.assertEqual(len(r.stances), 0)
        r = self.query.ListClaims(query_pb2.ListClaimsRequest(condition=words, topic=words),
                                  timeout=10)
        self.assertEqual(len(r.claims), 0)
        self.query.ListActors(query_pb2.ListActorsRequest(topic=words), timeout=10)
        self.query.ListConditions(query_pb2.ListConditionsRequest(topic=words), timeout=10)

    def raw(self, method, stream=False):
        make = self.channel.unary_stream if stream else self.channel.unary_unary
        return make(f"/stancewire.v1.QueryService/{method}", request_serializer=lambda b: b,
                    response_deserializer=lambda b: b)

    def test_every_method_names_what_is_unparsable(self):
        # (method, number of its `topic` field, server streaming)
        methods = [("ListStances", 6, False), ("ListActors", 1, False),
                   ("ListConditions", 1, False), ("GetActorTimeline", 2, False),
                   ("ListClaims", 4, False), ("WatchStances", 4, True)]
        for method, topic, stream in methods:
            rpc = self.raw(method, stream)
            call = (lambda b: next(rpc(b, timeout=5))) if stream else (lambda b: rpc(b, timeout=5))
            for request, words in ((b"\xff\xff\xff\xff", ("not a valid protobuf",)),
                                   (field(topic, b"gaza \xc3("),
                                    ("topic is not valid UTF-8", "offset 5"))):
                with self.subTest(method=method, words=words):
                    self.assertStatus(lambda: call(request), grpc.StatusCode.INVALID_ARGUMENT,
                                      *words)

    def test_typed_methods_still_answer_well_formed_requests(self):
        r = self.query.ListActors(query_pb2.ListActorsRequest(), timeout=5)
        self.assertIn("TUR", [a.actor.id for a in r.actors])
        r = self.query.GetActorTimeline(query_pb2.GetActorTimelineRequest(actor="Ankara"),
                                        timeout=5)
        self.assertEqual(r.actor.id, "TUR")
        self.assertTrue(r.entries)


class OutOfRangeStanceTest(unittest.TestCase):
    """A stance with a publication time out of range that gets past Ingest anyway: over the
    stream it is clamped (refusing it would block delivery behind it); in a store file it makes
    `stancewire list --format json` fail loudly, never print a truncated line with status 0."""

    def test_stream_clamps_and_the_cli_never_prints_a_truncated_line(self):
        stack = harness.Stack()
        try:
            stack.start()
            stance = stance_pb2.Stance(id="lim-unprintable", item_id="lim-unprintable-item",
                                       actor={"id": "TUR", "name": "Turkey"},
                                       outlet="Unprintable", position=stance_pb2.POSITION_OPPOSE)
            stance.published.seconds = INT64_MAX
            # Straight over the stream, as an outbox written before Ingest checked times would.
            sink = delivery_pb2_grpc.StanceSinkStub(stack.channel(stack.query.address))
            acks = list(sink.Deliver(iter([delivery_pb2.DeliverBatch(seq=1, stances=[stance])]),
                                     timeout=10))
            self.assertEqual([a.seq for a in acks], [1])
            stored = stack.query_stub().ListStances(query_pb2.ListStancesRequest(
                outlet="Unprintable", published_after=ts("2261-01-01T00:00:00Z")),
                timeout=5).stances
            self.assertEqual([s.id for s in stored], ["lim-unprintable"])
            self.assertEqual(stored[0].published.ToJsonString(), "2261-12-31T23:59:59.999999999Z")
            self.assertIn("stance lim-unprintable of item lim-unprintable-item: publication time "
                          "out of range, stored as 2261-12-31T23:59:59.999999999Z",
                          stack.query.log())
            r = cli(stack, "--format", "json", "--all")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual([json.loads(line)["id"] for line in r.stdout.splitlines()],
                             ["lim-unprintable"])

            # A store written by hand (or by an older query-service) can still hold such a body.
            stack.query.stop()
            with sqlite3.connect(stack.store_path) as db:
                db.execute("UPDATE stances SET body = ? WHERE id = ?",
                           (stance.SerializeToString(), "lim-unprintable"))
            db.close()
            stack.query.start()
            r = cli(stack, "--format", "json", "--all")
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("stance lim-unprintable cannot be printed as JSON", r.stderr)
            self.assertEqual(r.stdout, "")  # nothing half-printed
            r = cli(stack, "--all")  # the text format prints it
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("Turkey", r.stdout)
        finally:
            stack.cleanup()


class HealthPortTest(unittest.TestCase):
    """The plaintext --health-listen port serves grpc.health.v1 and nothing else."""

    def test_health_port_serves_health_alone(self):
        ports = {"query": harness.free_port(), "ingest": harness.free_port()}
        stack = harness.Stack(query_args=["--health-listen", f"127.0.0.1:{ports['query']}"],
                              ingest_args=["--health-listen", f"127.0.0.1:{ports['ingest']}"])
        try:
            stack.start()
            for name, service in (("query", stack.query), ("ingest", stack.ingest)):
                health = stack.channel(f"127.0.0.1:{ports[name]}")
                harness.wait_serving(f"127.0.0.1:{ports[name]}", timeout=10)
                with self.subTest(service=name):
                    r = health_pb2_grpc.HealthStub(health).Check(health_pb2.HealthCheckRequest(),
                                                                  timeout=5)
                    self.assertEqual(r.status, health_pb2.HealthCheckResponse.SERVING)
                    with self.assertRaises(grpc.RpcError) as e:
                        harness.ReflectionClient(health).list_services()
                    self.assertEqual(e.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
                    # The service's own port still offers reflection (grpcurl).
                    listed = harness.ReflectionClient(
                        stack.channel(service.address)).list_services()
                    self.assertIn("grpc.reflection.v1alpha.ServerReflection", listed)
            with self.assertRaises(grpc.RpcError) as e:
                query_pb2_grpc.QueryServiceStub(stack.channel(f"127.0.0.1:{ports['query']}")) \
                    .ListStances(query_pb2.ListStancesRequest(), timeout=5)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        finally:
            stack.cleanup()


if __name__ == "__main__":
    unittest.main()
