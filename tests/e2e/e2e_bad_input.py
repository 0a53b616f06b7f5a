"""The bad-input catalogue, walked against the running binaries: each case gets a precise status
whose message names the problem, and the services go on serving."""
import json
import subprocess
import unittest

import grpc

import harness
from stancewire.v1 import delivery_pb2, delivery_pb2_grpc, ingest_pb2, query_pb2, stance_pb2

MAX_TEXT = 4096


def field(number, payload):
    """A length-delimited protobuf field, built by hand so that it can hold what a conforming
    client library would refuse to send (invalid UTF-8 in a string field)."""
    n, out = len(payload), bytearray([number << 3 | 2])
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out) + payload


class BadInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack(ingest_args=["--max-text-bytes", str(MAX_TEXT),
                                               "--max-message-bytes", str(1024 * 1024)],
                                  query_args=["--max-batch-stances", "100"]).start()
        cls.ingest = cls.stack.ingest_stub()
        cls.query = cls.stack.query_stub()
        channel = cls.stack.channel(cls.stack.ingest.address)
        cls.raw = {m: channel.unary_unary(f"/stancewire.v1.IngestService/{m}",
                                          request_serializer=lambda b: b,
                                          response_deserializer=lambda b: b)
                   for m in ("Ingest", "Extract")}

    @classmethod
    def tearDownClass(cls):
        cls.stack.cleanup()

    def tearDown(self):
        # After every case both services still serve.
        harness.wait_serving(self.stack.ingest.address, timeout=5)
        harness.wait_serving(self.stack.query.address, timeout=5)
        r = self.ingest.Extract(ingest_pb2.ExtractRequest(item=stance_pb2.NewsItem(
            id="ok", text="Turkey rejected the proposal.")), timeout=5)
        self.assertIsNotNone(r)

    def assertStatus(self, call, code, *words):
        with self.assertRaises(grpc.RpcError) as e:
            call()
        self.assertEqual(e.exception.code(), code, e.exception.details())
        for w in words:
            self.assertIn(w, e.exception.details())

    def test_missing_item_and_empty_text(self):
        for method in ("Ingest", "Extract"):
            stub = getattr(self.ingest, method)
            req = getattr(ingest_pb2, f"{method}Request")
            with self.subTest(method=method):
                self.assertStatus(lambda: stub(req(), timeout=5),
                                  grpc.StatusCode.INVALID_ARGUMENT, "item.id is empty")
                self.assertStatus(lambda: stub(req(item=stance_pb2.NewsItem(id="e")), timeout=5),
                                  grpc.StatusCode.INVALID_ARGUMENT, "item e", "empty")

    def test_text_over_the_configured_limit(self):
        item = stance_pb2.NewsItem(id="big", text="Turkey backs the plan. " * 400)
        self.assertStatus(lambda: self.ingest.Ingest(ingest_pb2.IngestRequest(item=item), timeout=5),
                          grpc.StatusCode.INVALID_ARGUMENT, "item big", str(MAX_TEXT))

    def test_message_over_the_transport_limit(self):
        item = stance_pb2.NewsItem(id="huge", text="x" * (2 * 1024 * 1024))
        self.assertStatus(lambda: self.ingest.Ingest(ingest_pb2.IngestRequest(item=item), timeout=10),
                          grpc.StatusCode.RESOURCE_EXHAUSTED)

    def test_invalid_utf8_names_field_and_offset(self):
        request = field(1, field(1, b"u8") + field(5, b"Ankara said \xff\xfe no."))
        for method, rpc in self.raw.items():
            with self.subTest(method=method):
                self.assertStatus(lambda: rpc(request, timeout=5), grpc.StatusCode.INVALID_ARGUMENT,
                                  "item.text is not valid UTF-8", "offset 12")

    def test_list_stances_names_the_field_that_is_not_utf8(self):
        rpc = self.stack.channel(self.stack.query.address).unary_unary(
            "/stancewire.v1.QueryService/ListStances", request_serializer=lambda b: b,
            response_deserializer=lambda b: b)
        for request, words in ((field(6, b"gaza \xc3("), ("topic is not valid UTF-8", "offset 5")),
                               (b"\xff\xff\xff\xff", ("not a valid protobuf",))):
            with self.subTest(words=words):
                self.assertStatus(lambda: rpc(request, timeout=5),
                                  grpc.StatusCode.INVALID_ARGUMENT, *words)

    def test_binary_garbage_request(self):
        self.assertStatus(lambda: self.raw["Ingest"](b"\xff\xff\xff\xff", timeout=5),
                          grpc.StatusCode.INVALID_ARGUMENT, "not a valid protobuf")

    def test_page_token_and_page_size(self):
        cases = [
            (dict(page_size=-5), "page_size -5"),
            (dict(page_size=5000), "page_size 5000"),
            (dict(page_token="AAAA"), "page_token"),
            (dict(page_token="!!not-base64!!"), "page_token"),
        ]
        for request, words in cases:
            with self.subTest(request=request):
                self.assertStatus(lambda: self.query.ListStances(
                    query_pb2.ListStancesRequest(**request), timeout=5),
                    grpc.StatusCode.INVALID_ARGUMENT, words)

    def test_delivery_stream_refuses_bad_batches(self):
        stub = delivery_pb2_grpc.StanceSinkStub(self.stack.channel(self.stack.query.address))
        nameless = delivery_pb2.DeliverBatch(seq=1, stances=[stance_pb2.Stance(item_id="i")])
        too_big = delivery_pb2.DeliverBatch(seq=2, stances=[
            stance_pb2.Stance(id=f"s{i}", item_id="i", actor={"id": "TUR"}) for i in range(101)])
        for batch, code, words in ((nameless, grpc.StatusCode.INVALID_ARGUMENT, "without id"),
                                   (too_big, grpc.StatusCode.RESOURCE_EXHAUSTED, "over the limit")):
            with self.subTest(words=words):
                responses = stub.Deliver(iter([batch]), timeout=5)
                self.assertStatus(lambda: list(responses), code, words)


class ExtractCommandBadInputTest(unittest.TestCase):
    def run_extract(self, data, *args):
        return subprocess.run([harness.INGEST_BIN, "extract", "--max-text-bytes", str(MAX_TEXT),
                               *args], input=data, capture_output=True, timeout=60)

    def test_each_bad_line_is_named_by_number(self):
        good = json.dumps({"id": "g", "text": "Egypt rejected the plan."}).encode()
        cases = [
            (b"{not json", "line 2"),
            (json.dumps({"id": "u", "text": "x", "color": "red"}).encode(), "color"),
            (b'{"id": "b", "text": "bad \xff byte"}', "line 2"),
            (json.dumps({"id": "e", "text": ""}).encode(), "empty"),
            (json.dumps({"id": "l", "text": "y" * (MAX_TEXT + 1)}).encode(), str(MAX_TEXT)),
        ]
        for bad, words in cases:
            with self.subTest(words=words):
                data = good + b"\n" + bad + b"\n" + good + b"\n"
                stop = self.run_extract(data)
                self.assertEqual(stop.returncode, 1)
                self.assertIn(words, stop.stderr.decode())
                skip = self.run_extract(data, "--on-error", "skip")
                self.assertEqual(skip.returncode, 1)
                # skip went past the bad line: the good item after it was extracted too
                self.assertEqual(len(skip.stdout.splitlines()), 2 * len(stop.stdout.splitlines()))


if __name__ == "__main__":
    unittest.main()
