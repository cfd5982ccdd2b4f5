"""End-to-end tests of how fcs-failover-server and fcs-switchover fit the services around them
(issue 14): where messages go (--log), and the exit status of `status` for monitoring checks.

The syslog and journal tests stand in for the daemons: they bind the very sockets syslog(3)
(/dev/log) and libsystemd (/run/systemd/journal/socket) send to, where none exists (a container
without a syslog daemon or systemd), and read what a real daemon would receive. Where a daemon
owns the socket, or it cannot be made, they print "SKIPPED: why" (ctest reports them skipped);
under CI=true they fail instead.

Run by ctest (tests/e2e_server/CMakeLists.txt), which sets FCS_SERVER and FCS_SWITCHOVER:
    FCS_SERVER=... FCS_SWITCHOVER=... /usr/bin/python3 -B test_operations.py LogToJournal -v
"""

import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_failover_server import (  # noqa: E402
    E2E, SERVER, SWITCHOVER, make_ca, make_leaf, openssl_fingerprint, read_file, run, wait_for,
)

CI = os.environ.get("CI") == "true"
LOG_DAEMON = 3 << 3
LOG_ERR, LOG_WARNING, LOG_INFO = 3, 4, 6
DEV_LOG = "/dev/log"
JOURNAL_SOCKET = "/run/systemd/journal/socket"


# ---- a stand-in for syslogd / journald -------------------------------------------------------

def why_not_bindable(path):
    if os.path.lexists(path):
        return f"{path} exists (a running syslog daemon or journald owns it)"
    d = os.path.dirname(path)
    while not os.path.exists(d):
        d = os.path.dirname(d)
    if not os.access(d, os.W_OK):
        return f"cannot create {path} ({d} is not writable; run as root)"
    return ""


class Receiver:
    """A unix datagram socket bound at `path` (with the folders it needed), removed on close."""

    def __init__(self, test, path):
        why = why_not_bindable(path)
        if why:
            if CI:
                test.fail(why + " (CI=true: fails instead of skipping)")
            print(f"SKIPPED: {why}", flush=True)
            test.skipTest(why)
        self.path, self.made = path, []
        d = os.path.dirname(path)
        while not os.path.exists(d):
            self.made.insert(0, d)
            d = os.path.dirname(d)
        for d in self.made:
            os.mkdir(d, 0o755)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.inode = os.lstat(path).st_ino
        self.received = []

    def close(self):
        try:
            if os.lstat(self.path).st_ino == self.inode:
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.sock.close()
        for d in reversed(self.made):
            try:
                os.rmdir(d)
            except OSError:
                pass

    def wait_for(self, predicate, parse, timeout=30, what="a message"):
        """Receives until a parsed datagram satisfies `predicate`; returns it."""
        deadline = time.monotonic() + timeout
        for d in self.received:
            if predicate(d):
                return d
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                d = parse(self.sock.recv(65536))
            except socket.timeout:
                break
            self.received.append(d)
            if predicate(d):
                return d
        raise AssertionError(f"timed out waiting for {what}; received:\n" +
                             "\n".join(repr(d) for d in self.received[-20:]))


def parse_syslog(datagram):
    """glibc's "<PRI>Mmm dd hh:mm:ss IDENT[PID]: MESSAGE" as (priority, ident, pid, message)."""
    text = datagram.decode()
    m = re.fullmatch(r"<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ([^\[ ]+)\[(\d+)\]: (.*)", text, re.S)
    assert m, f"not a syslog line: {text!r}"
    return int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)


def parse_journal(datagram):
    """systemd's native journal protocol: KEY=VALUE\\n, or KEY\\n + 64-bit LE length + VALUE\\n."""
    fields, d = {}, datagram
    while d:
        nl = d.index(b"\n")
        line = d[:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            d = d[nl + 1:]
        else:
            (n,) = struct.unpack("<Q", d[nl + 1:nl + 9])
            k, v = line, d[nl + 9:nl + 9 + n]
            assert d[nl + 9 + n:nl + 10 + n] == b"\n", "a binary field of a wrong length"
            d = d[nl + 10 + n:]
        assert k.decode() not in fields, f"{k!r} twice"
        fields[k.decode()] = v.decode()
    return fields


# ---- --log ----------------------------------------------------------------------------------

class LogToStderr(E2E):
    def test_messages_go_to_stderr_and_no_log_folder_is_made(self):
        s = self.start(None, "--log", "stderr")
        self.assertIn("(messages to stderr)", "\n".join(s.lines))
        self.assertEqual(s.stop(), 0)
        err = read_file(s.stderr_path)
        self.assertRegex(err, r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO Certificates/FailoverService\.crt: "
                              r"generated a new self-signed certificate .*SHA-256 " + re.escape(s.fingerprint))
        self.assertRegex(err, r"INFO listening on https://127\.0\.0\.1:\d+ ")
        self.assertRegex(err, r"INFO stopped\n")
        self.assertFalse(os.path.exists(os.path.join(self.data(), "Logs")), "--log stderr writes no file")

    def test_an_unknown_sink_is_a_usage_error(self):
        for cmd in ("serve", "replace"):
            code, out, err = self.cli(cmd, "--data-dir", self.data(), "--log", "mail")
            self.assertEqual(code, 2, err)
            self.assertIn("--log mail: expected file, journal, syslog or stderr", err)
        self.assertFalse(os.path.exists(self.data()))


class LogToSyslog(E2E):
    def test_messages_reach_syslog_with_the_daemon_facility_and_the_program_name(self):
        rx = Receiver(self, DEV_LOG)
        self.addCleanup(rx.close)
        s = self.start(None, "--log", "syslog")
        pri, ident, pid, msg = rx.wait_for(lambda d: "generated a new self-signed" in d[3], parse_syslog,
                                           what="the generation message")
        self.assertEqual(pri, LOG_DAEMON | LOG_INFO)
        self.assertEqual((ident, pid), ("fcs-failover-server", s.proc.pid))
        self.assertIn("SHA-256 " + s.fingerprint, msg)
        rx.wait_for(lambda d: d[3].startswith("listening on https://127.0.0.1:"), parse_syslog,
                    what="the listening message")
        self.assertEqual(s.stop(), 0)
        rx.wait_for(lambda d: d[3] == "stopped", parse_syslog, what="the stop message")
        self.assertFalse(os.path.exists(os.path.join(self.data(), "Logs")), "--log syslog writes no file")


class LogToJournal(E2E):
    def test_entries_carry_the_event_the_certificate_name_and_the_fingerprint(self):
        rx = Receiver(self, JOURNAL_SOCKET)
        self.addCleanup(rx.close)
        s = self.start(None, "--log", "journal")
        self.assertIn("(messages to the journal (SYSLOG_IDENTIFIER=fcs-failover-server))", "\n".join(s.lines))
        e = rx.wait_for(lambda f: f.get("FCS_EVENT") == "generated", parse_journal, what="FCS_EVENT=generated")
        self.assertEqual(e["FCS_CERT_NAME"], "FailoverService")
        self.assertEqual(e["FCS_FINGERPRINT"], s.fingerprint)
        self.assertEqual(e["PRIORITY"], str(LOG_INFO))
        self.assertEqual(e["SYSLOG_IDENTIFIER"], "fcs-failover-server")
        self.assertEqual(e["SYSLOG_FACILITY"], "3")
        self.assertIn("generated a new self-signed certificate", e["MESSAGE"])
        rx.wait_for(lambda f: f.get("MESSAGE", "").startswith("listening on https://"), parse_journal,
                    what="the listening message")

        # A replacement by `replace --log journal` (event installed, from that process), then the
        # running server's reload of it (event reloaded), both with the new fingerprint; the
        # certificate expires within 30 days, which both report as a warning (event expiring).
        crt, key = os.path.join(self.work, "new.crt"), os.path.join(self.work, "new.key")
        code, _, err = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-keyout", key, "-out", crt, "-days", "10", "-subj", "/CN=journal.example"])
        self.assertEqual(code, 0, err)
        new_fp = openssl_fingerprint(crt)
        code, out, err = self.cli("replace", "--data-dir", self.data(), "--cert", crt, "--key", key,
                                  "--log", "journal")
        self.assertEqual(code, 0, out + err)
        installed = rx.wait_for(lambda f: f.get("FCS_EVENT") == "installed", parse_journal,
                                what="FCS_EVENT=installed")
        self.assertEqual(installed["FCS_FINGERPRINT"], new_fp)
        reloaded = rx.wait_for(lambda f: f.get("FCS_EVENT") == "reloaded", parse_journal,
                               what="FCS_EVENT=reloaded")
        self.assertEqual(reloaded["FCS_FINGERPRINT"], new_fp)
        expiring = rx.wait_for(lambda f: f.get("FCS_EVENT") == "expiring", parse_journal,
                               what="FCS_EVENT=expiring")
        self.assertEqual((expiring["PRIORITY"], expiring["FCS_FINGERPRINT"]), (str(LOG_WARNING), new_fp))
        self.assertFalse(os.path.exists(os.path.join(self.data(), "Logs")), "--log journal writes no file")
        for f in rx.received:
            self.assertNotIn("PRIVATE KEY", f.get("MESSAGE", ""))


# ---- status exit codes ------------------------------------------------------------------------

# Re-signs the pair's own key into a self-signed CA certificate with the given dates (an expired
# one, which no command installs), in the format of the layout it goes into.
RESIGN = r"""
import datetime, sys
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
key_file, cert_file, fmt, start, end = sys.argv[1:6]
data = open(key_file, "rb").read()
key = (serialization.load_pem_private_key(data, None) if fmt == "pem"
       else serialization.load_der_private_key(data, None))
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired.example")])
t = lambda s: datetime.datetime.fromtimestamp(int(s), datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(t(start)).not_valid_after(t(end))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("expired.example")]), critical=False)
        .sign(key, hashes.SHA256()))
enc = serialization.Encoding.PEM if fmt == "pem" else serialization.Encoding.DER
open(cert_file, "wb").write(cert.public_bytes(enc))
"""

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-cryptography


class MonitoringExitCodes(E2E):
    """`status` exits 0 valid, 1 expires within 30 days, 2 expired or no usable certificate; the
    --json document is the same either way."""

    def switchover(self):
        if not SWITCHOVER or not os.access(SWITCHOVER, os.X_OK):
            print(f"SKIPPED: fcs-switchover is not built here ({SWITCHOVER!r})", flush=True)
            self.skipTest("fcs-switchover is not built here")
        return SWITCHOVER

    def resign_expired(self, key_file, cert_file, fmt):
        now = time.time()
        code, out, err = run([SYSTEM_PYTHON, "-c", RESIGN, key_file, cert_file, fmt,
                              str(int(now - 400 * 86400)), str(int(now - 5 * 86400))])
        self.assertEqual(code, 0, out + err)

    def short_pair(self, days, ca):
        d = os.path.join(self.work, f"pair-{days}")
        os.makedirs(d)
        crt, key = os.path.join(d, "p.crt"), os.path.join(d, "p.key")
        ext = ["-addext", "basicConstraints=critical,CA:TRUE",
               "-addext", "keyUsage=critical,digitalSignature,keyCertSign,cRLSign"] if ca else []
        code, _, err = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-keyout", key, "-out", crt, "-days", str(days), "-subj", "/CN=short.example",
                            "-addext", "subjectAltName=DNS:short.example", *ext])
        self.assertEqual(code, 0, err)
        return crt, key

    def status_both_ways(self, cmd, expect_code, expect_state):
        """Runs `status` and `status --json`: the same exit status, the state in the document."""
        code, out, err = run(cmd, timeout=60)
        self.assertEqual(code, expect_code, f"{cmd}: {out}{err}")
        self.assertIn(expect_state, out)
        code, out, err = run(cmd + ["--json"], timeout=60)
        self.assertEqual(code, expect_code, f"{cmd} --json: {out}{err}")
        doc = json.loads(out)
        self.assertEqual(doc["state"], expect_state)
        self.assertEqual(doc["schema"], 1)
        return doc

    def test_the_server_status_is_0_valid_1_expiring_2_expired_or_missing(self):
        data = self.data()
        status = [SERVER, "status", "--data-dir", data]
        code, out, err = run(status)
        self.assertEqual(code, 2, "no data folder: " + err)
        s = self.start()
        self.assertEqual(s.stop(), 0)
        self.assertEqual(self.status_both_ways(status, 0, "valid")["sha256_fingerprint"], s.fingerprint)

        crt, key = self.short_pair(10, ca=False)
        code, out, err = self.cli("replace", "--data-dir", data, "--cert", crt, "--key", key)
        self.assertEqual(code, 0, out + err)
        doc = self.status_both_ways(status, 1, "expiring")
        self.assertIn(doc["days_remaining"], (9, 10))
        self.assertEqual(doc["sha256_fingerprint"], openssl_fingerprint(crt))

        self.resign_expired(self.key_path(), self.cert_path(), "pem")
        doc = self.status_both_ways(status, 2, "expired")
        self.assertLess(doc["days_remaining"], 0)

        # A pair that cannot be used at all (a certificate that does not parse): critical.
        with open(self.cert_path(), "w") as f:
            f.write("not a certificate\n")
        code, out, err = run(status)
        self.assertEqual(code, 2, out + err)
        self.assertIn("no usable certificate", err)

    def test_the_switchover_status_is_0_valid_1_expiring_2_expired_or_missing(self):
        switchover = self.switchover()
        data = self.data()
        status = [switchover, "status", "--data-dir", data]
        code, out, err = run(status, timeout=60)
        self.assertEqual(code, 2, "no pair: " + out + err)
        self.assertIn("no certificate pair", err)
        code, out, err = run([switchover, "init", "--data-dir", data], timeout=60)
        self.assertEqual(code, 0, out + err)
        self.status_both_ways(status, 0, "valid")

        crt, key = self.short_pair(10, ca=True)
        code, out, err = run([switchover, "import", "--data-dir", data, "--cert", crt, "--key", key], timeout=60)
        self.assertEqual(code, 0, out + err)
        doc = self.status_both_ways(status, 1, "expiring")
        self.assertEqual(doc["sha256_fingerprint"], openssl_fingerprint(crt))

        group = os.path.join(data, "Certificates", "ServerGroup")
        self.resign_expired(os.path.join(group, "ServerGroupPrivateKey.bin"),
                            os.path.join(group, "ServerGroupCertificate.cer"), "der")
        self.status_both_ways(status, 2, "expired")


if __name__ == "__main__":
    unittest.main()
