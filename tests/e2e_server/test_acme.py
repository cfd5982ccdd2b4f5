"""End-to-end tests of ACME renewal (issue 15) against a real ACME CA on loopback.

Debian's pebble (an RFC 8555 CA made for client tests) and pebble-challtestsrv (its DNS, which
resolves every name to 127.0.0.1) are started here on free loopback ports, with a TLS
certificate made for pebble's own listener (Debian ships none) that the server is told to
trust (--acme-ca). pebble's validation ports are the ports the server under test answers on:
tlsPort its HTTPS port (tls-alpn-01), httpPort its --acme-http-port (http-01).
PEBBLE_VA_NOSLEEP=1 and PEBBLE_WFE_NONCEREJECT=0 make runs fast and deterministic; one test
turns nonce rejection on to prove the badNonce retry. Certificates are issued valid for 20 s
(certificateValidityPeriod), so the default schedule (half of a lifetime this short) renews
them about 10 s after issue.

Everything is checked from outside: the certificate served (Python's ssl module verifying the
chain against the root pebble generated at this start, fetched from its management port),
/metrics, `status --json`, the message log and the files' modes.

When pebble is missing the tests are skipped with a message saying so (ctest shows them as
skipped); under CI=true a missing pebble fails them.

Run by ctest (tests/e2e_server/CMakeLists.txt), which sets FCS_SERVER:
    FCS_SERVER=... /usr/bin/python3 -B test_acme.py AcmeTlsAlpn -v
"""

import base64
import json
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_failover_server import (  # noqa: E402
    CERT_NAME, SERVER, Server, https_get, insecure_context, parse_metrics, read_file, run, served_fingerprint,
    wait_for, write_file)

PEBBLE = shutil.which("pebble")
CHALLTESTSRV = shutil.which("pebble-challtestsrv")
UNDER_CI = os.environ.get("CI") == "true"
SKIP_MESSAGE = "SKIPPED: pebble is not installed (apt-get install pebble; scripts/fcs.sh setup does)"
VALIDITY = 20  # seconds: pebble's certificateValidityPeriod here


def require_pebble():
    if PEBBLE and CHALLTESTSRV:
        return
    if UNDER_CI:
        raise AssertionError("pebble not installed and CI=true: a missing tool fails the test")
    print(SKIP_MESSAGE, flush=True)
    raise unittest.SkipTest(SKIP_MESSAGE)


def free_port(kind=socket.SOCK_STREAM, taken=None):
    """A port on 127.0.0.1 free now (TCP or UDP)."""
    taken = taken if taken is not None else set()
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            taken.add(port)
            return port


def check_run(cmd, input=None):
    code, out, err = run(cmd, input=input)
    assert code == 0, f"{cmd[0]} failed: {err}"
    return out


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Pebble:
    """pebble and pebble-challtestsrv (DNS only) on free loopback ports, in `root`."""

    def __init__(self, root, tls_port, http_port, eab_keys=None, blocklist=(), nonce_reject=0):
        self.root = root
        taken = {tls_port, http_port}
        self.port, self.mgmt = free_port(taken=taken), free_port(taken=taken)
        self.dns = free_port(socket.SOCK_DGRAM)
        self.challtest_mgmt = free_port(taken=taken)
        self.ca_file = os.path.join(root, "pebble-tls.crt")
        key = os.path.join(root, "pebble-tls.key")
        check_run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", self.ca_file, "-days", "2", "-subj", "/CN=pebble test listener",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        config = {"pebble": {
            "listenAddress": f"127.0.0.1:{self.port}", "managementListenAddress": f"127.0.0.1:{self.mgmt}",
            "certificate": self.ca_file, "privateKey": key,
            "httpPort": http_port, "tlsPort": tls_port, "ocspResponderURL": "",
            "externalAccountBindingRequired": bool(eab_keys),
            "externalAccountMACKeys": eab_keys or {},
            "domainBlocklist": list(blocklist),
            "certificateValidityPeriod": VALIDITY}}
        self.config = os.path.join(root, "pebble.json")
        write_file(self.config, json.dumps(config))
        self.nonce_reject = nonce_reject
        self.procs = []

    @property
    def directory(self):
        return f"https://127.0.0.1:{self.port}/dir"

    def start(self):
        self.dns_log = open(os.path.join(self.root, "challtestsrv.log"), "a")
        self.procs.append(subprocess.Popen(
            [CHALLTESTSRV, "-dns01", f"127.0.0.1:{self.dns}", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
             "-http01", "", "-https01", "", "-tlsalpn01", "", "-management", f"127.0.0.1:{self.challtest_mgmt}"],
            stdout=self.dns_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT=str(self.nonce_reject))
        self.log_path = os.path.join(self.root, "pebble.log")
        self.log = open(self.log_path, "a")
        self.procs.append(subprocess.Popen(
            [PEBBLE, "-config", self.config, "-strict", "-dnsserver", f"127.0.0.1:{self.dns}"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env))
        ctx = ssl.create_default_context(cafile=self.ca_file)

        def answers():
            try:
                with urllib.request.urlopen(self.directory, context=ctx, timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_for(answers, timeout=30, interval=0.2, what="pebble answering /dir")
        return self

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []
        for f in ("log", "dns_log"):
            if getattr(self, f, None):
                getattr(self, f).close()
                setattr(self, f, None)

    def root_pem(self):
        """The root pebble generated at this start (its management port's /roots/0)."""
        ctx = ssl.create_default_context(cafile=self.ca_file)
        with urllib.request.urlopen(f"https://127.0.0.1:{self.mgmt}/roots/0", context=ctx, timeout=5) as r:
            return r.read().decode()

    def orders(self):
        """Orders pebble logged as added."""
        return read_file(self.log_path).count("Added order")


def served_chain_verifies(port, name, root_file, sni=None):
    """A TLS handshake that verifies the served chain against `root_file` and the name (DNS or
    IP) against the certificate: True, or the failure text."""
    ctx = ssl.create_default_context(cafile=root_file)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname=sni or name):
                return True
    except (ssl.SSLError, OSError) as e:
        return str(e)


def served_certificate(port):
    """The served leaf as text (openssl x509 -text)."""
    ctx = insecure_context()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s) as t:
            der = t.getpeercert(binary_form=True)
    p = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-text"], input=der,
                       capture_output=True, timeout=10)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode()


class AcmeCase(unittest.TestCase):
    """One temporary folder, a pebble and servers started by each test; all stopped after."""

    def setUp(self):
        require_pebble()
        self.work = tempfile.mkdtemp(prefix="fcs-acme-")
        self.servers, self.pebbles = [], []

    def tearDown(self):
        problems = []
        for s in self.servers:
            problems += s.shutdown_problems()
        for p in self.pebbles:
            p.stop()
        if self._outcome_ok() and problems:
            self.fail("server shutdown: " + "; ".join(problems))
        shutil.rmtree(self.work, ignore_errors=True)

    def _outcome_ok(self):
        result = getattr(self, "_outcome", None)
        return result is None or not getattr(result, "errors", None)

    def pebble(self, tls_port, http_port=None, **kw):
        p = Pebble(self.work, tls_port, http_port or free_port(), **kw)
        self.pebbles.append(p)
        return p.start()

    def server(self, pebble, port, *acme_args, data=None, start=True):
        data = data or os.path.join(self.work, f"data-{len(self.servers)}")
        s = Server(data, self.work, "--port", str(port), "--log", "stderr",
                   "--acme-directory", pebble.directory, "--acme-ca", pebble.ca_file,
                   "--acme-contact", "mailto:admin@example.test", *acme_args)
        self.servers.append(s)
        return s.start() if start else s

    def log_of(self, server):
        return read_file(server.stderr_path)

    def wait_acme_certificate(self, server, pebble, timeout=30, other_than=None):
        """Waits until the server serves a certificate pebble issued (not `other_than`) and
        returns its fingerprint."""
        def issued():
            try:
                text = served_certificate(server.port)
            except OSError:
                return False
            fp = served_fingerprint(server.port)
            return "Pebble Intermediate" in text and fp != other_than and fp
        wait_for(issued, timeout=timeout, interval=0.2, what="a certificate issued by pebble")
        return served_fingerprint(server.port)

    def metrics(self, server):
        status, _, body, _ = https_get(server.port, "/metrics")
        self.assertEqual(status, 200)
        return parse_metrics(body)[0]

    def wait_installed(self, fingerprint, *servers, timeout=10):
        """Waits until one of `servers` logged installing the pair `fingerprint`: a node serves
        the new pair as soon as it is installed, and logs it just after."""
        def logged():
            return any("ACME: installed the certificate issued by" in line and fingerprint in line
                       for s in servers for line in self.log_of(s).splitlines())
        wait_for(logged, timeout=timeout, what=f"the log line on installing {fingerprint}")

    def root_file(self, pebble):
        path = os.path.join(self.work, f"pebble-root-{time.monotonic_ns()}.pem")
        write_file(path, pebble.root_pem())
        return path


class AcmeTlsAlpn(AcmeCase):
    """tls-alpn-01 on the server's own port: a first certificate and a renewal for a DNS name,
    then for an IP address; no handshake fails while the certificate is replaced."""

    def test_dns_name_first_certificate_and_renewal(self):
        port = free_port()
        pebble = self.pebble(tls_port=port)
        server = self.server(pebble, port, "--acme-name", "svc.example.test")
        self_signed = server.fingerprint
        first = self.wait_acme_certificate(server, pebble, other_than=self_signed)
        self.wait_installed(first, server)
        root = self.root_file(pebble)
        self.assertIs(served_chain_verifies(server.port, "svc.example.test", root), True)
        text = served_certificate(server.port)
        self.assertIn("DNS:svc.example.test", text)
        self.assertNotIn("IP Address", text)

        # The files: the new pair in place, the key and the account key 0600, the
        # self-signed pair in the archive, no key bytes in the message log.
        data = server.data_dir
        key = os.path.join(data, "Certificates", "Keys", CERT_NAME + ".key")
        account = os.path.join(data, "Certificates", "Keys", CERT_NAME + ".acme-account")
        for f in (key, account):
            self.assertEqual(stat.S_IMODE(os.lstat(f).st_mode), 0o600, f)
        self.assertTrue(os.listdir(os.path.join(data, "Certificates", "Archive")))
        log = self.log_of(server)
        for f in (key, account):
            body = re.sub(r"-----[A-Z ]+-----|\s", "", read_file(f))
            self.assertNotIn(body[:40], log)
        self.assertIn("ACME: installed the certificate issued by", log)

        status = json.loads(run([SERVER, "status", "--data-dir", data, "--json"])[1])
        self.assertEqual(status["origin"], "acme")
        self.assertIn("Pebble Intermediate", status["issuer"])
        self.assertIn("next_renewal", status)

        m = self.metrics(server)
        self.assertGreaterEqual(m["fcs_acme_renewals_total"], 1)
        self.assertEqual(m["fcs_acme_renewal_failures_total"], 0)

        # The renewal on the running server, with clients handshaking all along.
        failures, done, stop = [], [0], threading.Event()

        def clients():
            ctx = insecure_context()
            while not stop.is_set():
                try:
                    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
                        with ctx.wrap_socket(s):
                            done[0] += 1
                except (ssl.SSLError, OSError) as e:
                    failures.append(str(e))
        t = threading.Thread(target=clients, daemon=True)
        t.start()
        try:
            second = self.wait_acme_certificate(server, pebble, timeout=VALIDITY + 20, other_than=first)
        finally:
            stop.set()
            t.join(10)
        self.assertNotEqual(second, first)
        self.wait_installed(second, server)
        self.assertEqual(failures, [], "handshakes failed during the renewal")
        self.assertGreater(done[0], 10)
        self.assertIs(served_chain_verifies(server.port, "svc.example.test", root), True)
        m = self.metrics(server)
        self.assertGreaterEqual(m["fcs_acme_renewals_total"], 2)
        self.assertEqual(m["fcs_tls_handshake_failures_total"], 0)
        self.assertGreater(m["fcs_acme_next_renewal_timestamp_seconds"], time.time() - 5)

    def test_ip_address(self):
        port = free_port()
        pebble = self.pebble(tls_port=port)
        server = self.server(pebble, port, "--acme-ip", "127.0.0.1")
        self.wait_acme_certificate(server, pebble, other_than=server.fingerprint)
        text = served_certificate(server.port)
        self.assertIn("IP Address:127.0.0.1", text)
        self.assertNotIn("DNS:", text)
        self.assertIs(served_chain_verifies(server.port, "127.0.0.1", self.root_file(pebble)), True)


class AcmeHttp01(AcmeCase):
    """http-01 on a plain-HTTP port of its own: a DNS name, and an IP address with a renewal."""

    def test_dns_name(self):
        port, http = free_port(), free_port()
        pebble = self.pebble(tls_port=free_port(), http_port=http)
        server = self.server(pebble, port, "--acme-name", "web.example.test", "--acme-challenge", "http-01",
                             "--acme-http-port", str(http))
        self.wait_acme_certificate(server, pebble, other_than=server.fingerprint)
        self.assertIs(served_chain_verifies(server.port, "web.example.test", self.root_file(pebble)), True)
        self.assertIn("http-01", self.log_of(server))
        # The plain-HTTP port answers nothing but pending challenges.
        self.assertEqual(http_status(http, "/.well-known/acme-challenge/none"), 404)
        self.assertEqual(http_status(http, "/"), 404)

    def test_ip_address_and_renewal(self):
        port, http = free_port(), free_port()
        pebble = self.pebble(tls_port=free_port(), http_port=http)
        server = self.server(pebble, port, "--acme-ip", "127.0.0.1", "--acme-challenge", "http-01",
                             "--acme-http-port", str(http))
        first = self.wait_acme_certificate(server, pebble, other_than=server.fingerprint)
        self.assertIn("IP Address:127.0.0.1", served_certificate(server.port))
        second = self.wait_acme_certificate(server, pebble, timeout=VALIDITY + 20, other_than=first)
        self.assertNotEqual(first, second)
        self.assertIs(served_chain_verifies(server.port, "127.0.0.1", self.root_file(pebble)), True)


def http_status(port, path):
    """A plain-HTTP GET's status code."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        return c.getresponse().status
    finally:
        c.close()


class AcmeFailures(AcmeCase):
    """A renewal that fails keeps the certificate in use, logs why (the CA's problem type and
    detail) and when the next try is; the badNonce retry; refusals of the configuration."""

    def test_ca_gone_keeps_serving_then_recovers(self):
        port = free_port()
        pebble = self.pebble(tls_port=port)
        server = self.server(pebble, port, "--acme-name", "svc.example.test", "--acme-retry", "2")
        issued = self.wait_acme_certificate(server, pebble, other_than=server.fingerprint)
        pebble.stop()
        wait_for(lambda: "ACME renewal failed" in self.log_of(server), timeout=VALIDITY + 15,
                 what="the failed renewal in the log")
        line = next(l for l in self.log_of(server).splitlines() if "ACME renewal failed" in l)
        self.assertIn("the certificate in use stays", line)
        self.assertRegex(line, r"next try at \d{4}-\d\d-\d\dT")
        self.assertEqual(served_fingerprint(server.port), issued)
        self.assertEqual(https_get(server.port, "/health")[0], 200)
        m = self.metrics(server)
        self.assertGreaterEqual(m["fcs_acme_renewal_failures_total"], 1)
        self.assertGreater(m["fcs_acme_next_renewal_timestamp_seconds"], time.time() - 1)
        # The CA back (a new pebble on the same ports: new roots, and it knows no account):
        # the next try gets a certificate from it.
        pebble.start()
        self.wait_acme_certificate(server, pebble, timeout=30, other_than=issued)
        self.assertIs(served_chain_verifies(server.port, "svc.example.test", self.root_file(pebble)), True)

    def test_refused_identifier_logs_the_problem_document(self):
        port = free_port()
        pebble = self.pebble(tls_port=port, blocklist=["blocked.example.test"])
        server = self.server(pebble, port, "--acme-name", "blocked.example.test")
        wait_for(lambda: "ACME renewal failed" in self.log_of(server), timeout=20,
                 what="the refused order in the log")
        log = self.log_of(server)
        self.assertIn("urn:ietf:params:acme:error:rejectedIdentifier", log)
        self.assertIn("blocked.example.test", log)
        self.assertEqual(served_fingerprint(server.port), server.fingerprint)  # still the self-signed one
        self.assertEqual(self.metrics(server)["fcs_acme_renewals_total"], 0)

    def test_bad_nonce_retried(self):
        port = free_port()
        pebble = self.pebble(tls_port=port, nonce_reject=40)
        server = self.server(pebble, port, "--acme-name", "svc.example.test")
        self.wait_acme_certificate(server, pebble, other_than=server.fingerprint)
        self.assertGreater(self.metrics(server)["fcs_acme_bad_nonce_retries_total"], 0)
        self.assertEqual(self.metrics(server)["fcs_acme_renewal_failures_total"], 0)

    def test_configuration_refused(self):
        pebble_dir = "https://127.0.0.1:1/dir"
        cases = [
            (["--acme-name", "x.example.test"], "need --acme-directory"),
            (["--acme-directory", pebble_dir], "needs at least one --acme-name or --acme-ip"),
            (["--acme-directory", "http://127.0.0.1/dir", "--acme-name", "a.test"], "https://"),
            (["--acme-directory", pebble_dir, "--acme-name", "bad name"], ""),
            (["--acme-directory", pebble_dir, "--acme-ip", "300.1.1.1"], "not an IP address"),
            (["--acme-directory", pebble_dir, "--acme-name", "a.test", "--acme-eab-kid", "k"], "go together"),
            (["--acme-directory", pebble_dir, "--acme-name", "a.test", "--acme-challenge", "dns-01"], "expected"),
        ]
        for args, words in cases:
            code, _, err = run([SERVER, "serve", "--data-dir", os.path.join(self.work, "never"), "--port", "0",
                                *args])
            self.assertEqual(code, 2, f"{args}: {err}")
            self.assertIn(words, err, args)
            self.assertFalse(os.path.exists(os.path.join(self.work, "never", "Certificates")), args)

    def test_unusable_ca_file_refused_at_start(self):
        # --acme-ca that cannot be read or holds no certificate: exit 1 naming the file, before
        # the server generates or serves anything (not a failure logged at every retry).
        not_pem = os.path.join(self.work, "not-a-certificate.pem")
        write_file(not_pem, "hello\n")
        for ca in (os.path.join(self.work, "missing-ca.pem"), not_pem):
            code, _, err = run([SERVER, "serve", "--data-dir", os.path.join(self.work, "never"), "--port", "0",
                                "--acme-directory", "https://127.0.0.1:1/dir", "--acme-name", "a.test",
                                "--acme-ca", ca])
            self.assertEqual(code, 1, err)
            self.assertIn(ca, err)
            self.assertFalse(os.path.exists(os.path.join(self.work, "never", "Certificates")), ca)


class AcmeExternalAccountBinding(AcmeCase):
    """A CA that requires External Account Binding: refused (and said so) without it, refused
    by the CA with a wrong HMAC key, served with the right one; the key file must be 0600."""

    def test_eab(self):
        port = free_port()
        hmac_key = os.urandom(32)
        pebble = self.pebble(tls_port=port, eab_keys={"kid-1": b64url(hmac_key)})

        plain = self.server(pebble, port, "--acme-name", "svc.example.test")
        wait_for(lambda: "ACME renewal failed" in self.log_of(plain), timeout=20, what="the refusal")
        self.assertIn("externalAccountRequired", self.log_of(plain))
        plain.stop()

        wrong = os.path.join(self.work, "wrong.key")
        write_file(wrong, b64url(os.urandom(32)) + "\n")
        os.chmod(wrong, 0o600)
        bad = self.server(pebble, port, "--acme-name", "svc.example.test", "--acme-eab-kid", "kid-1",
                          "--acme-eab-key-file", wrong)
        wait_for(lambda: "ACME renewal failed" in self.log_of(bad), timeout=20, what="the CA's refusal")
        self.assertRegex(self.log_of(bad), r"urn:ietf:params:acme:error:(unauthorized|malformed)")
        bad.stop()

        open_file = os.path.join(self.work, "open.key")
        write_file(open_file, b64url(hmac_key) + "\n")
        os.chmod(open_file, 0o644)
        code, _, err = run([SERVER, "serve", "--data-dir", os.path.join(self.work, "x"), "--port", "0",
                            "--acme-directory", pebble.directory, "--acme-name", "a.test", "--acme-eab-kid",
                            "kid-1", "--acme-eab-key-file", open_file])
        self.assertEqual(code, 1, err)
        self.assertIn(open_file, err)

        good = os.path.join(self.work, "good.key")
        write_file(good, b64url(hmac_key) + "\n")
        os.chmod(good, 0o600)
        server = self.server(pebble, port, "--acme-name", "svc.example.test", "--acme-eab-kid", "kid-1",
                             "--acme-eab-key-file", good)
        self.wait_acme_certificate(server, pebble, other_than=server.fingerprint)
        self.assertIn("Successful newAccount Binding", read_file(pebble.log_path))
        self.assertNotIn(b64url(hmac_key), self.log_of(server))


class AcmeServerGroup(AcmeCase):
    """Two servers of one group on a real etcd, behind one port (SO_REUSEPORT: the kernel
    spreads the CA's validation connections over both, as a load balancer would): exactly one
    node orders each certificate, the other answers its challenges and gets the pair through
    the watch; a node that dies holding the claim blocks the group only until its lease ends."""

    def setUp(self):
        super().setUp()
        from test_etcd_server import Etcd, require_etcd
        require_etcd("etcd")
        self.etcd = Etcd(self.work).start()
        self.kek = os.path.join(self.work, "kek")
        fd = os.open(self.kek, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(os.urandom(32)).decode() + "\n")

    def tearDown(self):
        super().tearDown()
        self.etcd.stop()

    def group_args(self, prefix):
        return ["--storage", f"etcd://127.0.0.1:{self.etcd.client_port}/{prefix}", "--kek-file", self.kek]

    def test_one_node_renews(self):
        port = free_port()
        pebble = self.pebble(tls_port=port)
        a = self.server(pebble, port, "--acme-name", "group.example.test", *self.group_args("g1"))
        b = self.server(pebble, port, "--acme-name", "group.example.test", *self.group_args("g1"))
        first = self.wait_acme_certificate(a, pebble, other_than=a.fingerprint)
        wait_for(lambda: served_fingerprint(b.port) == first, timeout=10, what="both nodes serving it")
        self.assertEqual(pebble.orders(), 1, "one order for the group")
        second = self.wait_acme_certificate(a, pebble, timeout=VALIDITY + 25, other_than=first)
        self.wait_installed(second, a, b)
        wait_for(lambda: pebble.orders() >= 2, timeout=5, what="the second order")
        time.sleep(1)
        self.assertEqual(pebble.orders(), 2, "one order per renewal for the group")
        logs = [self.log_of(a), self.log_of(b)]
        installs = sum(l.count("ACME: installed the certificate") for l in logs)
        self.assertEqual(installs, 2, logs)
        self.assertTrue(any("renews for the group" in l for l in logs), logs)
        root = self.root_file(pebble)
        for _ in range(8):  # the kernel picks the node per connection: both serve it
            self.assertEqual(served_fingerprint(port), second)
            self.assertIs(served_chain_verifies(port, "group.example.test", root), True)

    def test_dead_claim_ends_with_its_lease(self):
        port = free_port()
        pebble = self.pebble(tls_port=port)
        # A CA that accepts connections and never answers: node A claims, then hangs in its
        # first request and is killed there, holding the claim.
        tarpit = socket.socket()
        tarpit.bind(("127.0.0.1", 0))
        tarpit.listen(16)
        self.addCleanup(tarpit.close)
        a = Server(os.path.join(self.work, "data-a"), self.work, "--port", str(port), "--log", "stderr",
                   "--acme-directory", f"https://127.0.0.1:{tarpit.getsockname()[1]}/dir",
                   "--acme-ca", pebble.ca_file, "--acme-name", "group.example.test",
                   "--acme-lock-lease", "8", *self.group_args("g2"))
        a.start()
        wait_for(lambda: "ACME: ordering" in self.log_of(a) or "made a new account key" in self.log_of(a),
                 timeout=15, what="node A claiming the renewal")
        a.proc.kill()
        a.stop()
        killed_at = time.monotonic()
        b = self.server(pebble, port, "--acme-name", "group.example.test", "--acme-lock-lease", "8",
                        *self.group_args("g2"))
        wait_for(lambda: "renews for the group" in self.log_of(b), timeout=10, what="B seeing A's claim")
        self.wait_acme_certificate(b, pebble, timeout=30, other_than=b.fingerprint)
        waited = time.monotonic() - killed_at
        self.assertGreater(waited, 3, "B waited for the claim")
        self.assertLess(waited, 8 + 15, "B took over once the lease ended")


class ProtocolProxy:
    """A TLS reverse proxy in front of pebble that records every request the server sends
    (method, path, time, JWS protected header) and can hold back a state once: the first poll
    of an authorization that is "valid" is answered "pending" with Retry-After, the first poll
    of an order that is "valid" is answered "processing" without one. pebble builds its URLs
    from the Host header, so they all point at the proxy."""

    def __init__(self, pebble, retry_after=2):
        import http.server
        self.pebble, self.retry_after = pebble, retry_after
        self.requests, self.held = [], set()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                header = None
                if body:
                    try:
                        prot = json.loads(body)["protected"]
                        header = json.loads(base64.urlsafe_b64decode(prot + "=" * (-len(prot) % 4)))
                    except (ValueError, KeyError):
                        header = None
                proxy.requests.append((self.command, self.path, time.monotonic(), header, body))
                import http.client
                c = http.client.HTTPSConnection("127.0.0.1", proxy.pebble.port, timeout=10,
                                                context=ssl.create_default_context(cafile=proxy.pebble.ca_file))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                headers["Host"] = f"127.0.0.1:{proxy.port}"
                c.request(self.command, self.path, body=body or None, headers=headers)
                r = c.getresponse()
                data = r.read()
                out_headers = [(k, v) for k, v in r.getheaders()
                               if k.lower() not in ("content-length", "transfer-encoding", "connection")]
                status = r.status
                c.close()
                kind = "authz" if "/authZ/" in self.path else "order" if "/my-order/" in self.path else None
                if kind and self.command == "POST" and kind not in proxy.held:
                    try:
                        doc = json.loads(data)
                    except ValueError:
                        doc = None
                    if isinstance(doc, dict) and doc.get("status") == "valid":
                        proxy.held.add(kind)
                        doc["status"] = "pending" if kind == "authz" else "processing"
                        data = json.dumps(doc).encode()
                        if kind == "authz":
                            out_headers.append(("Retry-After", str(proxy.retry_after)))
                self.send_response(status)
                for k, v in out_headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_HEAD = forward

        import http.server as hs
        self.httpd = hs.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pebble.ca_file, os.path.join(pebble.root, "pebble-tls.key"))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def directory(self):
        return f"https://127.0.0.1:{self.port}/dir"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class AcmeProtocol(AcmeCase):
    """The protocol details, seen on the wire between the server and the CA: every URL from
    the directory; one newNonce, then each answer's Replay-Nonce; ES256 with jwk for newAccount
    and kid afterwards; the protected url the request URL; POST-as-GET (empty payload) for
    authorizations, orders and the certificate; Retry-After obeyed, a short interval without."""

    def test_wire(self):
        port = free_port()
        pebble = self.pebble(tls_port=port)
        proxy = ProtocolProxy(pebble, retry_after=2)
        self.addCleanup(proxy.stop)
        s = Server(os.path.join(self.work, "data-p"), self.work, "--port", str(port), "--log", "stderr",
                   "--acme-directory", proxy.directory, "--acme-ca", pebble.ca_file,
                   "--acme-name", "wire.example.test", "--acme-contact", "mailto:ops@example.test")
        self.servers.append(s)
        s.start()
        self.wait_acme_certificate(s, pebble, other_than=s.fingerprint)
        reqs = list(proxy.requests)
        self.assertEqual(reqs[0][:2], ("GET", "/dir"))
        heads = [r for r in reqs if r[0] == "HEAD"]
        self.assertEqual(len(heads), 1, "one newNonce; then the Replay-Nonce of each answer")
        directory = json.loads(urllib.request.urlopen(
            pebble.directory, context=ssl.create_default_context(cafile=pebble.ca_file), timeout=5).read())
        self.assertEqual(heads[0][1], urllib.parse.urlparse(directory["newNonce"]).path)
        posts = [r for r in reqs if r[0] == "POST"]
        self.assertEqual([r for r in reqs if r[0] not in ("POST", "HEAD")], reqs[:1], "only /dir is a GET")
        nonces = [r[3]["nonce"] for r in posts]
        self.assertEqual(len(set(nonces)), len(nonces), "a nonce is used once")
        for method, path, _, header, body in posts:
            self.assertEqual(header["alg"], "ES256")
            self.assertEqual(header["url"], f"https://127.0.0.1:{proxy.port}{path}")
            sig = json.loads(body)["signature"]
            self.assertEqual(len(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))), 64, "raw r||s")
        self.assertEqual(posts[0][1], urllib.parse.urlparse(directory["newAccount"]).path)
        self.assertIn("jwk", posts[0][3])
        self.assertNotIn("kid", posts[0][3])
        payload = json.loads(posts[0][4])["payload"]
        account = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        self.assertEqual(account.get("contact"), ["mailto:ops@example.test"], "--acme-contact")
        self.assertIs(account.get("termsOfServiceAgreed"), True)
        for r in posts[1:]:
            self.assertIn("kid", r[3])
            self.assertNotIn("jwk", r[3])
        self.assertEqual(posts[1][1], urllib.parse.urlparse(directory["newOrder"]).path)
        as_get = [r for r in posts if "/authZ/" in r[1] or "/my-order/" in r[1] or "/certZ/" in r[1]]
        self.assertTrue(as_get)
        for r in as_get:
            self.assertEqual(json.loads(r[4])["payload"], "", f"POST-as-GET to {r[1]}")
        finalize = [r for r in posts if "/finalize-order/" in r[1]]
        self.assertEqual(len(finalize), 1)
        # Retry-After: 2 on the held authorization poll: the next poll came 2 s later.
        authz = [r[2] for r in posts if "/authZ/" in r[1]]
        gaps = [b - a for a, b in zip(authz, authz[1:])]
        self.assertTrue(any(1.9 <= g < 3.5 for g in gaps), gaps)
        # No Retry-After on the held order poll: the next one came after the short interval.
        orders = [r[2] for r in posts if "/my-order/" in r[1]]
        gaps = [b - a for a, b in zip(orders, orders[1:])]
        self.assertTrue(any(0.9 <= g < 1.9 for g in gaps), gaps)


if __name__ == "__main__":
    unittest.main()
