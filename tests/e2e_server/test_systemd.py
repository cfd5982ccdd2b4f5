"""End-to-end tests of fcs-failover-server as a service (issue 14): systemd's notification
protocol against a NOTIFY_SOCKET the test binds (what systemd itself listens on), the unit file
through `systemd-analyze verify`, the /metrics text and the alert rules through Prometheus's own
`promtool`, and the Debian package through `lintian` and `dpkg -x`.

A tool that is missing prints "SKIPPED: why" (ctest reports the test skipped); under CI=true it
fails instead.

Run by ctest (tests/e2e_server/CMakeLists.txt), which sets FCS_SERVER and FCS_SOURCE_DIR:
    FCS_SERVER=... /usr/bin/python3 -B test_systemd.py SystemdNotify -v
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_failover_server import (  # noqa: E402
    E2E, SERVER, https_get, make_ca, make_leaf, openssl_dates, parse_metrics, run, served_fingerprint,
)

CI = os.environ.get("CI") == "true"
SOURCE_DIR = os.environ.get("FCS_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PACKAGING = os.path.join(SOURCE_DIR, "packaging")
VERSION = os.environ.get("FCS_VERSION", "")  # the project's version (CMake)


def need_tool(test, name, package):
    path = shutil.which(name)
    if path:
        return path
    why = f"{name} is not installed (Debian package {package}; bash scripts/fcs.sh setup installs it)"
    if CI:
        test.fail(why + " (CI=true: fails instead of skipping)")
    print(f"SKIPPED: {why}", flush=True)
    test.skipTest(why)


# ---- systemd's notification protocol --------------------------------------------------------

class NotifySocket:
    """What systemd listens on for sd_notify(3): a unix datagram socket (NOTIFY_SOCKET)."""

    def __init__(self, folder):
        self.path = os.path.join(folder, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.received = []  # (monotonic time of arrival, {field: value})

    def close(self):
        self.sock.close()

    @staticmethod
    def parse(datagram):
        fields = {}
        for line in datagram.decode().split("\n"):
            if line:
                k, v = line.split("=", 1)
                fields[k] = v
        return fields

    def next(self, predicate, timeout=30, what="a notification"):
        """Receives until a message satisfies `predicate` (each received message is kept);
        returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                m = self.parse(self.sock.recv(4096))
            except socket.timeout:
                break
            self.received.append((time.monotonic(), m))
            if predicate(m):
                return m
        raise AssertionError(f"timed out waiting for {what}; received: {[m for _, m in self.received]!r}")


STATUS = re.compile(r"serving SHA-256 ([0-9A-F:]{95}), valid, (\d+) days left \(until [0-9TZ:-]+\), "
                    r"on https://127\.0\.0\.1:(\d+)$")


class SystemdNotify(E2E):
    def notified_server(self, *extra, env=None):
        """Starts the server with NOTIFY_SOCKET set, without waiting for its URL (the test
        waits for READY=1 instead); returns (server, socket, thread that waits for the URL)."""
        ns = NotifySocket(self.work)
        self.addCleanup(ns.close)
        e = dict(os.environ, NOTIFY_SOCKET=ns.path, **(env or {}))
        for k in ("WATCHDOG_USEC", "WATCHDOG_PID"):
            if k not in (env or {}):
                e.pop(k, None)
        from test_failover_server import Server
        s = Server(self.data(), self.work, *extra, popen={"env": e})
        self.servers.append(s)
        t = threading.Thread(target=s.start, daemon=True)
        t.start()
        return s, ns, t

    def test_ready_only_when_serving_then_reload_and_stop_in_order(self):
        s, ns, started = self.notified_server()
        ready = ns.next(lambda m: "READY" in m, what="READY=1")
        # At READY=1 the pair is loaded and the socket listens: a TLS request made now, with no
        # retry, is answered with the certificate STATUS= names.
        self.assertEqual(ready["READY"], "1")
        m = STATUS.match(ready.get("STATUS", ""))
        self.assertTrue(m, ready)
        fingerprint, days, port = m.group(1), int(m.group(2)), int(m.group(3))
        status, _, body, served = https_get(port, "/health")
        self.assertEqual(status, 200, body)
        self.assertEqual(served, fingerprint)
        self.assertIn(days, (5478, 5479, 5480))  # 15 years
        self.assertEqual([mm for _, mm in ns.received[:-1] if "READY" in mm], [], "READY=1 once")
        started.join(30)
        self.assertEqual(s.fingerprint, fingerprint)

        # SIGHUP (ExecReload=): RELOADING=1 with MONOTONIC_USEC, then READY=1 again.
        before = time.clock_gettime(time.CLOCK_MONOTONIC)
        s.proc.send_signal(signal.SIGHUP)
        reloading = ns.next(lambda mm: "RELOADING" in mm, what="RELOADING=1")
        self.assertEqual(reloading["RELOADING"], "1")
        usec = int(reloading["MONOTONIC_USEC"])
        self.assertGreaterEqual(usec, int(before * 1e6))
        self.assertLessEqual(usec, int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6))
        self.assertIn("SIGHUP", reloading.get("STATUS", ""))
        again = ns.next(lambda mm: "READY" in mm, what="READY=1 after the reload")
        self.assertTrue(STATUS.match(again.get("STATUS", "")), again)

        # A replacement seen by the folder watch is a reload too: RELOADING=1, then READY=1 with
        # the new fingerprint.
        ca = make_ca(self.work)
        crt, key = make_leaf(self.work, ca, "new")
        code, out, err = self.cli("replace", "--data-dir", self.data(), "--cert", crt, "--key", key)
        self.assertEqual(code, 0, out + err)
        ns.next(lambda mm: "RELOADING" in mm, what="RELOADING=1 after the replacement")
        after = ns.next(lambda mm: "READY" in mm, what="READY=1 after the replacement")
        new_fp = served_fingerprint(port)
        self.assertNotEqual(new_fp, fingerprint)
        self.assertIn("serving SHA-256 " + new_fp, after["STATUS"])

        # SIGTERM: STOPPING=1, then a clean exit.
        s.proc.send_signal(signal.SIGTERM)
        stopping = ns.next(lambda mm: "STOPPING" in mm, what="STOPPING=1")
        self.assertEqual(stopping["STOPPING"], "1")
        self.assertEqual(s.stop(), 0)
        order = [k for _, mm in ns.received for k in ("READY", "RELOADING", "STOPPING") if k in mm]
        self.assertEqual(order, ["READY", "RELOADING", "READY", "RELOADING", "READY", "STOPPING"])

    def test_watchdog_pings_at_half_the_period(self):
        # WATCHDOG_PID must be the server's own: a shell sets it to its pid and execs the server.
        ns = NotifySocket(self.work)
        self.addCleanup(ns.close)
        env = dict(os.environ, NOTIFY_SOCKET=ns.path, WATCHDOG_USEC="500000")
        proc = subprocess.Popen(["/bin/sh", "-c", 'WATCHDOG_PID=$$ exec "$@"', "sh", SERVER, "serve",
                                 "--data-dir", self.data(), "--port", "0", "--threads", "1", "--log", "stderr"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait()))
        ns.next(lambda m: "READY" in m, what="READY=1")
        pings = []
        while len(pings) < 6:
            ns.next(lambda m: "WATCHDOG" in m, timeout=5, what="WATCHDOG=1")
            pings.append(ns.received[-1][0])
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        # Every half of 0.5 s: none early, none as late as systemd's deadline (0.5 s), and on
        # average near 0.25 s (a loaded machine or a sanitizer build delays single pings).
        for g in gaps:
            self.assertGreater(g, 0.15, gaps)
            self.assertLess(g, 0.5, gaps)
        self.assertTrue(0.2 <= sum(gaps) / len(gaps) <= 0.35, gaps)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(30), 0)

    def test_no_watchdog_pings_for_another_pid_or_without_notify_socket(self):
        ns = NotifySocket(self.work)
        self.addCleanup(ns.close)
        env = dict(os.environ, NOTIFY_SOCKET=ns.path, WATCHDOG_USEC="200000", WATCHDOG_PID="1")
        proc = subprocess.Popen([SERVER, "serve", "--data-dir", self.data(), "--port", "0", "--threads", "1",
                                 "--log", "stderr"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait()))
        ns.next(lambda m: "READY" in m, what="READY=1")
        with self.assertRaises(AssertionError):
            ns.next(lambda m: "WATCHDOG" in m, timeout=1.5, what="WATCHDOG=1")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(30), 0)
        ns.next(lambda m: "STOPPING" in m, what="STOPPING=1")

        # Without NOTIFY_SOCKET nothing is sent anywhere and the server runs as before.
        s = self.start(self.data("plain"))
        status, _, body, _ = s.get("/health")
        self.assertEqual(status, 200, body)
        self.assertEqual(s.stop(), 0)


# ---- the unit file ------------------------------------------------------------------------------

UNIT = "fcs-failover-server.service"


class SocketActivation(E2E):
    """Socket activation (LISTEN_FDS): systemd holds the listening socket and passes it; the
    server serves it instead of binding. systemd-socket-activate is systemd's own tool for
    this: it listens, and execs the server on the first connection with the socket as fd 3."""

    def test_the_socket_systemd_passes_is_served(self):
        activate = need_tool(self, "systemd-socket-activate", "systemd")
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        from test_failover_server import Server, openssl_fingerprint, wait_for
        s = Server(self.data(), self.work)
        self.servers.append(s)
        s.stderr = open(s.stderr_path, "w")
        s.proc = subprocess.Popen([activate, "-l", f"127.0.0.1:{port}", SERVER, "serve", "--data-dir", s.data_dir,
                                   "--threads", "2"], stdout=subprocess.PIPE, stderr=s.stderr, text=True)

        def reader():
            for line in s.proc.stdout:
                s.lines.append(line.rstrip("\n"))

        s.reader = threading.Thread(target=reader, daemon=True)
        s.reader.start()
        wait_for(lambda: "Listening on" in open(s.stderr_path).read(), timeout=30,
                 what="systemd-socket-activate to listen")
        # The first connection waits in the socket's backlog while the server starts (it
        # generates its pair first): it is served, on the port systemd bound.
        status, _, body, served = https_get(port, "/health", timeout=60)
        self.assertEqual(status, 200, body)
        self.assertEqual(served, openssl_fingerprint(self.cert_path()))
        wait_for(lambda: f"listening on https://127.0.0.1:{port}" in s.lines, timeout=30,
                 what="the server to name the passed socket's address")
        # Every I/O thread accepts from it: many connections, all served.
        for _ in range(10):
            self.assertEqual(https_get(port, "/health", timeout=30)[0], 200)
        self.assertEqual(s.stop(), 0)

    def test_a_passed_descriptor_that_is_not_a_listening_socket_is_refused(self):
        # fd 3 is /dev/null; LISTEN_PID is the server's own pid (the shell execs it).
        r = subprocess.run(["sh", "-c", 'exec 3</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" serve --data-dir "$1"',
                            SERVER, self.data()], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("descriptor 3: adopt the listening socket: not a listening socket", r.stderr)


def unit_root(test, work):
    """A throwaway root for systemd-analyze --root: the host's units (what the unit pulls in:
    sysinit.target, network-online.target...), /bin/kill and the server at /usr/bin, the unit,
    the sysusers.d file. Debian's merged /usr: /bin and /lib are links into /usr."""
    units = next((d for d in ("/usr/lib/systemd/system", "/lib/systemd/system")
                  if os.path.isfile(os.path.join(d, "sysinit.target"))), None)
    if units is None:
        why = "no systemd units on this machine (Debian package systemd)"
        if CI:
            test.fail(why + " (CI=true: fails instead of skipping)")
        print(f"SKIPPED: {why}", flush=True)
        test.skipTest(why)
    root = os.path.join(work, "root")
    os.makedirs(os.path.join(root, "usr/lib/systemd"))
    os.makedirs(os.path.join(root, "usr/bin"))
    os.makedirs(os.path.join(root, "usr/lib/sysusers.d"))
    os.makedirs(os.path.join(root, "etc"))
    os.symlink("usr/lib", os.path.join(root, "lib"))
    os.symlink("usr/bin", os.path.join(root, "bin"))
    shutil.copytree(units, os.path.join(root, "usr/lib/systemd/system"), symlinks=True)
    shutil.copy2(shutil.which("kill") or "/bin/kill", os.path.join(root, "usr/bin/kill"))
    shutil.copy2(SERVER, os.path.join(root, "usr/bin/fcs-failover-server"))
    shutil.copy2(os.path.join(PACKAGING, UNIT), os.path.join(root, "usr/lib/systemd/system", UNIT))
    shutil.copy2(os.path.join(PACKAGING, "fcs-failover-server.sysusers"),
                 os.path.join(root, "usr/lib/sysusers.d/fcs-failover-server.conf"))
    return root


class SystemdUnit(E2E):
    def analyze(self, root, *args):
        return run([self.tool, *args, f"--root={root}", os.path.join(root, "usr/lib/systemd/system", UNIT)],
                   timeout=120)

    def test_verify_accepts_the_unit_and_reports_a_broken_one(self):
        self.tool = need_tool(self, "systemd-analyze", "systemd")
        root = unit_root(self, self.work)
        code, out, err = self.analyze(root, "verify")
        # systemd-analyze exits 0 on many findings (an unknown value is "ignoring"): any output
        # is a finding.
        self.assertEqual((code, out + err), (0, ""))

        unit = os.path.join(root, "usr/lib/systemd/system", UNIT)
        with open(unit) as f:
            text = f.read()
        for broken, expect in ((text.replace("Type=notify", "Type=notifyy"), "notifyy"),
                               (text.replace("ProtectSystem=strict", "ProtectSystem=stricter"), "stricter"),
                               (text.replace("ExecStart=/usr/bin/fcs-failover-server", "ExecStart=/usr/bin/fcs-nothing"),
                                "fcs-nothing")):
            with open(unit, "w") as f:
                f.write(broken)
            code, out, err = self.analyze(root, "verify")
            self.assertIn(expect, out + err, "the check must see a broken unit")
        with open(unit, "w") as f:
            f.write(text)

    def test_security_exposure_is_low(self):
        self.tool = need_tool(self, "systemd-analyze", "systemd")
        root = unit_root(self, self.work)
        code, out, err = self.analyze(root, "security", "--offline=true")
        m = re.search(r"Overall exposure level for " + re.escape(UNIT) + r": (\d+\.\d+) (\w+)", out + err)
        self.assertTrue(m, out + err)
        print(f"systemd-analyze security: exposure {m.group(1)} {m.group(2)}", flush=True)
        for line in (out + err).splitlines():
            if line.startswith("\u2717"):
                print("  " + re.sub(r"\s{2,}", "  ", line.strip()), flush=True)
        self.assertLessEqual(float(m.group(1)), 2.0, out)
        for setting in ("NoNewPrivileges=", "ProtectSystem=", "PrivateTmp=", "ProtectHome=",
                        "CapabilityBoundingSet=~CAP_SYS_ADMIN", "SystemCallFilter=~@mount"):
            self.assertRegex(out, r"\u2713 " + re.escape(setting), setting)

    def test_sysusers_makes_the_service_user(self):
        tool = need_tool(self, "systemd-sysusers", "systemd")
        root = unit_root(self, self.work)
        code, out, err = run([tool, f"--root={root}", os.path.join(root, "usr/lib/sysusers.d/fcs-failover-server.conf")])
        self.assertEqual(code, 0, out + err)
        with open(os.path.join(root, "etc/passwd")) as f:
            users = [l.split(":") for l in f.read().splitlines()]
        fcs = [u for u in users if u[0] == "fcs"]
        self.assertEqual(len(fcs), 1, users)
        name, _, uid, gid, gecos, home, shell = fcs[0]
        self.assertLess(int(uid), 1000, "a system user")
        self.assertEqual((gecos, home, shell), ("fcs failover HTTPS server", "/var/lib/fcs", "/usr/sbin/nologin"))
        with open(os.path.join(PACKAGING, UNIT)) as f:
            unit = f.read()
        self.assertRegex(unit, r"(?m)^User=fcs$")
        self.assertRegex(unit, r"(?m)^StateDirectory=fcs$")
        self.assertIn("--data-dir /var/lib/fcs ", unit)


# ---- Prometheus -------------------------------------------------------------------------------

class PrometheusTools(E2E):
    def test_promtool_accepts_the_served_metrics(self):
        promtool = need_tool(self, "promtool", "prometheus")
        s = self.start()
        status, headers, text, _ = s.get("/metrics")
        self.assertEqual(status, 200, text)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"), headers)
        code, out, err = run([promtool, "check", "metrics"], input=text)
        self.assertEqual((code, out + err), (0, ""), text)

        # HELP and TYPE on every family, and a sample for every TYPE.
        values, types = parse_metrics(text)
        self.assertEqual(set(types), set(values))
        self.assertIn(f'fcs_build_info{{version="{VERSION}"}} 1\n', text)
        self.assertTrue(VERSION, "FCS_VERSION is set by ctest")
        self.assertEqual(types["fcs_build_info"], "gauge")
        _, not_after = openssl_dates(self.cert_path())
        self.assertEqual(values["fcs_certificate_expiration_timestamp_seconds"], not_after)
        self.assertEqual(types["fcs_certificate_expiration_timestamp_seconds"], "gauge")
        for counter in ("fcs_certificate_reloads_total", "fcs_certificate_reload_failures_total",
                        "fcs_tls_handshakes_total", "fcs_tls_handshake_failures_total"):
            self.assertEqual(types[counter], "counter")

        # The check is real: the same text with one HELP line left out is reported.
        broken = re.sub(r"# HELP fcs_build_info [^\n]*\n", "", text)
        code, out, err = run([promtool, "check", "metrics"], input=broken)
        self.assertIn("fcs_build_info", out + err)
        self.assertIn("no help text", out + err)
        self.assertEqual(s.stop(), 0)

    def test_promtool_accepts_the_alert_rules_and_they_fire_as_meant(self):
        promtool = need_tool(self, "promtool", "prometheus")
        rules = os.path.join(PACKAGING, "fcs-alerts.yml")
        code, out, err = run([promtool, "check", "rules", rules])
        self.assertEqual(code, 0, out + err)
        self.assertIn("SUCCESS: 4 rules found", out + err)
        # tests/e2e_server/fcs-alerts.test.yml: expiring in 20 days, expired, reload failures,
        # down; each alert fires for its server only, and only when meant.
        tests = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fcs-alerts.test.yml")
        code, out, err = run([promtool, "test", "rules", tests], timeout=120)
        self.assertEqual(code, 0, out + err)
        self.assertIn("SUCCESS", out + err)


# ---- the Debian package -----------------------------------------------------------------------

class DebianPackage(E2E):
    """The packages `bash scripts/fcs.sh package` builds with CPack (FCS_DEB_DIR): lintian, their
    contents, and the server installed into a throwaway root with `dpkg -x` and run from there."""

    def debs(self):
        d = os.environ.get("FCS_DEB_DIR", "")
        found = {}
        if d and os.path.isdir(d):
            for f in os.listdir(d):
                m = re.fullmatch(r"(fcs-failover-server|fcs-dev)_[^_]+_(amd64|all|[a-z0-9]+)\.deb", f)
                if m:
                    found[m.group(1)] = os.path.join(d, f)
        if set(found) != {"fcs-failover-server", "fcs-dev"}:
            why = f"no fcs-failover-server and fcs-dev packages in FCS_DEB_DIR={d!r} (bash scripts/fcs.sh package builds them)"
            if CI:
                self.fail(why + " (CI=true: fails instead of skipping)")
            print(f"SKIPPED: {why}", flush=True)
            self.skipTest(why)
        return found

    def test_lintian_finds_no_errors(self):
        debs = self.debs()
        lintian = need_tool(self, "lintian", "lintian")
        code, out, err = run([lintian, "--no-tag-display-limit", "--allow-root", *debs.values()], timeout=600)
        tags = [l for l in (out + err).splitlines() if re.match(r"[EWIXPO]: ", l)]
        for l in tags:
            print("lintian: " + l, flush=True)
        self.assertEqual([l for l in tags if l.startswith("E: ")], [], out + err)
        self.assertNotIn(code, (2,), "lintian could not run: " + out + err)

    def test_contents_and_the_installed_server_serves(self):
        debs = self.debs()
        root = os.path.join(self.work, "root")
        for deb in debs.values():
            code, out, err = run(["dpkg-deb", "-x", deb, root], timeout=120)
            self.assertEqual(code, 0, out + err)
        code, info, err = run(["dpkg-deb", "-f", debs["fcs-failover-server"], "Package", "Depends", "Architecture"])
        self.assertEqual(code, 0, err)
        self.assertIn("Package: fcs-failover-server", info)
        for dep in ("libsystemd0", "libacl1", "libstdc++6", "systemd"):
            self.assertIn(dep, info)
        code, info, err = run(["dpkg-deb", "-f", debs["fcs-dev"], "Architecture"])
        self.assertEqual(info.strip(), "all")

        def mode(rel):
            st = os.lstat(os.path.join(root, rel))
            return oct(st.st_mode & 0o7777)
        for prog in ("fcs-failover-server", "fcs-switchover", "fcs-adapter-check"):
            self.assertEqual(mode(f"usr/bin/{prog}"), "0o755", prog)
        for f in ("usr/lib/systemd/system/fcs-failover-server.service", "usr/lib/sysusers.d/fcs-failover-server.conf",
                  "usr/share/doc/fcs-failover-server/copyright", "usr/share/doc/fcs-dev/copyright",
                  "usr/include/fcs/fcs.hpp", "usr/include/fcs/systemd/notify.hpp",
                  "usr/lib/cmake/fcs/fcsConfig.cmake", "usr/lib/cmake/fcs/fcsTargets.cmake"):
            self.assertEqual(mode(f), "0o644", f)
        with open(os.path.join(PACKAGING, UNIT)) as a, \
                open(os.path.join(root, "usr/lib/systemd/system", UNIT)) as b:
            self.assertEqual(a.read(), b.read())
        code, out, err = run(["sh", "-n", os.path.join(PACKAGING, "debian", "postinst")])
        self.assertEqual(code, 0, err)

        # The installed program, run from the throwaway root the way the unit runs it (as a
        # system user when the test can switch users), on a data folder made as postinst makes
        # /var/lib/fcs (0750, the user's).
        import test_failover_server as tfs
        installed = os.path.join(root, "usr/bin/fcs-failover-server")
        popen, owner = None, os.geteuid()
        if os.geteuid() == 0:
            import pwd
            nobody = pwd.getpwnam("nobody")
            owner = nobody.pw_uid
            popen = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
            os.chmod(self.work, 0o755)
        data = self.data("var-lib-fcs")
        os.mkdir(data, 0o750)
        os.chown(data, owner, -1)
        saved, tfs.SERVER = tfs.SERVER, installed
        try:
            s = self.start(data, "--log", "stderr", popen=popen)
        finally:
            tfs.SERVER = saved
        status, _, body, served = s.get("/health")
        self.assertEqual(status, 200, body)
        self.assertIn('"status":"ok"', body.replace(" ", ""))
        self.assertEqual(served, s.fingerprint)
        expect = {"Certificates": 0o755, "Certificates/Keys": 0o700,
                  "Certificates/FailoverService.crt": 0o644, "Certificates/Keys/FailoverService.key": 0o600}
        for rel, m in expect.items():
            st = os.lstat(os.path.join(data, rel))
            self.assertEqual((oct(st.st_mode & 0o7777), st.st_uid), (oct(m), owner), rel)
        p = subprocess.run([installed, "status", "--data-dir", data], capture_output=True, text=True,
                           timeout=30, **(popen or {}))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(s.fingerprint, p.stdout)
        self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    unittest.main()
