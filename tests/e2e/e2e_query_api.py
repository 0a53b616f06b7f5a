"""The query API end to end, driven by the README: every grpcurl command between
<!-- BEGIN grpcurl --> and <!-- END grpcurl --> is parsed (method and -d JSON) and sent through a
reflection-driven client, as grpcurl would, against a running Stack holding stances delivered over
the real StanceSink stream. Each answer is checked against a small reference model of the filter
semantics (docs/query-api.md), so if the README and the server disagree, this fails.

Also: every QueryService RPC has a README command; status codes and messages for bad requests;
paging with total_size; WatchStances delivering stances as they are stored."""
import json
import os
import re
import shlex
import struct
import threading
import time
import unittest

import grpc
from google.protobuf import json_format, timestamp_pb2

import harness
from stancewire.v1 import delivery_pb2, delivery_pb2_grpc, query_pb2, stance_pb2

README = os.path.join(harness.SOURCE, "README.md")
DOC_ADDRESS = "127.0.0.1:7410"
POS = stance_pb2.Position
GAZA = "gaza-international-stabilization-force"
GAZA_LABEL = "International Stabilisation Force"

# Aliases the README may use for the test's actors, as the real dictionary resolves them.
ACTORS = {"AZE": ("Azerbaijan", ["azerbaijan", "baku", "azerbaijani", "jeyhun bayramov", "aze"]),
          "TUR": ("Turkey", ["turkey", "ankara", "turkish", "hakan fidan", "tur", "türkiye"]),
          "IDN": ("Indonesia", ["indonesia", "jakarta", "indonesian", "idn"]),
          "USA": ("United States", ["united states", "washington", "usa", "us", "u.s."])}
ALIASES = {a: id_ for id_, (_, aliases) in ACTORS.items() for a in aliases}
# People as the real dictionary names them (data/actors/40_people.tsv): form -> full name.
PEOPLE = {"hakan fidan": "Hakan Fidan", "fidan": "Hakan Fidan",
          "jeyhun bayramov": "Jeyhun Bayramov", "bayramov": "Jeyhun Bayramov"}


def stance(id_, actor, position, day, outlet, conditions=(), topic=GAZA, label=GAZA_LABEL,
           mention=None, speaker="", confidence=0.9):
    name = ACTORS[actor][0]
    s = stance_pb2.Stance(
        id=id_, item_id="item-" + id_, topic=topic, topic_label=label, position=position,
        outlet=outlet, url=f"https://example.org/{id_}", attribution=outlet, confidence=confidence,
        speaker=speaker,
        actor=stance_pb2.Actor(id=actor, name=name, mention=mention or name, kind="state"),
        evidence=stance_pb2.Evidence(text=f"{name} on the force ({id_}).", start=0, end=20))
    s.published.FromJsonString(day + "T09:00:00Z")
    for kind, text in conditions:
        s.conditions.add(kind=kind, text=text, start=0, end=len(text))
    return s


UN = ("UN_MANDATE", "a resolution of the UN Security Council")
STANCES = [
    stance("aze-1", "AZE", POS.POSITION_UNDECIDED, "2025-10-10", "AnewZ", mention="Baku"),
    stance("aze-2", "AZE", POS.POSITION_CONDITIONAL, "2025-10-16", "AnewZ", [UN], mention="Baku"),
    stance("aze-3", "AZE", POS.POSITION_CONDITIONAL, "2025-10-17", "Reuters",
           [("UN_MANDATE", "a UN Security Council mandate")]),
    stance("aze-4", "AZE", POS.POSITION_CONDITIONAL, "2025-10-20", "APA",
           [UN, ("CLEAR_MANDATE", "a clear mandate for the mission")], speaker="Jeyhun Bayramov",
           confidence=0.75),
    stance("tur-1", "TUR", POS.POSITION_SUPPORT, "2025-10-12", "Anadolu", speaker="Hakan Fidan",
           confidence=0.8),
    stance("tur-2", "TUR", POS.POSITION_OPPOSE, "2025-10-25", "Reuters", mention="Ankara"),
    stance("idn-1", "IDN", POS.POSITION_CONDITIONAL, "2025-10-20", "Antara",
           [("UN_MANDATE", "if the UN Security Council authorises the mission"),
            ("PARLIAMENT_APPROVAL", "the approval of parliament")]),
    stance("idn-2", "IDN", POS.POSITION_CONDITIONAL, "2025-10-21", "Jakarta Post",
           [("UN_MANDATE", "a Security Council mandate"),
            ("PARLIAMENT_APPROVAL", "approval by the House of Representatives")]),
    stance("usa-1", "USA", POS.POSITION_SUPPORT, "2025-09-30", "AP", topic="haiti-gang-suppression-force",
           label="Gang Suppression Force"),
]


# --- the reference model of the filter semantics (docs/query-api.md) --------------------------

def nanos(ts):
    return ts.seconds * 10**9 + ts.nanos


def parse_condition(text):
    words = text.split()
    if len(words) == 1 and re.fullmatch(r"[A-Za-z0-9_-]+", words[0]) and (
            "_" in words[0] or not re.search("[a-z]", words[0])):
        return True, words[0].upper().replace("-", "_"), []
    return False, "_".join(words).upper().replace("-", "_"), [w.lower() for w in words]


def matches(s, req):
    actor = req.get("actor", "")
    if actor:
        id_ = ALIASES.get(actor.lower())
        if id_ is None and actor.lower() not in {s.actor.id.lower(), s.actor.name.lower(),
                                                 s.actor.mention.lower()}:
            return False
        if id_ is not None and s.actor.id != id_:
            return False
    if req.get("condition"):
        by_kind, kind, words = parse_condition(req["condition"])
        if not any(c.kind == kind or (not by_kind and all(w in c.text.lower() for w in words))
                   for c in s.conditions):
            return False
    position = req.get("position")
    if position and position != "POSITION_UNSPECIFIED" and s.position != POS.Value(position):
        return False
    topic = req.get("topic", "")
    if topic and s.topic.lower() != topic.lower():
        hay = (s.topic + " " + s.topic_label).lower()
        if not all(w.lower() in hay for w in topic.split()):
            return False
    if req.get("outlet") and s.outlet.lower() != req["outlet"].lower():
        return False
    speaker = req.get("speaker", "")
    if speaker and s.speaker.lower() != PEOPLE.get(speaker.lower(), speaker).lower():
        return False
    min_confidence = req.get("min_confidence", req.get("minConfidence", 0))
    if min_confidence and s.confidence < struct.unpack("f", struct.pack("f", min_confidence))[0]:
        return False
    for key, ok in (("published_after", lambda p, b: p >= b), ("published_before", lambda p, b: p < b)):
        value = req.get(key) or req.get(re.sub(r"_(\w)", lambda m: m.group(1).upper(), key))
        if value:
            bound = timestamp_pb2.Timestamp()
            bound.FromJsonString(value)
            if not ok(nanos(s.published), nanos(bound)):
                return False
    return True


def newest_first(stances):
    return sorted(stances, key=lambda s: (nanos(s.published), s.id), reverse=True)


def kinds(s):
    return sorted({c.kind for c in s.conditions if c.kind})


# --- the README ---------------------------------------------------------------------------------

def readme_commands():
    """The grpcurl commands of the README's grpcurl section, as argument lists."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- BEGIN grpcurl -->(.*?)<!-- END grpcurl -->", text, re.S)
    assert m, "README.md has no <!-- BEGIN grpcurl --> ... <!-- END grpcurl --> section"
    commands = []
    for block in re.findall(r"```(?:sh|bash|console)?\n(.*?)```", m.group(1), re.S):
        block = block.replace("\\\n", " ")
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("grpcurl "):
                commands.append(shlex.split(line, comments=True))
    assert commands, "the grpcurl section holds no grpcurl commands"
    return commands


def parse_command(argv):
    """(verb_or_method, request JSON or None, address) of one grpcurl command line."""
    args, data, i = [], None, 1
    while i < len(argv):
        a = argv[i]
        if a == "-d":
            data = argv[i + 1]
            i += 2
            continue
        if a in ("-max-time", "-connect-timeout"):
            i += 2
            continue
        if a.startswith("-"):
            assert a == "-plaintext", f"unexpected grpcurl flag {a} in {argv}"
        else:
            args.append(a)
        i += 1
    assert "-plaintext" in argv, f"README command without -plaintext: {argv}"
    assert args and args[0] == DOC_ADDRESS, f"README command not aimed at {DOC_ADDRESS}: {argv}"
    return args[1:], data


class StreamingReflectionClient(harness.ReflectionClient):
    """ReflectionClient plus server-streaming calls (grpcurl prints each message as it comes)."""

    def stream(self, method, request_json, timeout=30):
        service_name, method_name = method.split("/")
        m = self.describe(service_name).FindMethodByName(method_name)
        request_cls = self.factory.GetPrototype(m.input_type)
        response_cls = self.factory.GetPrototype(m.output_type)
        rpc = self.channel.unary_stream(f"/{service_name}/{method_name}",
                                        request_serializer=request_cls.SerializeToString,
                                        response_deserializer=response_cls.FromString)
        return rpc(json_format.Parse(request_json, request_cls()), timeout=timeout)


class QueryApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack().start()
        cls.seq = 0
        cls.deliver(STANCES)
        cls.client = StreamingReflectionClient(cls.stack.channel(cls.stack.query.address))
        cls.commands = [parse_command(c) for c in readme_commands()]

    @classmethod
    def tearDownClass(cls):
        cls.stack.cleanup()

    @classmethod
    def deliver(cls, stances):
        """Stores stances through the real delivery stream and waits for the acknowledgement."""
        cls.seq += 1
        sink = delivery_pb2_grpc.StanceSinkStub(cls.stack.channel(cls.stack.query.address))
        acks = sink.Deliver(iter([delivery_pb2.DeliverBatch(seq=cls.seq, stances=stances)]),
                            timeout=10)
        assert next(acks).seq == cls.seq

    def documented(self, method):
        out = [(data or "{}") for args, data in self.commands
               if args and args[-1] == f"stancewire.v1.QueryService/{method}"]
        self.assertTrue(out, f"README documents no grpcurl command for {method}")
        return out

    # --- the README against the server ---

    def test_readme_documents_every_rpc_and_only_real_ones(self):
        service = self.client.describe("stancewire.v1.QueryService")
        rpcs = {m.name for m in service.methods}
        documented = set()
        for args, _ in self.commands:
            if args and "/" in args[-1]:
                service_name, method = args[-1].split("/")
                if service_name == "stancewire.v1.QueryService":
                    documented.add(method)
                    self.assertIn(method, rpcs, f"README calls {args[-1]}, which the server lacks")
                else:
                    self.assertIn(service_name, self.client.list_services())
        self.assertEqual(rpcs - documented, set(), "RPCs without a README grpcurl command")

    def test_readme_list_and_describe_commands_work(self):
        for args, _ in self.commands:
            if args and args[0] == "list":
                names = self.client.list_services()
                if len(args) == 1:
                    self.assertIn("stancewire.v1.QueryService", names)
                else:
                    service = self.client.describe(args[1])
                    self.assertTrue(service.methods)
            elif args and args[0] == "describe":
                self.assertIsNotNone(self.client.describe(args[1]))
            elif args and args[-1] == "grpc.health.v1.Health/Check":
                self.assertEqual(self.client.call(args[-1], "{}")["status"], "SERVING")

    def test_readme_list_stances(self):
        for data in self.documented("ListStances"):
            with self.subTest(request=data):
                req = json.loads(data)
                expected = [s.id for s in newest_first(s for s in STANCES if matches(s, req))]
                self.assertTrue(expected, f"README request {data} matches no test stance: "
                                "not a meaningful example")
                got, token, total = [], None, None
                while True:
                    page = dict(req, **({"page_token": token} if token else {}))
                    r = self.client.call("stancewire.v1.QueryService/ListStances", json.dumps(page))
                    got += [s["id"] for s in r.get("stances", [])]
                    total = r.get("totalSize", 0) if total is None else total
                    self.assertEqual(r.get("totalSize", 0), total)
                    token = r.get("nextPageToken")
                    if not token:
                        break
                self.assertEqual(got, expected)
                self.assertEqual(total, len(expected))

    def test_readme_list_actors(self):
        for data in self.documented("ListActors"):
            with self.subTest(request=data):
                req = json.loads(data)
                chosen = [s for s in STANCES if matches(s, req)]
                self.assertTrue(chosen, f"README request {data} matches no test stance")
                r = self.client.call("stancewire.v1.QueryService/ListActors", data)
                got = {a["actor"]["id"]: a for a in r.get("actors", [])}
                self.assertEqual(set(got), {s.actor.id for s in chosen})
                counts = [a["stanceCount"] for a in r["actors"]]
                self.assertEqual(counts, sorted(counts, reverse=True))
                for id_, a in got.items():
                    mine = [s for s in chosen if s.actor.id == id_]
                    self.assertEqual(a["stanceCount"], len(mine))
                    self.assertEqual(a["actor"]["name"], ACTORS[id_][0])
                    self.assertEqual(a["actor"]["kind"], "state")
                    self.assertEqual({pc["position"]: pc["count"] for pc in a["positionCounts"]},
                                     {POS.Name(p): sum(1 for s in mine if s.position == p)
                                      for p in {s.position for s in mine}})
                    self.assertEqual(a["latest"]["id"], newest_first(mine)[0].id)

    def test_readme_list_conditions(self):
        for data in self.documented("ListConditions"):
            with self.subTest(request=data):
                req = json.loads(data)
                chosen = [s for s in STANCES if matches(s, req)]
                r = self.client.call("stancewire.v1.QueryService/ListConditions", data)
                got = {c["kind"]: c for c in r.get("conditions", [])}
                expected_kinds = {k for s in chosen for k in kinds(s)}
                self.assertEqual(set(got), expected_kinds)
                self.assertTrue(expected_kinds)
                for kind, c in got.items():
                    setters = [s for s in chosen if kind in kinds(s)]
                    self.assertEqual(c["stanceCount"], len(setters))
                    self.assertEqual({a["actor"]["id"]: a["count"] for a in c["actors"]},
                                     {id_: sum(1 for s in setters if s.actor.id == id_)
                                      for id_ in {s.actor.id for s in setters}})
                self.assertEqual(r["conditions"][0]["kind"], "UN_MANDATE")

    def test_readme_get_actor_timeline(self):
        for data in self.documented("GetActorTimeline"):
            with self.subTest(request=data):
                req = json.loads(data)
                mine = [s for s in STANCES if matches(s, req)]
                self.assertTrue(mine, f"README request {data} matches no test stance")
                expected = sorted(mine, key=lambda s: (nanos(s.published), s.id))
                r = self.client.call("stancewire.v1.QueryService/GetActorTimeline", data)
                entries = r["entries"]
                self.assertEqual([e["stance"]["id"] for e in entries], [s.id for s in expected])
                self.assertEqual(r["actor"]["id"], expected[0].actor.id)
                previous = {}
                for e, s in zip(entries, expected):
                    prev = previous.get(s.topic)
                    if prev is None:
                        self.assertFalse(e.get("positionChanged", False))
                    else:
                        self.assertEqual(e.get("positionChanged", False), prev.position != s.position)
                        self.assertEqual(e.get("conditionsChanged", False), kinds(prev) != kinds(s))
                        self.assertEqual(e.get("addedConditions", []),
                                         sorted(set(kinds(s)) - set(kinds(prev))))
                    previous[s.topic] = s
                self.assertTrue(any(e.get("positionChanged") for e in entries),
                                "the README example should show a change of position")

    def test_readme_list_claims(self):
        for data in self.documented("ListClaims"):
            with self.subTest(request=data):
                req = json.loads(data)
                groups = {}
                for s in STANCES:
                    if matches(s, req):
                        groups.setdefault((s.actor.id, s.topic, s.position, tuple(kinds(s))), []).append(s)
                groups = {k: v for k, v in groups.items() if len(v) >= max(1, req.get("min_count", 0))}
                self.assertTrue(groups, f"README request {data} yields no claim on the test data")
                r = self.client.call("stancewire.v1.QueryService/ListClaims", data)
                self.assertEqual(r["totalSize"], len(groups))
                got = {(c["actor"]["id"], c["topic"], POS.Value(c["position"]),
                        tuple(c.get("conditionKinds", []))): c for c in r["claims"]}
                self.assertEqual(set(got), set(groups))
                for key, c in got.items():
                    reports = groups[key]
                    self.assertEqual(c["count"], len(reports))
                    self.assertEqual(c["outlets"], sorted({s.outlet for s in reports}))
                    self.assertEqual(c["firstSeen"], min(s.published.ToJsonString() for s in reports))
                    self.assertEqual(c["lastSeen"], max(s.published.ToJsonString() for s in reports))
                    self.assertEqual(c["latest"]["id"], newest_first(reports)[0].id)
                    self.assertEqual(set(c["itemIds"]), {s.item_id for s in reports})
                self.assertGreater(r["claims"][0]["count"], 1, "show a corroborated claim")

    def test_readme_watch_stances(self):
        for n, data in enumerate(self.documented("WatchStances")):
            with self.subTest(request=data):
                req = json.loads(data)
                stream = self.client.stream("stancewire.v1.QueryService/WatchStances", data)
                stream.initial_metadata()  # the server has registered the watch
                new = [stance(f"watch-{n}-{i}", actor, position, "2025-11-0%d" % (i + 1), outlet,
                              conds, mention=mention)
                       for i, (actor, position, outlet, conds, mention) in enumerate([
                           ("TUR", POS.POSITION_OPPOSE, "Reuters", [UN], "Ankara"),
                           ("AZE", POS.POSITION_SUPPORT, "AnewZ", [], None),
                           ("TUR", POS.POSITION_CONDITIONAL, "Anadolu", [UN], None),
                           ("IDN", POS.POSITION_CONDITIONAL, "Antara", [UN], None)])]
                expected = [s.id for s in new if matches(s, req)]
                self.assertTrue(expected, f"README request {data}: none of the test's new stances match")
                # Redelivered unchanged stances are not news: only the sentinel follows them.
                sentinel = stance_pb2.Stance()
                sentinel.CopyFrom(next(s for s in new if matches(s, req)))
                sentinel.id = f"watch-{n}-sentinel"
                expected.append(sentinel.id)
                received = []
                reader = threading.Thread(
                    target=lambda: received.extend(m for _, m in zip(expected, stream)))
                reader.start()
                self.deliver(new)
                self.deliver(new)
                self.deliver([sentinel])
                reader.join(timeout=10)
                stream.cancel()
                self.assertEqual([m.id for m in received], expected)

    # --- beyond the README ---

    def test_aggregates_follow_speaker_confidence_and_window(self):
        """ListActors, ListConditions and GetActorTimeline agree with ListStances' filters."""
        call = self.client.call
        for req in ({"speaker": "Fidan"}, {"speaker": "Jeyhun Bayramov", "topic": GAZA},
                    {"min_confidence": 0.8}, {"topic": "stabilisation", "min_confidence": 0.9},
                    {"published_after": "2025-10-17T00:00:00Z",
                     "published_before": "2025-10-21T00:00:00Z"}):
            with self.subTest(request=req):
                chosen = [s for s in STANCES if matches(s, req)]
                self.assertTrue(chosen)
                self.assertLess(len(chosen), len(STANCES))  # the filter does select
                r = call("stancewire.v1.QueryService/ListActors", json.dumps(req))
                by_actor = {}
                for s in newest_first(chosen):
                    by_actor.setdefault(s.actor.id, []).append(s)
                expected = sorted(((id_, len(mine), mine[0].id) for id_, mine in by_actor.items()),
                                  key=lambda e: (-e[1], e[0]))
                self.assertEqual([(a["actor"]["id"], a["stanceCount"], a["latest"]["id"])
                                  for a in r.get("actors", [])], expected)
                self.assertEqual(r.get("totalSize", 0), len(expected))
                r = call("stancewire.v1.QueryService/ListConditions", json.dumps(req))
                expected = {}
                for s in chosen:
                    for k in set(kinds(s)):
                        expected.setdefault(k, {}).setdefault(s.actor.id, 0)
                        expected[k][s.actor.id] += 1
                self.assertEqual({c["kind"]: {a["actor"]["id"]: a["count"] for a in c["actors"]}
                                  for c in r.get("conditions", [])}, expected)
                for c in r.get("conditions", []):
                    self.assertEqual(c["stanceCount"], sum(expected[c["kind"]].values()))
        # Azerbaijan's timeline as voiced by Bayramov: one stance, compared with none of his.
        r = call("stancewire.v1.QueryService/GetActorTimeline",
                 json.dumps({"actor": "Baku", "speaker": "Bayramov"}))
        self.assertEqual([e["stance"]["id"] for e in r["entries"]],
                         [s.id for s in STANCES if s.actor.id == "AZE" and s.speaker])
        self.assertNotIn("previousPosition", r["entries"][0])
        self.assertNotIn("addedConditions", r["entries"][0])
        r = call("stancewire.v1.QueryService/GetActorTimeline",
                 json.dumps({"actor": "Baku", "min_confidence": 0.8}))
        self.assertEqual([e["stance"]["id"] for e in r["entries"]],
                         [s.id for s in sorted(STANCES, key=lambda s: nanos(s.published))
                          if s.actor.id == "AZE" and s.confidence >= 0.8])
        # The same refusals as ListStances, and tokens bound to the new filters.
        for method, extra in (("ListActors", {}), ("ListConditions", {}),
                              ("GetActorTimeline", {"actor": "Baku"})):
            for bad, words in (({"min_confidence": 1.5}, "min_confidence is 1.5"),
                               ({"min_confidence": -0.5}, "it must be in [0, 1]"),
                               ({"speaker": "  "}, "speaker is blank")):
                with self.subTest(method=method, request=bad):
                    with self.assertRaises(grpc.RpcError) as e:
                        call(f"stancewire.v1.QueryService/{method}", json.dumps(dict(extra, **bad)))
                    self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
                    self.assertIn(words, e.exception.details())
        first = call("stancewire.v1.QueryService/ListActors",
                     json.dumps({"page_size": 1, "min_confidence": 0.8}))
        self.assertTrue(first.get("nextPageToken"))
        with self.assertRaises(grpc.RpcError) as e:
            call("stancewire.v1.QueryService/ListActors",
                 json.dumps({"page_size": 1, "min_confidence": 0.9,
                             "page_token": first["nextPageToken"]}))
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("different filters", e.exception.details())

    def test_bad_requests_get_precise_status_codes(self):
        call = self.client.call
        cases = [
            ("ListStances", {"page_size": 5000}, grpc.StatusCode.INVALID_ARGUMENT, "page_size"),
            ("ListStances", {"page_token": "forged"}, grpc.StatusCode.INVALID_ARGUMENT, "page_token"),
            ("ListStances", {"position": 7}, grpc.StatusCode.INVALID_ARGUMENT, "position 7"),
            ("ListStances", {"published_after": "2025-10-20T00:00:00Z",
                             "published_before": "2025-10-01T00:00:00Z"},
             grpc.StatusCode.INVALID_ARGUMENT, "must be earlier than published_before"),
            ("ListStances", {"topic": "  "}, grpc.StatusCode.INVALID_ARGUMENT, "topic is blank"),
            ("ListClaims", {"min_count": -1}, grpc.StatusCode.INVALID_ARGUMENT, "min_count"),
            ("GetActorTimeline", {}, grpc.StatusCode.INVALID_ARGUMENT, "actor is required"),
            ("GetActorTimeline", {"actor": "Atlantis"}, grpc.StatusCode.NOT_FOUND, "Atlantis"),
            ("ListActors", {"page_size": -3}, grpc.StatusCode.INVALID_ARGUMENT, "page_size"),
        ]
        for method, request, code, words in cases:
            with self.subTest(method=method, request=request):
                with self.assertRaises(grpc.RpcError) as e:
                    call(f"stancewire.v1.QueryService/{method}", json.dumps(request))
                self.assertEqual(e.exception.code(), code)
                self.assertIn(words, e.exception.details())
        # A token is bound to its call and filters.
        first = call("stancewire.v1.QueryService/ListStances", json.dumps({"page_size": 1}))
        for method, request in (("ListStances", {"page_size": 1, "actor": "Baku"}),
                                ("ListClaims", {"page_size": 1})):
            with self.subTest(token_for=method):
                with self.assertRaises(grpc.RpcError) as e:
                    call(f"stancewire.v1.QueryService/{method}",
                         json.dumps(dict(request, page_token=first["nextPageToken"])))
                self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
                self.assertIn("different filters", e.exception.details())
        with self.assertRaises(grpc.RpcError) as e:
            list(self.client.stream("stancewire.v1.QueryService/WatchStances",
                                    json.dumps({"outlet": "x" * 5000}), timeout=5))
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("outlet is 5000 bytes", e.exception.details())

    def test_paging_walks_every_stance_once_with_a_stable_total(self):
        everything = self.stack.list_all(page_size=1000)
        stub = self.stack.query_stub()
        seen, token, totals = [], "", set()
        while True:
            r = stub.ListStances(query_pb2.ListStancesRequest(page_size=2, page_token=token), timeout=5)
            seen += [s.id for s in r.stances]
            totals.add(r.total_size)
            token = r.next_page_token
            if not token:
                break
        self.assertEqual(seen, [s.id for s in everything])
        self.assertEqual(totals, {len(everything)})


if __name__ == "__main__":
    unittest.main()
