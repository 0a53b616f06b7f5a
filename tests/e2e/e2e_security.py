"""TLS, mutual TLS on the delivery stream, certificate rotation and bearer-token roles, against
the running binaries, with a CA and certificates made here by openssl."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import grpc

import harness
from stancewire.v1 import delivery_pb2, delivery_pb2_grpc, ingest_pb2, query_pb2, stance_pb2
from swtest import health_pb2, health_pb2_grpc

READER = "reader-token-0123456789abcdef"
WRITER = "writer-token-0123456789abcdef"
BOTH = "both-roles-token-0123456789abc"
DELIVERY = "delivery-token-0123456789abcd"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class Pki:
    """A throwaway CA and leaf certificates (SANs 127.0.0.1 and localhost)."""

    def __init__(self, folder):
        self.folder = folder

    def path(self, name):
        return os.path.join(self.folder, name)

    def ca(self, name):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem",
                cwd=self.folder)
        return self.path(f"{name}.pem")

    def leaf(self, name, ca, cn=None, san=None):
        cn = cn or name
        ext = self.path(f"{name}.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:" + (san or cn) + "\n"
                    "extendedKeyUsage=serverAuth,clientAuth\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=self.folder)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", f"{name}.pem",
                cwd=self.folder)
        return self.path(f"{name}.pem"), self.path(f"{name}.key")


def read(path):
    with open(path, "rb") as f:
        return f.read()


class SecurityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="stancewire-pki-")
        pki = cls.pki = Pki(cls.tmp.name)
        cls.ca = pki.ca("ca")
        cls.rogue_ca = pki.ca("rogue")
        cls.server_cert, cls.server_key = pki.leaf("server", "ca")
        cls.ingest_cert, cls.ingest_key = pki.leaf("ingest", "ca", cn="ingest-service")
        cls.rogue_cert, cls.rogue_key = pki.leaf("intruder", "rogue")
        # From the right CA, CN ingest-service, but its SAN names someone else.
        cls.impostor_cert, cls.impostor_key = pki.leaf("impostor", "ca", cn="ingest-service",
                                                       san="impostor")
        cls.tokens = pki.path("tokens.txt")
        with open(cls.tokens, "w") as f:
            f.write(f"# role tokens for the test\n{READER} reader\n{WRITER} writer\n"
                    f"{BOTH} reader,writer\n{DELIVERY} delivery\n")
        cls.delivery_token_file = pki.path("delivery-token")
        with open(cls.delivery_token_file, "w") as f:
            f.write(DELIVERY + "\n")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.stacks = []

    def tearDown(self):
        for s in self.stacks:
            s.cleanup()

    def stack(self, query_args=(), ingest_args=(), sink=True, start=True, insecure=False):
        sink_port = harness.free_port()
        qargs = list(query_args)
        if sink:
            qargs += ["--sink-listen", f"127.0.0.1:{sink_port}"]
        self.sink_address = f"127.0.0.1:{sink_port}" if sink else None
        s = harness.Stack(query_args=qargs, ingest_args=list(ingest_args),
                          insecure_delivery=insecure)
        if sink:
            # ingest-service talks to the sink port, not the API port
            s.ingest.argv[s.ingest.argv.index("--query") + 1] = f"127.0.0.1:{sink_port}"
        if "--tls-cert" in qargs:
            # The API port speaks TLS: probe health on a plaintext port, query over TLS.
            health_port = harness.free_port()
            s.query.argv += ["--health-listen", f"127.0.0.1:{health_port}"]
            s.query.health_address = f"127.0.0.1:{health_port}"
            s.credentials[s.query.address] = grpc.ssl_channel_credentials(read(self.ca))
        self.stacks.append(s)
        return s

    def tls_channel(self, address, ca=None, cert=None, key=None):
        creds = grpc.ssl_channel_credentials(
            root_certificates=read(ca or self.ca),
            private_key=read(key) if key else None,
            certificate_chain=read(cert) if cert else None)
        return grpc.secure_channel(address, creds)

    def item(self, n=0):
        return stance_pb2.NewsItem(id=f"sec-{n}", text="Turkey rejected the proposal for a "
                                   "maritime task force on Monday.")

    def test_tls_port_refuses_plaintext_and_unknown_ca_and_serves_health_in_plaintext(self):
        health_port = harness.free_port()
        s = self.stack(ingest_args=["--tls-cert", self.server_cert, "--tls-key", self.server_key,
                                    "--health-listen", f"127.0.0.1:{health_port}"])
        s.query.start()
        s.ingest.start(wait=False)
        harness.wait_serving(f"127.0.0.1:{health_port}", proc=s.ingest.proc,
                             log_path=s.ingest.log_path)
        self.assertIn("TLS", s.ingest.log())
        request = ingest_pb2.ExtractRequest(item=self.item())
        with grpc.insecure_channel(s.ingest.address) as plain:
            with self.assertRaises(grpc.RpcError) as e:
                harness.ingest_pb2_grpc.IngestServiceStub(plain).Extract(request, timeout=3)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        with self.tls_channel(s.ingest.address, ca=self.rogue_ca) as wrong:
            with self.assertRaises(grpc.RpcError) as e:
                harness.ingest_pb2_grpc.IngestServiceStub(wrong).Extract(request, timeout=3)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        with self.tls_channel(s.ingest.address) as good:
            r = harness.ingest_pb2_grpc.IngestServiceStub(good).Extract(request, timeout=5)
            self.assertTrue(r.stances)
            status = health_pb2_grpc.HealthStub(good).Check(health_pb2.HealthCheckRequest(), timeout=3)
            self.assertEqual(status.status, health_pb2.HealthCheckResponse.SERVING)

    def test_plaintext_start_is_logged_as_such(self):
        s = self.stack(sink=False).start()
        self.assertIn("PLAINTEXT", s.ingest.log())
        self.assertIn("PLAINTEXT", s.query.log())

    def test_stream_accepts_only_client_certificates_from_the_configured_ca(self):
        mtls = ["--tls-cert", self.server_cert, "--tls-key", self.server_key,
                "--tls-client-ca", self.ca]
        cases = [
            ("right CA", ["--query-ca", self.ca, "--query-cert", self.ingest_cert,
                          "--query-key", self.ingest_key], True),
            ("no client certificate", ["--query-ca", self.ca], False),
            ("unknown CA", ["--query-ca", self.ca, "--query-cert", self.rogue_cert,
                            "--query-key", self.rogue_key], False),
            ("plaintext", [], False),
        ]
        for name, ingest_args, delivered in cases:
            with self.subTest(case=name):
                s = self.stack(query_args=mtls, ingest_args=ingest_args).start()
                r = s.ingest_stub().Ingest(ingest_pb2.IngestRequest(item=self.item()), timeout=5)
                ids = {x.id for x in r.stances}
                if delivered:
                    s.wait_for_ids(ids, timeout=20)
                else:
                    time.sleep(2)
                    self.assertEqual(s.list_all(), [])
                s.cleanup()

    def test_identity_allow_list_on_the_stream(self):
        mtls = ["--tls-cert", self.server_cert, "--tls-key", self.server_key,
                "--tls-client-ca", self.ca, "--sink-allowed-identities", "someone-else"]
        client = ["--query-ca", self.ca, "--query-cert", self.ingest_cert,
                  "--query-key", self.ingest_key]
        s = self.stack(query_args=mtls, ingest_args=client).start()
        s.ingest_stub().Ingest(ingest_pb2.IngestRequest(item=self.item()), timeout=5)
        time.sleep(2)
        self.assertEqual(s.list_all(), [])
        self.assertIn("not allowed", s.query.log())

    def test_client_ca_rotation_is_picked_up_without_restart(self):
        ca_file = self.pki.path("rotating-ca.pem")
        shutil.copy(self.rogue_ca, ca_file)  # at first only the rogue CA is trusted
        mtls = ["--tls-cert", self.server_cert, "--tls-key", self.server_key,
                "--tls-client-ca", ca_file, "--tls-refresh-seconds", "1"]
        client = ["--query-ca", self.ca, "--query-cert", self.ingest_cert,
                  "--query-key", self.ingest_key]
        s = self.stack(query_args=mtls, ingest_args=client).start()
        r = s.ingest_stub().Ingest(ingest_pb2.IngestRequest(item=self.item()), timeout=5)
        time.sleep(2)
        self.assertEqual(s.list_all(), [])
        with open(ca_file, "wb") as f:  # rotate: now trust the real CA
            f.write(read(self.ca))
        s.wait_for_ids({x.id for x in r.stances}, timeout=30)

    def test_token_roles(self):
        s = self.stack(sink=False, query_args=["--tokens", self.tokens],
                       ingest_args=["--tokens", self.tokens]).start()
        ingest, query = s.ingest_stub(), s.query_stub()
        ingest_req = ingest_pb2.IngestRequest(item=self.item())
        list_req = query_pb2.ListStancesRequest()
        auth = lambda t: [("authorization", f"Bearer {t}")]  # noqa: E731
        cases = [
            (query.ListStances, list_req, None, grpc.StatusCode.UNAUTHENTICATED),
            (query.ListStances, list_req, auth("not-a-known-token-000000"), grpc.StatusCode.UNAUTHENTICATED),
            (query.ListStances, list_req, [("authorization", READER)], grpc.StatusCode.UNAUTHENTICATED),
            (query.ListStances, list_req, auth(WRITER), grpc.StatusCode.PERMISSION_DENIED),
            (ingest.Ingest, ingest_req, None, grpc.StatusCode.UNAUTHENTICATED),
            (ingest.Ingest, ingest_req, auth(READER), grpc.StatusCode.PERMISSION_DENIED),
        ]
        for call, request, metadata, code in cases:
            with self.subTest(call=call, metadata=metadata):
                with self.assertRaises(grpc.RpcError) as e:
                    call(request, metadata=metadata, timeout=5)
                self.assertEqual(e.exception.code(), code)
        self.assertTrue(ingest.Ingest(ingest_req, metadata=auth(WRITER), timeout=5).stances)
        self.assertTrue(ingest.Extract(ingest_pb2.ExtractRequest(item=self.item()),
                                       metadata=auth(READER), timeout=5).stances)
        query.ListStances(list_req, metadata=auth(READER), timeout=5)
        query.ListStances(list_req, metadata=auth(BOTH), timeout=5)
        # Probes and grpcurl's discovery need no token.
        for address in (s.query.address, s.ingest.address):
            harness.wait_serving(address, timeout=3)
            client = harness.ReflectionClient(s.channel(address))
            self.assertIn("grpc.health.v1.Health", client.list_services())
        logs = s.query.log() + s.ingest.log()
        for token in (READER, WRITER, BOTH):
            self.assertNotIn(token, logs)

    def test_stream_requires_a_delivery_token_when_tokens_are_on(self):
        # Reader and writer (Ingest's role) tokens do not open the stream; a delivery token does.
        for token in (READER, WRITER):
            with self.subTest(token=token[:6]):
                s = self.stack(query_args=["--tokens", self.tokens],
                               ingest_args=["--query-token", token])
                s.start()
                s.ingest_stub().Ingest(ingest_pb2.IngestRequest(item=self.item()), timeout=5)
                time.sleep(2)
                auth = [("authorization", f"Bearer {READER}")]
                self.assertEqual(list(s.query_stub().ListStances(
                    query_pb2.ListStancesRequest(), metadata=auth, timeout=5).stances), [])
                self.assertIn("lacks the 'delivery' role", s.query.log())
                s.cleanup()
        # The delivery token from a file: it never shows in ingest-service's command line.
        s = self.stack(query_args=["--tokens", self.tokens],
                       ingest_args=["--query-token-file", self.delivery_token_file]).start()
        r = s.ingest_stub().Ingest(ingest_pb2.IngestRequest(item=self.item()), timeout=5)
        auth = [("authorization", f"Bearer {READER}")]
        deadline = time.time() + 20
        while time.time() < deadline:
            stored = s.query_stub().ListStances(query_pb2.ListStancesRequest(), metadata=auth,
                                                timeout=5).stances
            if stored:
                break
            time.sleep(0.1)
        self.assertEqual({x.id for x in stored}, {x.id for x in r.stances})
        with open(f"/proc/{s.ingest.proc.pid}/cmdline", "rb") as f:
            self.assertNotIn(DELIVERY.encode(), f.read())
        self.assertNotIn(DELIVERY, s.ingest.log() + s.query.log())

    def deliver_raw(self, address, batches, metadata=None, channel=None):
        """Opens the stream as an attacker would: returns (acknowledged seqs, error code)."""
        with channel or grpc.insecure_channel(address) as c:
            acks = []
            try:
                for ack in delivery_pb2_grpc.StanceSinkStub(c).Deliver(
                        iter(batches), metadata=metadata, timeout=10):
                    acks.append(ack.seq)
            except grpc.RpcError as e:
                return acks, e.code(), e.details()
            return acks, None, ""

    def forged(self, seq, stance_id="forged-1"):
        return delivery_pb2.DeliverBatch(seq=seq, stances=[stance_pb2.Stance(
            id=stance_id, item_id="forged", topic="t", position=stance_pb2.POSITION_SUPPORT,
            actor=stance_pb2.Actor(id="TUR", name="Turkey"))])

    def test_stream_refuses_anonymous_peers_unless_insecure_delivery(self):
        for shared_port in (False, True):
            with self.subTest(shared_port=shared_port):
                s = self.stack(sink=not shared_port).start()
                address = self.sink_address or s.query.address
                acks, code, details = self.deliver_raw(address, [self.forged(1)])
                self.assertEqual((acks, code), ([], grpc.StatusCode.UNAUTHENTICATED), details)
                # Not even ingest-service (plaintext, no token) gets through.
                s.ingest_stub().Ingest(ingest_pb2.IngestRequest(item=self.item()), timeout=5)
                time.sleep(1.5)
                self.assertEqual(s.list_all(), [])
                self.assertNotIn("--insecure-delivery", s.query.log())
                s.cleanup()
        s = self.stack(insecure=True).start()
        self.assertEqual(self.deliver_raw(self.sink_address, [self.forged(1)])[:2], ([1], None))
        self.assertIn("--insecure-delivery", s.query.log())

    def test_stream_with_tokens_refuses_writer_tokens_and_several_authorization_headers(self):
        s = self.stack(query_args=["--tokens", self.tokens]).start()
        bearer = lambda t: ("authorization", f"Bearer {t}")  # noqa: E731
        cases = [
            ([bearer(WRITER)], grpc.StatusCode.PERMISSION_DENIED),
            ([bearer(DELIVERY), bearer(WRITER)], grpc.StatusCode.UNAUTHENTICATED),
            ([bearer(WRITER), bearer(DELIVERY)], grpc.StatusCode.UNAUTHENTICATED),
        ]
        for metadata, code in cases:
            with self.subTest(metadata=[m[1][7:13] for m in metadata]):
                acks, got, details = self.deliver_raw(self.sink_address, [self.forged(1)],
                                                      metadata=metadata)
                self.assertEqual((acks, got), ([], code), details)
        with self.assertRaises(grpc.RpcError) as e:
            s.query_stub().ListStances(query_pb2.ListStancesRequest(),
                                       metadata=[bearer(READER), bearer(READER)], timeout=5)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("several", e.exception.details())
        stored = lambda: [x.id for x in s.query_stub().ListStances(  # noqa: E731
            query_pb2.ListStancesRequest(), metadata=[bearer(READER)], timeout=5).stances]
        self.assertEqual(stored(), [])
        self.assertEqual(self.deliver_raw(self.sink_address, [self.forged(1)],
                                          metadata=[bearer(DELIVERY)])[:2], ([1], None))
        self.assertEqual(stored(), ["forged-1"])

    def test_stream_checks_sequence_numbers(self):
        s = self.stack(insecure=True).start()
        cases = [
            ([0], [], "is 0"),
            ([3, 3], [3], "does not follow 3"),
            ([5, 2], [5], "does not follow 5"),
            ([2**64 - 1], [], "out of range"),
        ]
        for n, (seqs, acked, words) in enumerate(cases):
            with self.subTest(seqs=seqs):
                batches = [self.forged(q, f"seq-{n}-{i}") for i, q in enumerate(seqs)]
                acks, code, details = self.deliver_raw(self.sink_address, batches)
                self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, details)
                self.assertIn(words, details)
                # The good batch before a bad one may be stored before the stream ends
                # without its acknowledgement; a bad batch is never acknowledged.
                self.assertLessEqual(set(acks), set(acked))
        # Only the batches before each bad one were stored (their commits may still be running).
        s.wait_for_ids({"seq-1-0", "seq-2-0"}, timeout=10)
        self.assertEqual({x.id for x in s.list_all()}, {"seq-1-0", "seq-2-0"})

    def test_allow_list_matches_the_san_not_a_cn(self):
        mtls = ["--tls-cert", self.server_cert, "--tls-key", self.server_key,
                "--tls-client-ca", self.ca, "--sink-allowed-identities", "ingest-service"]
        s = self.stack(query_args=mtls).start()
        impostor = self.tls_channel(self.sink_address, cert=self.impostor_cert,
                                    key=self.impostor_key)
        acks, code, details = self.deliver_raw(None, [self.forged(1)], channel=impostor)
        self.assertEqual((acks, code), ([], grpc.StatusCode.PERMISSION_DENIED), details)
        genuine = self.tls_channel(self.sink_address, cert=self.ingest_cert, key=self.ingest_key)
        self.assertEqual(self.deliver_raw(None, [self.forged(1)], channel=genuine)[:2],
                         ([1], None))

    def test_both_services_listen_on_loopback_by_default(self):
        for binary, default in ((harness.QUERY_BIN, "127.0.0.1:7410"),
                                (harness.INGEST_BIN, "127.0.0.1:7400")):
            out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
            line = next(x for x in out.stdout.splitlines() if "--listen" in x and "health" not in x
                        and "sink" not in x)
            self.assertIn(default, line)
            self.assertNotIn("0.0.0.0", out.stdout)

    def test_bad_security_files_fail_at_start_with_a_clear_message(self):
        def tokens_file(name, text):
            path = self.pki.path(name)
            with open(path, "w") as f:
                f.write(text)
            return path
        bad_tokens = tokens_file("bad-tokens.txt", f"{READER} reader\nshort admin\n")
        reversed_line = tokens_file("reversed.txt", f"{READER} reader\nwriter {WRITER}\n")
        unknown_role = tokens_file("unknown.txt", f"{READER} {WRITER}\n")
        duplicate = tokens_file("duplicate.txt", f"{READER} reader\n# again\n{READER} writer\n")
        cases = [
            (["--tls-cert", self.server_cert, "--tls-key", self.ingest_key], "does not match"),
            (["--tls-cert", self.pki.path("missing.pem"), "--tls-key", self.server_key], "cannot be read"),
            (["--tokens", bad_tokens], "bad-tokens.txt:2"),
            (["--tokens", reversed_line], "reversed.txt:2: starts with a role"),
            (["--tokens", unknown_role], "unknown.txt:1: unknown role"),
            (["--tokens", duplicate], "duplicate.txt:3: token repeats the one on line 1"),
            (["--query-token-file", self.pki.path("missing-token")], "missing-token: cannot be read"),
        ]
        for args, words in cases:
            with self.subTest(words=words):
                s = self.stack(sink=False, ingest_args=args)
                s.ingest.start(wait=False)
                self.assertNotEqual(s.ingest.proc.wait(timeout=20), 0)
                self.assertIn(words, s.ingest.log())
                for token in (READER, WRITER):
                    self.assertNotIn(token, s.ingest.log())


if __name__ == "__main__":
    unittest.main()
