"""End-to-end tests of fcs-failover-server and fcs-adapter-check.

Each test starts the real server binary on a free loopback port (--port 0) in a fresh data
folder and talks to it with clients no one here wrote: curl, openssl s_client, and Python's
ssl/http.client. Certificates are made with the openssl command. Standard library only.

Run by ctest (tests/e2e_server/CMakeLists.txt), which sets FCS_SERVER and FCS_ADAPTER_CHECK:
    FCS_SERVER=... FCS_ADAPTER_CHECK=... /usr/bin/python3 -B test_failover_server.py ServeAndInspect -v
"""

import collections
import datetime
import hashlib
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import warnings

SERVER = os.environ.get("FCS_SERVER", "fcs-failover-server")
ADAPTER = os.environ.get("FCS_ADAPTER_CHECK", "fcs-adapter-check")
SWITCHOVER = os.environ.get("FCS_SWITCHOVER", "")
CERT_NAME = "FailoverService"
AEAD_TLS12 = {
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
}


# ---- helpers --------------------------------------------------------------------------------

def run(cmd, timeout=30, input=None):
    """Runs a command; returns (exit code, stdout, stderr) as text."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
    return p.returncode, p.stdout, p.stderr


def wait_for(predicate, timeout=30.0, interval=0.05, what="condition"):
    """Waits for the event itself; the bound is generous (sanitizer builds are slow) and only
    ends a test that would otherwise hang."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def read_file(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)


def colon_hex(digest):
    return ":".join(f"{b:02X}" for b in digest)


def pem_fingerprint(path):
    """SHA-256 of the first certificate of a PEM file, computed here from the DER."""
    text = read_file(path)
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    assert m, f"{path}: no PEM certificate"
    return colon_hex(hashlib.sha256(ssl.PEM_cert_to_DER_cert(m.group(0))).digest())


def openssl_fingerprint(path):
    """SHA-256 fingerprint as the openssl command computes it."""
    code, out, err = run(["openssl", "x509", "-in", path, "-noout", "-fingerprint", "-sha256"])
    assert code == 0, err
    return out.strip().split("=", 1)[1]


def openssl_dates(path):
    code, out, err = run(["openssl", "x509", "-in", path, "-noout", "-startdate", "-enddate"])
    assert code == 0, err
    d = dict(line.split("=", 1) for line in out.strip().splitlines())
    return ssl.cert_time_to_seconds(d["notBefore"]), ssl.cert_time_to_seconds(d["notAfter"])


def insecure_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def served_fingerprint(port, timeout=5):
    """Fingerprint of the certificate a new TLS connection gets (Python's ssl module)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with insecure_context().wrap_socket(raw, server_hostname="localhost") as s:
            return colon_hex(hashlib.sha256(s.getpeercert(binary_form=True)).digest())


def s_client(port, *args, timeout=20):
    return run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", *args],
               timeout=timeout, input="")


def s_client_fingerprint(port):
    code, out, err = s_client(port)
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    assert m, f"openssl s_client printed no certificate: {err}"
    code, fp, err = run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=m.group(0))
    assert code == 0, err
    return fp.strip().split("=", 1)[1]


def https_get(port, path, ctx=None, timeout=5):
    """(status, headers dict lower-cased, body text, served fingerprint) over a new connection."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx or insecure_context(), timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read().decode()
        fp = colon_hex(hashlib.sha256(conn.sock.getpeercert(binary_form=True)).digest())
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body, fp
    finally:
        conn.close()


def parse_metrics(text):
    """Prometheus text format: {name: value}; checks each sample has HELP and TYPE lines first."""
    helps, types, values = {}, {}, {}
    for line in text.splitlines():
        if not line:
            continue
        m = re.fullmatch(r"# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)", line)
        if m:
            helps[m.group(1)] = m.group(2)
            continue
        m = re.fullmatch(r"# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)", line)
        if m:
            types[m.group(1)] = m.group(2)
            continue
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+]+|NaN|[+-]Inf)", line)
        if not m:
            raise AssertionError(f"not a Prometheus text line: {line!r}")
        name = m.group(1)
        if name not in helps or name not in types:
            raise AssertionError(f"{name}: sample without a preceding HELP and TYPE line")
        if types[name] == "counter" and not name.endswith("_total"):
            raise AssertionError(f"{name}: a counter's name must end in _total")
        values[name] = float(m.group(3))
    return values, types


def make_ca(work, cn="Test Root CA"):
    os.makedirs(work, exist_ok=True)
    ca_crt, ca_key = os.path.join(work, "ca.crt"), os.path.join(work, "ca.key")
    code, _, err = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", ca_key, "-out", ca_crt, "-days", "3650", "-subj", "/CN=" + cn,
                        "-addext", "basicConstraints=critical,CA:TRUE",
                        "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    assert code == 0, err
    return ca_crt, ca_key


def openssl_time(t):
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y%m%d%H%M%SZ")


def make_leaf(work, ca, name, cn="server.example", not_before=None, not_after=None, key_alg=("EC", "ec_paramgen_curve:P-256")):
    """A CA-issued server pair made with `openssl ca` (explicit dates, past ones included)."""
    ca_crt, ca_key = ca
    d = os.path.join(work, name)
    os.makedirs(d)
    key, csr, crt = (os.path.join(d, f) for f in ("leaf.key", "leaf.csr", "leaf.crt"))
    code, _, err = run(["openssl", "genpkey", "-algorithm", key_alg[0], "-pkeyopt", key_alg[1], "-out", key])
    assert code == 0, err
    code, _, err = run(["openssl", "req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + cn])
    assert code == 0, err
    write_file(os.path.join(d, "index.txt"), "")
    write_file(os.path.join(d, "serial.txt"), os.urandom(8).hex() + "\n")
    cnf = os.path.join(d, "ca.cnf")
    write_file(cnf, f"""[ca]
default_ca = ca_section
[ca_section]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}
serial = {d}/serial.txt
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = leaf_ext
unique_subject = no
[any]
commonName = supplied
[leaf_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:{cn},DNS:localhost,IP:127.0.0.1
""")
    now = time.time()
    start = openssl_time(not_before if not_before is not None else now - 3600)
    end = openssl_time(not_after if not_after is not None else now + 365 * 86400)
    code, _, err = run(["openssl", "ca", "-batch", "-config", cnf, "-cert", ca_crt, "-keyfile", ca_key, "-in", csr,
                        "-out", crt, "-startdate", start, "-enddate", end, "-notext"])
    assert code == 0, err
    return crt, key


def drop_file(path, data, mode):
    """Puts a file into place the way an admin's tool should: write a hidden temp, then rename."""
    tmp = os.path.join(os.path.dirname(path), ".drop-" + os.path.basename(path))
    with open(tmp, "w") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


# What ASan, UBSan, LSan and TSan print when they find something (the server may exit 0 after
# a report: a leak at exit, a race with halt_on_error=0, UBSan's default of carrying on).
SANITIZER_REPORT = re.compile(r"ERROR: AddressSanitizer|WARNING: ThreadSanitizer|runtime error:|LeakSanitizer|"
                              r"ERROR: UndefinedBehaviorSanitizer")


class Server:
    """The real fcs-failover-server on a free loopback port. popen: extra subprocess.Popen
    arguments (preexec_fn, pass_fds, user...)."""

    def __init__(self, data_dir, log_dir, *extra, popen=None):
        self.data_dir, self.extra = data_dir, list(extra)
        self.stderr_path = os.path.join(log_dir, f"server-{time.monotonic_ns()}.stderr")
        self.popen = dict(popen or {})
        self.proc = None
        self.lines = []
        self.port = None
        self.fingerprint = None
        self.exit_code = None

    def start(self, timeout=30):
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([SERVER, "serve", "--data-dir", self.data_dir, "--port", "0", "--threads", "2",
                                      *self.extra], stdout=subprocess.PIPE, stderr=self.stderr, text=True,
                                     **self.popen)
        ready = threading.Event()

        def reader():
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                m = re.match(r"listening on https://127\.0\.0\.1:(\d+)$", line.strip())
                if m:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=reader, daemon=True)
        self.reader.start()
        if not ready.wait(timeout) or self.port is None:
            self.proc.kill()
            raise AssertionError("the server did not print its URL:\n" + self.diagnostics())
        for line in self.lines:
            m = re.match(r"fingerprint SHA256 ([0-9A-F:]{95})$", line)
            if m:
                self.fingerprint = m.group(1)
        return self

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the server (if it still runs) and returns its exit status; a server that does
        not stop in time is killed and reported."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"the server did not stop within {timeout}s of {sig!r}")
        if self.exit_code is None:
            self.exit_code = self.proc.returncode
            self.reader.join(5)
            self.proc.stdout.close()
            self.stderr.close()
        return self.exit_code

    def sanitizer_report(self):
        """The sanitizer report lines in the server's stderr ("" when none)."""
        err = read_file(self.stderr_path) if os.path.exists(self.stderr_path) else ""
        return "\n".join(l for l in err.splitlines() if SANITIZER_REPORT.search(l))

    def shutdown_problems(self):
        """Why this server's run was not clean: an exit status other than 0 (a stop by SIGTERM
        or SIGINT returns 0; a crash, an abort or a sanitizer's exit code does not) or a
        sanitizer report on stderr. [] when clean."""
        problems = []
        code = self.stop()
        if code not in (0, None):
            problems.append(f"exit status {code}")
        report = self.sanitizer_report()
        if report:
            problems.append("sanitizer report on stderr:\n" + report)
        return problems

    def url(self, path=""):
        return f"https://127.0.0.1:{self.port}{path}"

    def get(self, path, ctx=None):
        return https_get(self.port, path, ctx)

    def metrics(self):
        status, _, body, _ = self.get("/metrics")
        assert status == 200, body
        return parse_metrics(body)[0]

    def messages(self):
        p = os.path.join(self.data_dir, "Logs", "messages.log")
        return read_file(p) if os.path.exists(p) else ""

    def diagnostics(self):
        err = read_file(self.stderr_path) if os.path.exists(self.stderr_path) else ""
        return ("stdout:\n" + "\n".join(self.lines) + "\nstderr:\n" + err[-24000:])


class ClientLoop(threading.Thread):
    """Requests GET /health over a new TLS connection each time until stopped; counts failures
    and the fingerprints served. kind: "python" (ssl + http.client) or "curl"."""

    def __init__(self, port, kind="python"):
        super().__init__(daemon=True)
        self.port, self.kind = port, kind
        self.halt = threading.Event()
        self.ok = 0
        self.failures = []
        self.seen = collections.Counter()
        self.last = None

    def run(self):
        while not self.halt.is_set():
            try:
                if self.kind == "python":
                    status, _, body, fp = https_get(self.port, "/health")
                    if status != 200 or json.loads(body)["status"] not in ("ok", "warning", "error"):
                        raise RuntimeError(f"HTTP {status}: {body}")
                    self.seen[fp] += 1
                    self.last = fp
                else:
                    code, out, err = run(["curl", "-sS", "-k", "--fail", "--max-time", "5", "-o", "/dev/null",
                                          "-w", "%{http_code}", f"https://127.0.0.1:{self.port}/health"])
                    if code != 0 or out != "200":
                        raise RuntimeError(f"curl exit {code}, HTTP {out}: {err}")
                self.ok += 1
            except Exception as e:  # every failed request is a test failure
                self.failures.append(repr(e))

    def finish(self):
        self.halt.set()
        self.join(15)


class E2E(unittest.TestCase):
    """Gives each test a scratch folder and stops every server it started."""

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="fcs-e2e-")
        self.servers = []

    def tearDown(self):
        outcome = getattr(self, "_outcome", None)
        failed = outcome is not None and not getattr(outcome, "success", True)
        unclean = []
        try:
            for s in self.servers:
                try:
                    problems = s.shutdown_problems()
                except AssertionError as e:  # did not stop
                    problems = [str(e)]
                if problems:
                    unclean.append(f"server {s.data_dir}: " + "; ".join(problems))
                if failed or problems:
                    print(f"\n--- server {s.data_dir} ---\n{s.diagnostics()}\n--- messages.log ---\n"
                          f"{s.messages()[-4000:]}", file=sys.stderr)
        finally:
            shutil.rmtree(self.work, ignore_errors=True)
        # Every stop must be clean: a leak or a race found at shutdown fails the test.
        if unclean:
            raise AssertionError("unclean server shutdown:\n" + "\n".join(unclean))

    def data(self, name="data"):
        return os.path.join(self.work, name)

    def start(self, data_dir=None, *extra, popen=None):
        s = Server(data_dir or self.data(), self.work, *extra, popen=popen)
        self.servers.append(s)
        return s.start()

    def cert_path(self, data_dir=None):
        return os.path.join(data_dir or self.data(), "Certificates", CERT_NAME + ".crt")

    def key_path(self, data_dir=None):
        return os.path.join(data_dir or self.data(), "Certificates", "Keys", CERT_NAME + ".key")

    def cli(self, *args, timeout=30):
        return run([SERVER, *args], timeout=timeout)

    def assert_no_key_material(self, text, key_file):
        body = "".join(l for l in read_file(key_file).splitlines() if not l.startswith("-----"))
        self.assertNotIn("PRIVATE KEY", text)
        for chunk in (body[i:i + 24] for i in range(0, max(len(body) - 24, 1), 24)):
            self.assertNotIn(chunk, text, "key bytes leaked")


# ---- the tests ------------------------------------------------------------------------------

class ServeAndInspect(E2E):
    """A fresh data folder: generate, serve, and describe the certificate correctly."""

    def test_served_certificate_is_the_one_on_disk(self):
        s = self.start()
        on_disk = pem_fingerprint(self.cert_path())
        self.assertEqual(on_disk, openssl_fingerprint(self.cert_path()))
        self.assertEqual(s.fingerprint, on_disk, "the printed fingerprint is the file's")
        self.assertEqual(served_fingerprint(s.port), on_disk, "Python ssl sees the file's certificate")
        self.assertEqual(s_client_fingerprint(s.port), on_disk, "openssl s_client sees the file's certificate")
        # curl trusts exactly the file on disk and checks the name: it only succeeds if the
        # served certificate is that file's.
        code, out, err = run(["curl", "-sS", "--fail", "--cacert", self.cert_path(), s.url("/health")])
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["sha256_fingerprint"], on_disk)
        self.assertEqual(oct(os.stat(self.key_path()).st_mode & 0o777), "0o600")

    def test_health_certificate_and_metrics_are_right(self):
        s = self.start()
        on_disk = pem_fingerprint(self.cert_path())
        not_before, not_after = openssl_dates(self.cert_path())

        status, headers, body, _ = s.get("/health")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("application/json"))
        self.assertIn("max-age=", headers["strict-transport-security"])
        health = json.loads(body)
        self.assertEqual(health["status"], "ok")
        self.assertEqual(health["state"], "valid")
        self.assertEqual(health["days_remaining"], int((not_after - time.time()) // 86400))

        status, headers, body, _ = s.get("/certificate")
        self.assertEqual(status, 200)
        self.assertIn("strict-transport-security", headers)
        cert = json.loads(body)
        for field in ("subject", "issuer", "sans", "serial", "not_before", "not_after", "days_remaining",
                      "sha256_fingerprint", "state", "origin"):
            self.assertIn(field, cert)
        self.assertEqual(cert["sha256_fingerprint"], on_disk)
        self.assertEqual(cert["state"], "valid")
        self.assertEqual(cert["origin"], "generated")
        self.assertEqual(cert["subject"], cert["issuer"], "generated certificates are self-signed")
        self.assertIn("IP:127.0.0.1", cert["sans"])
        self.assertIn("DNS:localhost", cert["sans"])
        code, out, _ = run(["openssl", "x509", "-in", self.cert_path(), "-noout", "-serial"])
        self.assertEqual(int(cert["serial"], 16), int(out.strip().split("=")[1], 16))
        iso = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(cert["not_before"], iso(not_before))
        self.assertEqual(cert["not_after"], iso(not_after))
        years = (not_after - not_before) / (365.25 * 86400)
        self.assertAlmostEqual(years, 15, delta=0.01)
        self.assert_no_key_material(body, self.key_path())

        values = s.metrics()
        self.assertEqual(values["fcs_certificate_expiration_timestamp_seconds"], not_after)
        self.assertEqual(values["fcs_certificate_not_before_timestamp_seconds"], not_before)
        self.assertEqual(values["fcs_certificate_valid"], 1)
        self.assertEqual(values["fcs_certificate_reloads_total"], 0)
        self.assertEqual(values["fcs_certificate_reload_failures_total"], 0)
        self.assertEqual(values["fcs_tls_handshake_failures_total"], 0)
        # /health, /certificate and this /metrics: three handshakes, each counted when it completes.
        self.assertEqual(values["fcs_tls_handshakes_total"], 3)
        before = values["fcs_tls_handshakes_total"]
        for _ in range(3):
            s.get("/health")
        self.assertEqual(s.metrics()["fcs_tls_handshakes_total"], before + 4)
        _, types = parse_metrics(s.get("/metrics")[2])
        self.assertEqual(types["fcs_certificate_valid"], "gauge")
        self.assertEqual(types["fcs_tls_handshakes_total"], "counter")

    def test_unknown_paths_methods_and_oversized_requests_get_json_errors(self):
        s = self.start()
        status, headers, body, _ = s.get("/no/such/thing")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["error"], "not found")
        self.assertIn("strict-transport-security", headers)
        code, out, _ = run(["curl", "-sk", "-X", "POST", "-o", "/dev/null", "-w", "%{http_code}", s.url("/health")])
        self.assertEqual(out, "405")
        # A request header over the 8 KiB bound is answered 413 and the connection closed.
        def send_big(size):
            answer = b""
            with socket.create_connection(("127.0.0.1", s.port), timeout=5) as raw:
                with insecure_context().wrap_socket(raw, server_hostname="localhost") as t:
                    try:
                        t.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n")
                        while chunk := t.recv(65536):
                            answer += chunk
                    except (ssl.SSLError, ConnectionError):
                        pass  # the server stopped reading: what a bound means
            return answer
        self.assertTrue(send_big(10 * 1024).startswith(b"HTTP/1.1 413"))
        # Far over it (4 MiB): never buffered; the connection ends, the server carries on.
        answer = send_big(4 * 1024 * 1024)
        self.assertTrue(answer == b"" or answer.startswith(b"HTTP/1.1 413"), answer[:100])
        self.assertEqual(s.get("/health")[0], 200)

    def test_status_command_and_help(self):
        s = self.start()
        code, out, err = self.cli("status", "--data-dir", self.data(), "--json")
        self.assertEqual(code, 0, err)
        st = json.loads(out)
        self.assertEqual(st["sha256_fingerprint"], s.fingerprint)
        self.assertEqual(st["state"], "valid")
        code, out, err = self.cli("status", "--data-dir", self.data())
        self.assertEqual(code, 0, err)
        self.assertIn("fingerprint   SHA256 " + s.fingerprint, out)
        # Every name of the certificate, in its order, comma separated (a generated one has
        # several: the host, localhost, 127.0.0.1, ::1).
        self.assertGreater(len(st["sans"]), 1, st["sans"])
        self.assertIn("\nnames         " + ", ".join(st["sans"]) + "\n", out)
        code, out, err = self.cli("status", "--data-dir", self.data("missing"))
        self.assertEqual(code, 2, "no certificate: critical")
        self.assertIn("missing", err)
        self.assertFalse(os.path.exists(self.data("missing")), "status must not create a data folder")
        for cmd in (["--help"], ["serve", "--help"], ["replace", "--help"], ["status", "--help"]):
            code, out, err = self.cli(*cmd)
            self.assertEqual(code, 0, err)
            self.assertIn("Example", out, cmd)
        code, out, err = self.cli("serve", "--no-such-option")
        self.assertEqual(code, 2)
        self.assertIn("unknown option", err)
        code, out, err = run([ADAPTER, "--help"])
        self.assertEqual(code, 0)
        self.assertIn("--validate-endpoint-certificate", out)


    def test_status_is_read_only(self):
        s = self.start()
        self.assertEqual(s.stop(), 0)
        certs = os.path.join(self.data(), "Certificates")
        # What start() would change: a broken second pair (archived), a pending change
        # (finished), a stray temporary file (removed), a too-open key folder (refused).
        with open(os.path.join(certs, "Broken.crt"), "w") as f:
            f.write("not a certificate")
        with open(os.path.join(certs, "Keys", "Broken.key"), "w") as f:
            f.write("not a key")
        os.chmod(os.path.join(certs, "Keys", "Broken.key"), 0o600)
        with open(os.path.join(certs, ".fcs-tmp-1"), "w") as f:
            f.write("x")
        fd = os.open(os.path.join(certs, ".fcs-journal"), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"fcs-journal 1\nR\tCertificates\t.fcs-tmp-1\tCertificates\tOther.meta\nend\n")
        os.close(fd)
        os.chmod(os.path.join(certs, "Keys"), 0o750)

        def tree():
            out = {}
            for d, dirs, files in os.walk(self.data()):
                for n in dirs + files:
                    p = os.path.join(d, n)
                    st = os.lstat(p)
                    out[p] = (st.st_mode, read_file(p, "rb") if n in files else None)
            return out

        before = tree()
        code, out, err = self.cli("status", "--data-dir", self.data(), "--json")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["sha256_fingerprint"], s.fingerprint)
        self.assertIn("a change was interrupted", err)
        self.assertIn("Broken.crt", err)
        self.assertEqual(tree(), before, "status changed the data folder")


class StatusSchema(E2E):
    """`status --json` of fcs-failover-server and of fcs-switchover: one schema (README.md,
    "Status JSON"), and the same values for the same pair."""

    # Members that describe the pair itself; the others say where and how it was stored.
    SHARED = ("schema", "subject", "issuer", "sans", "serial", "not_before", "not_after", "days_remaining",
              "sha256_fingerprint", "key_type", "state", "self_signed", "is_ca")
    ALL = SHARED + ("name", "origin", "certificate_file", "key_file", "findings")

    def switchover(self):
        if not SWITCHOVER or not os.access(SWITCHOVER, os.X_OK):
            # The TSan stage builds the server only. Said in the words ctest's
            # SKIP_REGULAR_EXPRESSION matches: reported skipped, never passed.
            print(f"SKIPPED: fcs-switchover is not built here ({SWITCHOVER!r})", flush=True)
            self.skipTest("fcs-switchover is not built here")
        return SWITCHOVER

    def assert_schema(self, doc, who):
        self.assertEqual(sorted(doc), sorted(self.ALL), who)
        self.assertEqual(doc["schema"], 1, who)
        for field in ("name", "subject", "issuer", "serial", "not_before", "not_after", "sha256_fingerprint",
                      "key_type", "state", "origin", "certificate_file", "key_file"):
            self.assertIsInstance(doc[field], str, f"{who}: {field}")
        for field in ("self_signed", "is_ca"):
            self.assertIsInstance(doc[field], bool, f"{who}: {field}")
        self.assertIsInstance(doc["days_remaining"], int, who)
        self.assertTrue(all(isinstance(n, str) for n in doc["sans"]), who)
        for t in ("not_before", "not_after"):
            self.assertRegex(doc[t], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", f"{who}: {t} is ISO 8601 UTC")
        self.assertIn(doc["state"], ("valid", "expiring", "expired", "not-yet-valid"), who)
        for f in doc["findings"]:
            self.assertEqual(sorted(f), ["level", "location", "message"], who)
            self.assertIn(f["level"], ("info", "warning", "error"), who)

    def test_both_programs_describe_the_same_pair_alike(self):
        switchover = self.switchover()
        # One pair (a CA, so fcs-switchover takes it; a server name, so the server does),
        # installed into one data folder by both programs, each in its own layout.
        work = os.path.join(self.work, "pair")
        os.makedirs(work)
        crt, key = os.path.join(work, "pair.crt"), os.path.join(work, "pair.key")
        code, _, err = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                            "-days", "400", "-subj", "/CN=status.example",
                            "-addext", "basicConstraints=critical,CA:TRUE",
                            "-addext", "keyUsage=critical,digitalSignature,keyCertSign,cRLSign",
                            "-addext", "subjectAltName=DNS:status.example,IP:127.0.0.1"])
        self.assertEqual(code, 0, err)
        data = self.data()
        code, out, err = self.cli("replace", "--data-dir", data, "--cert", crt, "--key", key)
        self.assertEqual(code, 0, out + err)
        code, out, err = run([switchover, "import", "--data-dir", data, "--cert", crt, "--key", key], timeout=60)
        self.assertEqual(code, 0, out + err)

        code, out, err = self.cli("status", "--data-dir", data, "--json")
        self.assertEqual(code, 0, out + err)
        server = json.loads(out)
        code, out, err = run([switchover, "status", "--data-dir", data, "--json"], timeout=60)
        self.assertEqual(code, 0, out + err)
        group = json.loads(out)
        self.assert_schema(server, "fcs-failover-server")
        self.assert_schema(group, "fcs-switchover")
        self.assertEqual({k: server[k] for k in self.SHARED}, {k: group[k] for k in self.SHARED})

        # And the values are the certificate's, as openssl reads it.
        self.assertEqual(server["sha256_fingerprint"], openssl_fingerprint(crt))
        self.assertEqual(server["key_type"], "RSA 2048")
        self.assertEqual(server["sans"], ["DNS:status.example", "IP:127.0.0.1"])
        self.assertEqual(server["subject"], "CN=status.example")
        self.assertTrue(server["is_ca"] and server["self_signed"])
        self.assertEqual(server["state"], "valid")
        not_before, not_after = openssl_dates(crt)
        self.assertEqual(server["not_after"], datetime.datetime.fromtimestamp(
            not_after, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.assertEqual(server["not_before"], datetime.datetime.fromtimestamp(
            not_before, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.assertIn(server["days_remaining"], (398, 399))
        self.assertEqual((server["origin"], group["origin"]), ("installed", "imported"))
        self.assertEqual(server["name"], CERT_NAME)
        self.assertEqual(group["name"], "ServerGroup")
        self.assertTrue(server["certificate_file"].endswith(f"Certificates/{CERT_NAME}.crt"), server)
        self.assertTrue(group["certificate_file"].endswith("ServerGroupCertificate.cer"), group)
        self.assertTrue(group["key_file"].endswith("ServerGroupPrivateKey.bin"), group)

    def test_the_rest_endpoint_serves_the_same_document(self):
        s = self.start()
        code, out, err = self.cli("status", "--data-dir", self.data(), "--json")
        self.assertEqual(code, 0, err)
        cli_doc = json.loads(out)
        rest_doc = json.loads(s.get("/certificate")[2])
        self.assert_schema(rest_doc, "GET /certificate")
        self.assertEqual({k: v for k, v in cli_doc.items() if k != "findings"},
                         {k: v for k, v in rest_doc.items() if k != "findings"})
        self.assertEqual(rest_doc["key_type"], "EC P-256")


class TlsPolicy(E2E):
    """TLS 1.2/1.3 with ECDHE + AEAD only, X25519 first; older protocols and plain HTTP refused."""

    @classmethod
    def setUpClass(cls):
        cls.holder = E2E("run")  # one server for the class: these tests only connect
        cls.holder.setUp()
        cls.server = cls.holder.start()

    @classmethod
    def tearDownClass(cls):
        cls.holder.tearDown()

    def test_tls_1_1_and_1_0_are_refused_by_the_server(self):
        s = self.server
        failures_before = s.metrics()["fcs_tls_handshake_failures_total"]
        for flag in ("-tls1_1", "-tls1"):
            # SECLEVEL=0 lets the client offer the old protocol, so the refusal is the server's.
            code, out, err = s_client(s.port, flag, "-cipher", "DEFAULT@SECLEVEL=0")
            self.assertNotEqual(code, 0, flag)
            self.assertIn("alert protocol version", out + err, flag)
            self.assertNotIn("BEGIN CERTIFICATE", out)
        self.assertGreaterEqual(s.metrics()["fcs_tls_handshake_failures_total"], failures_before + 2)
        # Python's ssl module, limited to TLS 1.1, cannot connect either.
        ctx = insecure_context()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                ctx.set_ciphers("DEFAULT@SECLEVEL=0")
                ctx.minimum_version = ssl.TLSVersion.TLSv1_1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            except (ValueError, ssl.SSLError):
                pass
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            with socket.create_connection(("127.0.0.1", s.port), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost"):
                    pass

    def test_tls_1_2_and_1_3_use_ecdhe_aead_and_x25519(self):
        s = self.server
        code, out, err = s_client(s.port, "-tls1_2")
        self.assertEqual(code, 0, err)
        cipher = re.search(r"New, TLSv1\.2, Cipher is (\S+)", out).group(1)
        self.assertIn(cipher, AEAD_TLS12)
        self.assertIn("Server Temp Key: X25519", out)
        code, out, err = s_client(s.port, "-tls1_3")
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"New, TLSv1\.3, Cipher is TLS_(AES_128_GCM|AES_256_GCM|CHACHA20_POLY1305)")
        self.assertIn("Server Temp Key: X25519", out)
        # Python's ssl module negotiates TLS 1.3 with an AEAD suite.
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as raw:
            with insecure_context().wrap_socket(raw, server_hostname="localhost") as t:
                self.assertEqual(t.version(), "TLSv1.3")
                self.assertRegex(t.cipher()[0], r"GCM|CHACHA20")
        # CBC suites and static RSA key exchange are not offered.
        for weak in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES128-SHA256", "AES128-GCM-SHA256"):
            code, out, err = s_client(s.port, "-tls1_2", "-cipher", weak + "@SECLEVEL=0")
            self.assertNotEqual(code, 0, weak)
            self.assertNotRegex(out, r"New, TLSv1\.2, Cipher is", weak)
        # A client that only offers P-256 still gets in (X25519 is preferred, not required).
        code, out, err = s_client(s.port, "-groups", "P-256")
        self.assertEqual(code, 0, err)
        self.assertIn("Server Temp Key: ECDH, prime256v1", out)

    def test_plain_http_on_the_tls_port_is_refused(self):
        s = self.server
        code, out, err = run(["curl", "-sS", "--max-time", "5", f"http://127.0.0.1:{s.port}/health"])
        self.assertNotEqual(code, 0)
        self.assertNotIn("status", out)
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as raw:
            raw.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            try:
                while chunk := raw.recv(4096):
                    answer += chunk
            except ConnectionResetError:
                pass
        self.assertFalse(answer.startswith(b"HTTP/"), answer[:80])

    def test_idle_connection_is_closed_after_the_timeout(self):
        # The server's handshake timeout is 10 s, counted from the accept, which follows t0:
        # never earlier than that. Later is a loaded machine, not a fault: the bound only has
        # to tell "closed by the server's timeout" from "never closed" (the client gives up
        # after 60 s).
        s = self.server
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", s.port), timeout=60) as raw:
            try:
                self.assertEqual(raw.recv(1), b"")
            except ConnectionResetError:
                pass
            except socket.timeout:
                self.fail("the server did not close an idle connection within 60 s")
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 9.9, "closed before the 10 s timeout")
        self.assertLess(elapsed, 45)


def server_side_connections(port):
    """The loopback TCP connections to `port` the server has not closed yet (accepted or still
    queued: ESTABLISHED or CLOSE_WAIT on the server's side), from /proc/net/tcp: readable by
    any user, where /proc/PID/fd of the server (not dumpable) is root's only."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            local, state = line.split()[1], line.split()[3]
            if int(local.split(":")[1], 16) == port and state in ("01", "08"):
                n += 1
    return n


class ConnectionCap(E2E):
    def test_connections_over_the_cap_are_closed_at_once(self):
        s = self.start(None, "--max-connections", "2")
        before = s.metrics()["fcs_connections_rejected_total"]
        wait_for(lambda: server_side_connections(s.port) == 0, timeout=30,
                 what="the /metrics connection to be closed")
        # Three connections that send nothing. The server's two I/O threads each have a listen
        # queue of their own (SO_REUSEPORT), so which of the three is accepted last is not
        # known: exactly one, whichever, must be closed at once (not by the 10 s handshake
        # timeout), and the two others must stay open.
        conns = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(3)]
        closed, t0 = [], time.monotonic()
        while not closed and time.monotonic() - t0 < 5:
            readable, _, _ = select.select(conns, [], [], 5 - (time.monotonic() - t0))
            for c in readable:  # the server sends nothing before a ClientHello: EOF or reset
                try:
                    self.assertEqual(c.recv(1), b"")
                except ConnectionResetError:
                    pass
                closed.append(c)
        self.assertEqual(len(closed), 1, "one connection over the cap of 2, closed within 5 s")
        still_open = [c for c in conns if c not in closed]
        readable, _, _ = select.select(still_open, [], [], 0)
        self.assertEqual(readable, [], "a connection within the cap was closed")
        for c in conns:
            c.close()
        # Poll /metrics only once the server has closed every connection of this test: a poll
        # while the cap is still full would be rejected, and counted, too.
        wait_for(lambda: server_side_connections(s.port) == 0, timeout=30,
                 what="the server to close the test's connections")
        values = s.metrics()
        self.assertEqual(values["fcs_connections_rejected_total"], before + 1, "exactly the one over the cap")
        self.assertEqual(values["fcs_connections_active"], 1, "only this /metrics request")


class AdapterCheck(E2E):
    def test_validation_on_refuses_an_untrusted_certificate_and_off_connects(self):
        s = self.start()
        code, out, err = run([ADAPTER, "--url", s.url("/health")])
        self.assertEqual(code, 1)
        self.assertIn("not trusted", err)
        self.assertNotIn("HTTP 200", out)
        code, out, err = run([ADAPTER, "--url", s.url("/health"), "--validate-endpoint-certificate", "true"])
        self.assertEqual(code, 1)
        self.assertIn("not trusted", err)

        code, out, err = run([ADAPTER, "--url", s.url("/health"), "--validate-endpoint-certificate", "false"])
        self.assertEqual(code, 0, err)
        self.assertIn("NOT VERIFIED", out)
        self.assertIn("HTTP 200", out)
        self.assertIn("fingerprint SHA256 " + s.fingerprint, out)

        code, out, err = run([ADAPTER, "--url", s.url("/health"), "--ca", self.cert_path(), "--pin", s.fingerprint])
        self.assertEqual(code, 0, err)
        self.assertIn("verified", out)
        self.assertIn("pin: the certificate matches", out)

        # A --ca file that is not the server's certificate or its issuer does not make it trusted.
        ca = make_ca(os.path.join(self.work, "ca"))
        other_crt, _ = make_leaf(self.work, ca, "other", cn="other.example")
        code, out, err = run([ADAPTER, "--url", s.url("/health"), "--ca", other_crt])
        self.assertEqual(code, 1)
        self.assertIn("not trusted", err)

        wrong = "AA:" * 31 + "AA"
        code, out, err = run([ADAPTER, "--url", s.url("/health"), "--validate-endpoint-certificate", "false",
                              "--pin", wrong])
        self.assertEqual(code, 1)
        self.assertIn("pin mismatch", err)


class Restart(E2E):
    def test_restart_keeps_the_certificate(self):
        s = self.start()
        first = served_fingerprint(s.port)
        cert_bytes = read_file(self.cert_path(), "rb")
        key_bytes = read_file(self.key_path(), "rb")
        self.assertEqual(s.stop(signal.SIGTERM), 0)
        self.assertIn("fcs-failover-server: stopped", s.lines)
        s2 = self.start()
        self.assertEqual(s2.fingerprint, first)
        self.assertEqual(served_fingerprint(s2.port), first)
        self.assertEqual(read_file(self.cert_path(), "rb"), cert_bytes)
        self.assertEqual(read_file(self.key_path(), "rb"), key_bytes)
        self.assertEqual(json.loads(s2.get("/certificate")[2])["origin"], "generated")
        self.assertEqual(s2.stop(signal.SIGINT), 0, "Ctrl-C stops cleanly too")
        # Stopped means stopped: the port is closed.
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", s2.port), timeout=2).close()
        self.assertEqual(os.listdir(os.path.join(self.data(), "Certificates", "Archive")), [])


    def test_replace_while_stopped_is_used_at_the_next_start(self):
        ca = make_ca(os.path.join(self.work, "ca"))
        crt, key = make_leaf(self.work, ca, "first")
        # A data folder no server has used yet: replace creates it and installs the pair.
        code, out, err = self.cli("replace", "--data-dir", self.data(), "--cert", crt, "--key", key)
        self.assertEqual(code, 0, err)
        self.assertEqual(oct(os.stat(self.key_path()).st_mode & 0o777), "0o600")
        s = self.start()
        self.assertEqual(served_fingerprint(s.port), openssl_fingerprint(crt), "installed, not generated")
        self.assertNotIn("generated a new", s.messages())
        self.assertEqual(s.stop(), 0)
        crt2, key2 = make_leaf(self.work, ca, "second")
        code, out, err = self.cli("replace", "--data-dir", self.data(), "--cert", crt2, "--key", key2)
        self.assertEqual(code, 0, err)
        s2 = self.start()
        self.assertEqual(s2.fingerprint, openssl_fingerprint(crt2))
        self.assertEqual(served_fingerprint(s2.port), openssl_fingerprint(crt2))


class LiveReplacement(E2E):
    """A new pair is served without restart while clients keep connecting: zero failures."""

    def replacement(self, name="new", cn="server.example"):
        self.ca = getattr(self, "ca", None) or make_ca(os.path.join(self.work, "ca"))
        return make_leaf(self.work, self.ca, name, cn=cn)

    def loops(self, s):
        loops = [ClientLoop(s.port, "python"), ClientLoop(s.port, "curl")]
        for l in loops:
            l.start()
        wait_for(lambda: all(l.ok >= 3 for l in loops), what="the client loops to run")
        return loops

    def finish(self, loops, s, new_fp, old_fp):
        time.sleep(0.5)  # keep requesting after the swap
        for l in loops:
            l.finish()
        py, curl = loops
        print(f"\n  client loops: python {py.ok} ok / {len(py.failures)} failed "
              f"({dict(py.seen)}), curl {curl.ok} ok / {len(curl.failures)} failed", file=sys.stderr)
        self.assertEqual(py.failures, [], "no request may fail during the replacement")
        self.assertEqual(curl.failures, [], "no request may fail during the replacement")
        self.assertGreaterEqual(py.ok, 5, "the Python loop made requests")
        self.assertGreaterEqual(curl.ok, 3, "the curl loop made requests")
        self.assertIn(old_fp, py.seen, "the loop ran before the swap")
        self.assertIn(new_fp, py.seen, "the loop ran after the swap")
        self.assertEqual(py.last, new_fp)

    def test_replace_command_while_serving(self):
        s = self.start()
        old = s.fingerprint
        new_crt, new_key = self.replacement()
        new = openssl_fingerprint(new_crt)
        # A connection opened before the swap keeps its certificate and keeps working.
        kept = http.client.HTTPSConnection("127.0.0.1", s.port, context=insecure_context(), timeout=5)
        kept.request("GET", "/health")
        first = kept.getresponse()
        first.read()
        self.assertEqual(first.status, 200)
        kept_sock = kept.sock
        loops = self.loops(s)

        code, out, err = self.cli("replace", "--data-dir", self.data(), "--cert", new_crt, "--key", new_key)
        self.assertEqual(code, 0, err)
        self.assertIn("fingerprint SHA256 " + new, out)
        wait_for(lambda: served_fingerprint(s.port) == new, what="the new certificate to be served")
        self.finish(loops, s, new, old)

        kept.request("GET", "/certificate")
        r = kept.getresponse()
        self.assertEqual(r.status, 200)
        r.read()
        self.assertIs(kept.sock, kept_sock, "the same connection answered")
        self.assertEqual(colon_hex(hashlib.sha256(kept.sock.getpeercert(True)).digest()), old)
        kept.close()

        # The files are the new pair; the old one is in the archive; curl now trusts the CA.
        self.assertEqual(pem_fingerprint(self.cert_path()), new)
        archive_dir = os.path.join(self.data(), "Certificates", "Archive")
        archived = [f for f in os.listdir(archive_dir) if f.startswith(CERT_NAME + ".")]
        crts = [f for f in archived if f.endswith(".crt")]
        self.assertEqual(len(crts), 1, archived)
        self.assertEqual(len([f for f in archived if f.endswith(".key")]), 1, archived)
        self.assertEqual(pem_fingerprint(os.path.join(archive_dir, crts[0])), old, "the old pair is archived")
        code, out, err = run(["curl", "-sS", "--fail", "--cacert", self.ca[0], s.url("/certificate")])
        self.assertEqual(code, 0, err)
        cert = json.loads(out)
        self.assertEqual(cert["sha256_fingerprint"], new)
        self.assertEqual(cert["issuer"], "CN=Test Root CA")
        values = s.metrics()
        self.assertGreaterEqual(values["fcs_certificate_reloads_total"], 1)
        self.assertEqual(values["fcs_certificate_reload_failures_total"], 0)
        log = s.messages()
        self.assertRegex(log, r"INFO .*installed.*SHA-256 " + re.escape(new))
        self.assert_no_key_material(log + "\n".join(s.lines) + out, new_key)

    def test_files_dropped_into_the_folders_are_served(self):
        s = self.start()
        old = s.fingerprint
        new_crt, new_key = self.replacement()
        new = openssl_fingerprint(new_crt)
        loops = self.loops(s)
        # The certificate lands before its key, as an admin copying two files would do it,
        # well inside the 300 ms settle window. If this process was descheduled between the
        # two drops for longer than that, the scenario did not happen: it is measured, and a
        # failed reload is then expected rather than a fault.
        t0 = time.monotonic()
        drop_file(self.cert_path(), read_file(new_crt), 0o644)
        drop_file(self.key_path(), read_file(new_key), 0o600)
        gap = time.monotonic() - t0
        wait_for(lambda: served_fingerprint(s.port) == new, timeout=30, what="the dropped certificate to be served")
        self.finish(loops, s, new, old)
        values = s.metrics()
        self.assertGreaterEqual(values["fcs_certificate_reloads_total"], 1)
        if gap < 0.2:
            self.assertEqual(values["fcs_certificate_reload_failures_total"], 0,
                             f"the key followed {gap * 1000:.0f} ms later, inside the settle window: "
                             "no failed reload")
        else:
            print(f"\n  the two drops were {gap * 1000:.0f} ms apart (a loaded machine): the settle "
                  "window was not tested this time", file=sys.stderr)
        self.assertEqual(json.loads(s.get("/certificate")[2])["sha256_fingerprint"], new)
        # The reloader logs after the reload returns, and the pair is published inside it: a
        # slow build (TSan) can serve the new pair before the line is written.
        wait_for(lambda: "reload after a change in Certificates/: new handshakes get SHA-256 " + new
                 in s.messages(), timeout=30, what="the reload to be logged")

    def test_recreated_folders_are_watched_again(self):
        # An admin moves Certificates/ away and builds it anew (a restore, a migration): the
        # watches on the old folders are gone; the server watches the new ones by itself.
        s = self.start()
        old = s.fingerprint
        certs = os.path.join(self.data(), "Certificates")
        os.rename(certs, certs + ".old")
        wait_for(lambda: "failed: Certificates: open folder: No such file or directory; the server keeps "
                         "serving the certificate in use" in s.messages(),
                 what="the reload after the folder went away to say so")
        self.assertEqual(served_fingerprint(s.port), old, "the pair in use is still served")
        for folder, mode in ((certs, 0o755), (os.path.join(certs, "Keys"), 0o700)):
            os.mkdir(folder)
            os.chmod(folder, mode)
        wait_for(lambda: "no valid pair on disk; keeps serving the pair in use" in s.messages(),
                 what="the new, empty folders to be seen")
        new_crt, new_key = self.replacement()
        new = openssl_fingerprint(new_crt)
        drop_file(self.cert_path(), read_file(new_crt), 0o644)
        drop_file(self.key_path(), read_file(new_key), 0o600)
        wait_for(lambda: served_fingerprint(s.port) == new, what="the pair in the new folders to be served")
        self.assertEqual(json.loads(s.get("/certificate")[2])["sha256_fingerprint"], new)
        self.assertIsNone(s.proc.poll(), "the same process, no restart, no SIGHUP")

    def test_sighup_reloads(self):
        s = self.start()
        before = s.metrics()["fcs_certificate_reloads_total"]
        s.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: s.metrics()["fcs_certificate_reloads_total"] == before + 1, what="a reload on SIGHUP")
        self.assertEqual(served_fingerprint(s.port), s.fingerprint)
        self.assertEqual(s.metrics()["fcs_certificate_reload_failures_total"], 0)


class BadReplacement(E2E):
    """An invalid new pair: the old certificate keeps being served, the message log says why."""

    def test_replace_command_refuses_a_bad_pair_and_changes_nothing(self):
        s = self.start()
        ca = make_ca(os.path.join(self.work, "ca"))
        a_crt, a_key = make_leaf(self.work, ca, "a")
        b_crt, b_key = make_leaf(self.work, ca, "b")
        cert_before = read_file(self.cert_path(), "rb")
        key_before = read_file(self.key_path(), "rb")

        code, out, err = self.cli("replace", "--data-dir", self.data(), "--cert", a_crt, "--key", b_key)
        self.assertNotEqual(code, 0)
        self.assertIn(a_crt, err)
        self.assertIn("does not match", err)

        enc = os.path.join(self.work, "encrypted.key")
        code, _, e = run(["openssl", "pkey", "-in", a_key, "-aes256", "-passout", "pass:secret", "-out", enc])
        self.assertEqual(code, 0, e)
        code, out, err = self.cli("replace", "--data-dir", self.data(), "--cert", a_crt, "--key", enc)
        self.assertNotEqual(code, 0)
        self.assertIn(enc, err)
        self.assertIn("password-protected", err)

        garbage = os.path.join(self.work, "garbage.crt")
        write_file(garbage, "this is not a certificate\n")
        code, out, err = self.cli("replace", "--data-dir", self.data(), "--cert", garbage, "--key", a_key)
        self.assertNotEqual(code, 0)
        self.assertIn(garbage, err)

        code, out, err = self.cli("replace", "--data-dir", self.data(), "--cert", a_crt)
        self.assertEqual(code, 2, "usage error")

        self.assertEqual(read_file(self.cert_path(), "rb"), cert_before)
        self.assertEqual(read_file(self.key_path(), "rb"), key_before)
        self.assertEqual(os.listdir(os.path.join(self.data(), "Certificates", "Archive")), [])
        time.sleep(0.5)  # longer than the settle window: nothing to reload
        self.assertEqual(served_fingerprint(s.port), s.fingerprint)
        self.assertIn("ERROR replace refused", s.messages())

    def test_bad_files_dropped_into_the_folders_keep_the_old_certificate(self):
        s = self.start()
        ca = make_ca(os.path.join(self.work, "ca"))
        a_crt, _ = make_leaf(self.work, ca, "a")
        loop = ClientLoop(s.port, "python")
        loop.start()
        wait_for(lambda: loop.ok >= 3, what="the client loop to run")

        # A certificate whose key is not the one in Keys/.
        drop_file(self.cert_path(), read_file(a_crt), 0o644)
        values = wait_for(lambda: (lambda v: v if v["fcs_certificate_reload_failures_total"] >= 1 else None)(
            s.metrics()), what="a failed reload in /metrics")
        self.assertGreaterEqual(values["fcs_certificate_reloads_total"], 1)
        self.assertEqual(served_fingerprint(s.port), s.fingerprint, "the old certificate is still served")
        self.assertEqual(json.loads(s.get("/health")[2])["status"], "ok")

        # Then a file that is not a certificate at all.
        drop_file(self.cert_path(), "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", 0o644)
        wait_for(lambda: s.metrics()["fcs_certificate_reload_failures_total"] >= 2, what="a second failed reload")
        self.assertEqual(served_fingerprint(s.port), s.fingerprint)
        loop.finish()
        self.assertEqual(loop.failures, [])
        self.assertEqual(set(loop.seen), {s.fingerprint})
        log = s.messages()
        self.assertRegex(log, r"ERROR .*Certificates/FailoverService\.crt")
        self.assertRegex(log, r"ERROR reload after a change in Certificates/ failed: .*keeps serving the certificate "
                              r"in use \(SHA-256 " + re.escape(s.fingerprint) + r"\)")


class Expiry(E2E):
    def place_pair(self, crt, key):
        os.makedirs(os.path.dirname(self.key_path()), mode=0o700)
        os.chmod(os.path.dirname(self.key_path()), 0o700)
        shutil.copy(crt, self.cert_path())
        os.chmod(self.cert_path(), 0o644)
        shutil.copy(key, self.key_path())
        os.chmod(self.key_path(), 0o600)

    def test_an_expired_certificate_is_still_served_and_logged_as_an_error(self):
        ca = make_ca(os.path.join(self.work, "ca"))
        now = time.time()
        crt, key = make_leaf(self.work, ca, "expired", not_before=now - 400 * 86400, not_after=now - 35 * 86400)
        self.place_pair(crt, key)
        s = self.start()
        fp = openssl_fingerprint(crt)
        self.assertEqual(s.fingerprint, fp)
        self.assertEqual(served_fingerprint(s.port), fp, "expired, but still served")
        health = json.loads(s.get("/health")[2])
        self.assertEqual(health["state"], "expired")
        self.assertEqual(health["status"], "error")
        self.assertLess(health["days_remaining"], -30)
        values = s.metrics()
        self.assertEqual(values["fcs_certificate_valid"], 0)
        self.assertLess(values["fcs_certificate_expiration_timestamp_seconds"], now)
        self.assertRegex(s.messages(), r"ERROR Certificates/FailoverService\.crt: .*expired")
        self.assertEqual(pem_fingerprint(self.cert_path()), fp, "an expired pair is not archived or regenerated")
        # And an expired certificate is never installed by `replace`.
        code, out, err = self.cli("replace", "--data-dir", self.data(), "--cert", crt, "--key", key)
        self.assertNotEqual(code, 0)
        self.assertIn("expired", err)

    def test_expiry_is_rechecked_while_running(self):
        # Valid for 25 s more: the server starts and answers "expiring" well inside that, even
        # under a sanitizer on a loaded machine; then the test waits for the expiry itself.
        ca = make_ca(os.path.join(self.work, "ca"))
        now = time.time()
        validity = 25
        crt, key = make_leaf(self.work, ca, "short", not_before=now - 86400, not_after=now + validity)
        self.place_pair(crt, key)
        s = self.start(None, "--recheck-interval", "1")
        self.assertRegex(s.messages(), r"WARNING Certificates/FailoverService\.crt: .*expires in 0 days")
        state = json.loads(s.get("/health")[2])["state"]
        self.assertLess(time.time(), now + validity, "the set-up took longer than the certificate's validity")
        self.assertEqual(state, "expiring")
        wait_for(lambda: re.search(r"ERROR Certificates/FailoverService\.crt: .*expired", s.messages()),
                 timeout=max(0, now + validity - time.time()) + 30, what="the periodic re-check to log the expiry")
        self.assertEqual(json.loads(s.get("/health")[2])["state"], "expired")
        self.assertEqual(served_fingerprint(s.port), openssl_fingerprint(crt))


if __name__ == "__main__":
    unittest.main()
