"""Daemon level: -t/-V, bind failure, connection limits, SIGTERM during a
transaction, IPv6, several workers, a backend that comes up late, a client that
vanishes in the middle of DATA."""

import os
import re
import signal
import socket
import subprocess
import threading
import time

import tap
from fakebackend import FakeBackend
from sluicetest import (HOST, REPLY_TIMEOUT, Client, SluiceTestCase, SmtpError, split_received,
                        write_config)

CONTENT = b"Subject: daemon\r\n\r\nbody line 1\r\nbody line 2\r\n"
SRCDIR = os.environ.get("SRCDIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def sluiced_binary():
    """The binary under test; a missing one fails the test (never skips)."""
    binary = os.environ.get("SLUICED")
    if not binary:
        raise AssertionError("SLUICED is not set: it must name the sluiced binary to test")
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise AssertionError("SLUICED=%s is not an executable file" % binary)
    return binary


def run_sluiced(*args, timeout=15):
    """Run sluiced ARGS to completion: (status, stdout, stderr) as text."""
    p = subprocess.run([sluiced_binary()] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


class AddrClient(Client):
    """Client connecting to HOST:port from an optional source address."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=REPLY_TIMEOUT):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local_port = self.sock.getsockname()[1]
        self.buf = bytearray()
        self.eof = False
        self.received = bytearray()
        self.transcript = []


class FakeBackendOn(FakeBackend):
    """A FakeBackend on a given port of 127.0.0.1 (FakeBackend always picks a free one)."""

    def __init__(self, port, **knobs):
        self.knobs = knobs
        self.per_conn = {}
        self.connections = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind(("127.0.0.1", port))
        self._lsock.listen(64)
        self._lsock.settimeout(0.2)
        self.port = port
        self.addr = "127.0.0.1:%d" % port
        self._accepter = threading.Thread(target=self._accept_loop, daemon=True,
                                          name="fakebackend-%d" % port)
        self._accepter.start()


def envelope(c, rcpt="bob@example.com"):
    c.line("MAIL FROM:<alice@example.org>")
    c.expect(250)
    c.line("RCPT TO:<%s>" % rcpt)
    c.expect(250)
    c.line("DATA")
    c.expect("354")


# ---------------------------------------------------------------- -t, -V
class TestCommandLine(SluiceTestCase):
    def test_check_valid_config(self):
        path = write_config(self.tmp, backend="127.0.0.1:25")
        status, out, err = run_sluiced("-t", "-c", path)
        self.assertEqual(status, 0, out + err)
        self.assertIn("configuration OK", out + err)
        self.assertNotRegex(out + err, re.escape(path) + r":\d+:")

    def test_check_reports_every_error(self):
        path = os.path.join(self.tmp, "bad.conf")
        with open(path, "w") as f:
            f.write("[sluice]\n"                          # 1
                    "listen = 127.0.0.1:2525\n"           # 2
                    "frobnicate = yes\n"                  # 3 unknown key
                    "hostname = sluice.test\n"            # 4
                    "max_connections = lots\n"            # 5 bad value
                    "backend = 127.0.0.1:25\n")           # 6
        status, out, err = run_sluiced("-t", "-c", path)
        text = out + err
        self.assertEqual(status, 1, text)
        problems = [l for l in text.splitlines() if l.startswith(path + ":")]
        self.assertEqual(len(problems), 2, text)
        self.assertTrue(problems[0].startswith(path + ":3: "), text)
        self.assertIn("frobnicate", problems[0])
        self.assertTrue(problems[1].startswith(path + ":5: "), text)
        self.assertIn("max_connections", problems[1])
        self.assertNotIn("configuration OK", text)

    def test_version(self):
        status, out, err = run_sluiced("-V")
        self.assertEqual(status, 0, out + err)
        version = None
        try:
            with open(os.path.join(SRCDIR, "configure.ac")) as f:
                m = re.search(r"AC_INIT\(\[[^\]]*\],\s*\[([^\]]+)\]", f.read())
                version = m.group(1) if m else None
        except OSError:
            pass
        if version:
            self.assertEqual(out, "sluiced %s\n" % version)
        else:
            self.assertRegex(out, r"\Asluiced \d+\.\d+(\.\d+)?\S*\n\Z")

    def test_missing_config_file(self):
        self.assertFalse(os.path.exists("/nonexistent"))
        status, out, err = run_sluiced("-c", "/nonexistent", "-t")
        self.assertNotEqual(status, 0, out + err)
        self.assertIn("/nonexistent", out + err)
        self.assertNotIn("configuration OK", out + err)

    def test_shipped_config_passes_check(self):
        path = os.path.join(SRCDIR, "etc", "sluice.conf")
        self.assertTrue(os.path.isfile(path), "no shipped configuration at %s" % path)
        status, out, err = run_sluiced("-t", "-c", path)
        self.assertEqual(status, 0, out + err)
        self.assertIn("configuration OK", out)


# ---------------------------------------------------------------- listening
class TestListen(SluiceTestCase):
    def test_bind_failure_exits_nonzero(self):
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)   # no SO_REUSEPORT
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        path = write_config(self.tmp, listen=port, backend="127.0.0.1:25")
        log = os.path.join(self.tmp, "sluiced.log")
        with open(log, "wb") as logf:
            proc = subprocess.Popen([sluiced_binary(), "-f", "-c", path], stdin=subprocess.DEVNULL,
                                    stdout=logf, stderr=subprocess.STDOUT, cwd=self.tmp)
            try:
                status = proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
                status = None
        with open(log, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        self.assertIsNotNone(status, "sluiced kept running although it cannot bind; log:\n" + text)
        self.assertNotEqual(status, 0, text)
        self.assertRegex(text, r"(?m)^.* error .*127\.0\.0\.1:%d\b" % port)

    def test_ipv6_listener(self):
        sluiced_binary()                   # a missing binary fails, even without ::1
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            probe.bind(("::1", 0))
        except OSError as e:
            self.skipTest("::1 not configured: %s" % e)
        finally:
            probe.close()
        fb = self.backend()
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        port = s.getsockname()[1]
        s.close()
        d = self.start(fb, listen="[::1]:%d" % port)
        self.assertEqual(d.port, port)
        c = AddrClient(port, host="::1")
        self.clients.append(c)
        c.greeting()
        c.ehlo()
        envelope(c)
        c.send(CONTENT + b".\r\n")
        msg = fb.wait_messages(1)[0]
        c.expect("250 2.0.0 Ok: queued as %s" % msg.qid)
        self.assertIn(b"[IPv6:::1]", msg.raw.split(b"\r\n\tby ")[0])
        header, rest = split_received(msg.raw, rcpt="bob@example.com", addr="IPv6:::1")
        self.assertEqual(rest, CONTENT)
        conn = fb.wait_relayed()
        self.assertEqual(len(conn.xclient), 1, conn.commands)
        self.assertEqual(conn.xclient[0].get("ADDR"), "IPV6:::1", conn.commands)
        self.assertEqual(conn.xclient[0].get("PORT"), str(c.local_port))
        c.line("QUIT")
        c.expect("221 2.0.0")


# ---------------------------------------------------------------- connection limits
class TestConnectionLimits(SluiceTestCase):
    def test_max_connections(self):
        self.start(max_connections=2)
        c1 = self.client()
        c2 = self.client()
        c1.ehlo()
        c2.ehlo()
        c3 = self.client(greet=False)
        lines = c3.expect("421 4.7.0")
        self.assertEqual(lines, ["421 4.7.0 %s Error: too many connections" % HOST])
        self.assertTrue(c3.closed(3))
        c1.line("QUIT")
        c1.expect("221 2.0.0")
        self.assertTrue(c1.closed(3))
        # the slot is free once the server has closed: allow it a moment, bounded
        deadline = time.monotonic() + 2
        while True:
            c4 = self.client(greet=False)
            code, lines = c4.reply()
            if code == 220 or time.monotonic() > deadline:
                break
            c4.close()
            time.sleep(0.1)
        self.assertEqual(lines, ["220 %s ESMTP sluice" % HOST])
        c4.ehlo()
        c2.line("NOOP")                    # the other session is unaffected
        c2.expect("250 2.0.0")

    def test_max_connections_per_ip(self):
        fb = self.backend()
        self.start(fb, max_connections=10, max_connections_per_ip=1,
                   listen="0.0.0.0:%d" % self._free_any_port())
        c1 = self.client()
        c1.ehlo()
        c2 = self.client(greet=False)
        lines = c2.expect("421 4.7.0")
        self.assertEqual(lines, ["421 4.7.0 %s Error: too many connections from 127.0.0.1" % HOST])
        self.assertTrue(c2.closed(3))
        # another client address (127.0.0.2 on the loopback) is its own count
        c3 = AddrClient(self.daemon.port, host="127.0.0.1", source="127.0.0.2")
        self.clients.append(c3)
        c3.greeting()
        c3.ehlo()
        envelope(c3)
        c3.send(CONTENT + b".\r\n")
        c3.expect("250 2.0.0 Ok: queued as")
        conn = fb.wait_relayed()
        self.assertEqual(conn.xclient[0].get("ADDR"), "127.0.0.2")
        c1.line("NOOP")
        c1.expect("250 2.0.0")

    @staticmethod
    def _free_any_port():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("0.0.0.0", 0))
        port = s.getsockname()[1]
        s.close()
        return port


# ---------------------------------------------------------------- SIGTERM
class TestShutdown(SluiceTestCase):
    def test_sigterm_lets_transaction_finish(self):
        fb = self.backend()
        d = self.start(fb, min_data_rate=0, shutdown_timeout="10s")
        c = self.client()
        c.ehlo()
        envelope(c)
        c.send(CONTENT[:20])
        time.sleep(0.2)
        d.signal(signal.SIGTERM)
        # new connections are no longer accepted (bounded wait for the signal)
        deadline = time.monotonic() + 3
        refused = False
        while not refused and time.monotonic() < deadline:
            try:
                n = Client(d.port, timeout=1)
            except OSError:
                refused = True
                break
            try:
                code, lines = n.reply(timeout=1)
                refused = code != 220
            except SmtpError:
                refused = True             # closed (or silent) without a 220
            n.close()
            if not refused:
                time.sleep(0.1)
        self.assertTrue(refused, "a connection after SIGTERM still got a 220; log:\n" + d.log)
        self.assertTrue(d.running(), "sluiced exited before the transaction finished")
        c.send(CONTENT[20:] + b".\r\n")
        msg = fb.wait_messages(1)[0]
        self.assertEqual(split_received(msg.raw, rcpt="bob@example.com")[1], CONTENT)
        self.assertEqual(c.reply(), (250, ["250 2.0.0 Ok: queued as %s" % msg.qid]))
        c.line("NOOP")
        lines = c.expect("421 4.3.2")
        self.assertEqual(lines, ["421 4.3.2 %s Service shutting down" % HOST])
        self.assertTrue(c.closed(3))
        self.assertEqual(d.wait(10), 0, d.log)

    def test_shutdown_timeout_in_data(self):
        fb = self.backend()
        d = self.start(fb, min_data_rate=0, shutdown_timeout="1s")
        c = self.client()
        c.ehlo()
        envelope(c)
        c.send(CONTENT[:20])
        time.sleep(0.2)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        lines = c.expect("421 4.3.2", timeout=5)
        self.assertTrue(lines[0].startswith("421 4.3.2 %s" % HOST), lines)
        self.assertTrue(c.closed(3))
        status = d.wait(5)
        took = time.monotonic() - t0
        self.assertEqual(status, 0, d.log)
        self.assertGreater(took, 0.8)
        self.assertLess(took, 3.5)
        self.assertNoDataAtBackend(fb)


# ---------------------------------------------------------------- workers
class TestWorkers(SluiceTestCase):
    def test_twenty_concurrent_clients_two_workers(self):
        fb = self.backend()
        self.start(fb, workers=2, max_connections_per_ip=100)
        n = 20
        barrier = threading.Barrier(n, timeout=10)
        results = [None] * n

        def run(i):
            try:
                c = Client(self.daemon.port)
                try:
                    c.greeting()
                    c.ehlo()
                    barrier.wait()         # all 20 connected at once
                    envelope(c, "rcpt%02d@example.com" % i)
                    c.send(b"Subject: msg %02d\r\n\r\nbody %02d\r\n.\r\n" % (i, i))
                    results[i] = c.reply(timeout=10)
                    c.line("QUIT")
                    c.expect(221)
                finally:
                    c.close()
            except Exception as e:        # reported below
                results[i] = e

        threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        self.assertFalse(any(t.is_alive() for t in threads), "clients still running")
        for i, r in enumerate(results):
            self.assertIsInstance(r, tuple, "client %d: %r" % (i, r))
            self.assertEqual(r[0], 250, "client %d: %r" % (i, r))
        msgs = fb.wait_messages(n, timeout=10)
        time.sleep(0.2)
        msgs = fb.messages()
        self.assertEqual(len(msgs), n)
        ids = []
        for m in msgs:
            mm = re.search(rb"\A[^\r]*\r\n\tby %s \(sluice\) with ESMTP id ([A-Za-z0-9]+)"
                           % re.escape(HOST.encode()), m.raw)
            self.assertIsNotNone(mm, m.raw[:300])
            ids.append(mm.group(1))
        self.assertEqual(len(set(ids)), n, ids)
        # each client got the backend's reply for its own message
        subjects = {}
        for m in msgs:
            s = re.search(rb"Subject: msg (\d\d)", m.raw)
            subjects[int(s.group(1))] = m.qid
        self.assertEqual(sorted(subjects), list(range(n)))
        for i, r in enumerate(results):
            self.assertEqual(r[1], ["250 2.0.0 Ok: queued as %s" % subjects[i]])


# ---------------------------------------------------------------- backend comes up late
class TestLateBackend(SluiceTestCase):
    def test_backend_down_at_start_then_up(self):
        cp = self.closed_port()
        port = cp.port
        self.start(cp, wait_probe=False, backend_retry="1s")
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect("451 4.4.1")
        t_fail = time.monotonic()
        cp.close()
        fb = FakeBackendOn(port)
        self.addCleanup(fb.stop)
        time.sleep(max(0.0, t_fail + 1.2 - time.monotonic()))
        deadline = time.monotonic() + 10
        tries = []
        while True:
            c.line("MAIL FROM:<alice@example.org>")
            code, lines = c.reply()
            tries.append(lines)
            if code == 250 or time.monotonic() > deadline:
                break
            self.assertEqual(lines[0][:9], "451 4.4.1", tries)
            time.sleep(0.5)
        self.assertEqual(code, 250, "MAIL replies once the backend is up: %r" % tries)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        msg = fb.wait_messages(1)[0]
        c.expect("250 2.0.0 Ok: queued as %s" % msg.qid)


# ---------------------------------------------------------------- client vanishes
class TestClientAbort(SluiceTestCase):
    def test_client_closes_in_data(self):
        fb = self.backend()
        d = self.start(fb, min_data_rate=0)
        c = self.client()
        c.ehlo()
        envelope(c)
        c.send(b"Subject: lost\r\n\r\nhalf a mess")
        time.sleep(0.2)
        c.close()
        time.sleep(0.5)
        self.assertTrue(d.running(), d.log)
        c2 = self.client()
        c2.ehlo()
        envelope(c2)
        c2.send(CONTENT + b".\r\n")
        msg = fb.wait_messages(1)[0]
        c2.expect("250 2.0.0 Ok: queued as %s" % msg.qid)
        c2.line("QUIT")
        c2.expect(221)
        time.sleep(0.2)
        msgs = fb.messages()
        self.assertEqual(len(msgs), 1, msgs)
        self.assertEqual(split_received(msgs[0].raw, rcpt="bob@example.com")[1], CONTENT)
        self.assertNotIn(b"lost", fb.all_raw())
        datas = [x for conn in fb.conns() for x in conn.commands if x.upper() == "DATA"]
        self.assertEqual(len(datas), 1, [conn.commands for conn in fb.conns()])


if __name__ == "__main__":
    tap.main()
