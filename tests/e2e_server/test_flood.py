"""Slow-client flood (issue 5): many connections that never finish the TLS handshake must not
stop the server from serving a normal client. The handshake timeout closes them; the
connection cap bounds them. Reports the normal client's latency during the flood.

Run by ctest with FCS_SERVER set, like test_failover_server.py (whose helpers it uses).
"""

import os
import select
import socket
import statistics
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_failover_server import E2E, https_get, server_side_connections, wait_for  # noqa: E402

# A TLS record header announcing a ClientHello that never arrives in full.
PARTIAL_HELLO = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC])


def latencies(port, n):
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        status, _, _, _ = https_get(port, "/health", timeout=5)
        out.append(time.monotonic() - t0)
        assert status == 200, status
    return out


class SlowClientFlood(E2E):
    def test_a_flood_of_unfinished_handshakes_does_not_stop_a_normal_client(self):
        s = self.start(None, "--max-connections", "512")
        quiet = latencies(s.port, 20)
        flood = []
        for i in range(400):  # half silent, half stuck inside a ClientHello
            c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            if i % 2:
                c.sendall(PARTIAL_HELLO)
            flood.append(c)
        time.sleep(0.5)
        during = latencies(s.port, 40)
        p = lambda xs, q: sorted(xs)[min(len(xs) - 1, int(q * len(xs)))] * 1000
        print(f"flood-figures: normal client /health over a new TLS connection: quiet median "
              f"{statistics.median(quiet) * 1000:.1f} ms; with 400 stalled handshakes median "
              f"{statistics.median(during) * 1000:.1f} ms, p99 {p(during, 0.99):.1f} ms, 0 failures", flush=True)
        # Served throughout, and not starved: well under the 10 s handshake timeout.
        self.assertLess(p(during, 0.99), 2000)
        # The handshake timeout (10 s) closes every stalled connection.
        deadline = time.monotonic() + 15
        open_ones = list(flood)
        while open_ones and time.monotonic() < deadline:
            still = []
            for c in open_ones:
                c.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    if c.recv(64) == b"":
                        c.close()
                        continue
                    still.append(c)  # an alert first; the close follows
                except (ConnectionResetError, BrokenPipeError):
                    c.close()
                except socket.timeout:
                    still.append(c)
            open_ones = still
        self.assertEqual(len(open_ones), 0, f"{len(open_ones)} stalled connections still open after 15 s")
        self.assertEqual(latencies(s.port, 5).__len__(), 5)
        metrics = s.metrics()
        self.assertGreaterEqual(metrics["fcs_tls_handshake_failures_total"], 400)

    def test_a_flood_over_the_cap_is_bounded_and_the_server_recovers(self):
        s = self.start(None, "--max-connections", "64")
        flood = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(200)]
        # Wait for the server to have handled every one of them (kept, or closed at once over
        # the cap), instead of betting on a sleep: 200 - 64 see their connection closed.
        closed, deadline = set(), time.monotonic() + 30
        while len(closed) < 200 - 64 and time.monotonic() < deadline:
            readable, _, _ = select.select([c for c in flood if c not in closed], [], [], 0.5)
            for c in readable:
                try:
                    if c.recv(64) == b"":
                        closed.add(c)
                except (ConnectionResetError, BrokenPipeError):
                    closed.add(c)
        self.assertGreaterEqual(len(closed), 200 - 64, "the connections over the cap were closed at once")
        # The process did not take one descriptor per flood connection beyond the cap.
        fds = len(os.listdir(f"/proc/{s.proc.pid}/fd"))
        self.assertLess(fds, 64 + 40, f"{fds} descriptors open")
        for c in flood:
            c.close()
        # Once the flood is gone, a normal client is served again.
        wait_for(lambda: server_side_connections(s.port) == 0, timeout=30,
                 what="the server to close the flood's connections")
        self.assertEqual(len(latencies(s.port, 5)), 5)


if __name__ == "__main__":
    unittest.main()
