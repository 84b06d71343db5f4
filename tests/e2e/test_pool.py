#!/usr/bin/env python3
"""test_pool.py - end to end: sequential clients -> sluiced -> a real Postfix over
one pooled backend connection, each client announced with its own XCLIENT.

Each client connects from its own loopback address (127.0.0.N), so Postfix's
log tells the sessions apart: every message must be logged with the client that
sent it, and Postfix's "disconnect" line counts the XCLIENT commands the one
connection carried. A second Postfix authorizes XCLIENT from 127.0.0.1 only,
as a real site would authorize sluice alone: Postfix checks a second XCLIENT
against the client the first one announced and refuses it, and sluice must
still deliver every message, each with its own client (on new connections).

Needs root (Postfix's master), postfix, swaks, smtp-source, and $SLUICED.
Run: PYTHONPATH=tests/lib SLUICED=./sluiced python3 tests/e2e/test_pool.py
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import tap  # noqa: E402
from postfix import POSTCONF, Postfix  # noqa: E402

import sluicetest  # noqa: E402

SWAKS = shutil.which("swaks")
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SENDER = "sender@example.org"
RCPT = "rcpt@example.com"


def swaks(port, source, helo, subject):
    """One message from 127.0.0.1:port's client at address source; (rc, transcript)."""
    cmd = [SWAKS, "--server", "127.0.0.1", "--port", str(port), "--local-interface", source,
           "--ehlo", helo, "--from", SENDER, "--to", RCPT, "--header", "Subject: " + subject,
           "--body", "pool test " + subject, "--timeout", "60"]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    return r.returncode, r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


def start_sluiced(tmp, backend_port, **keys):
    s = sluicetest.Sluiced(
        tmp,
        backend="127.0.0.1:%d" % backend_port,
        hostname="sluice.test",
        workers=1,                 # one loop: one pool, so the sessions share it
        log_level="debug",
        **keys,
    )
    return s


class PoolE2ECase(unittest.TestCase):
    pf = None
    sluiced = None
    XCLIENT_HOSTS = None          # smtpd_authorized_xclient_hosts; None = postfix.py's
    SLUICE_KEYS = {}

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root")
        cls.tmp = tempfile.mkdtemp(prefix="sluice-e2e-pool-")
        cls.pf = Postfix()
        if cls.XCLIENT_HOSTS is not None:
            cls.pf._setup()        # write main.cf, then change it before the start
            subprocess.run([POSTCONF, "-c", cls.pf.etc, "-e",
                            "smtpd_authorized_xclient_hosts = " + cls.XCLIENT_HOSTS], check=True)
        cls.pf.start()
        try:
            cls.sluiced = start_sluiced(cls.tmp, cls.pf.port, **cls.SLUICE_KEYS)
        except BaseException:
            cls.pf.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.sluiced is not None:
                cls.sluiced.stop()
        finally:
            if cls.pf is not None:
                cls.pf.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.pf.fresh()

    def diag(self):
        log = self.sluiced.log if self.sluiced is not None else ""
        return ("\n--- postfix maillog (tail) ---\n" + "\n".join(self.pf.log().splitlines()[-40:])
                + "\n--- sluiced log (pool lines) ---\n"
                + "\n".join(l for l in log.splitlines() if "pool:" in l or "warning" in l)[-4000:])

    def send_from(self, sources, tag):
        """One swaks session per source address, one after the other."""
        for i, src in enumerate(sources):
            rc, out = swaks(self.sluiced.port, src, "h%d.%s.example" % (i, tag), "%s-%d" % (tag, i))
            self.assertEqual(rc, 0, out + self.diag())
            self.assertRegex(out, r"<-  250 2\.0\.0 Ok: queued as [0-9A-F]+", out)

    def assert_each_logged(self, sources, tag):
        """Each message is in Postfix's log with the client and HELO that sent it."""
        msgs = self.pf.messages(count=len(sources), timeout=60, settle=0.5)
        self.assertEqual(len(msgs), len(sources), self.diag())
        for i, src in enumerate(sources):
            pat = (r"warning: header Subject: %s-%d from \S+\[%s\]; from=<sender@example\.org>"
                   r" to=<rcpt@example\.com> proto=ESMTP helo=<h%d\.%s\.example>"
                   % (tag, i, re.escape(src), i, tag))
            self.assertIsNotNone(self.pf.wait_log(pat), "message %d not logged with its own client %s%s"
                                 % (i, src, self.diag()))

    def assert_sluiced_stops(self):
        s, type(self).sluiced = self.sluiced, None
        rc = s.stop()
        self.assertEqual(rc, 0, "sluiced exit status %r; log tail:\n%s"
                         % (rc, "\n".join(s.log.splitlines()[-30:])))
        return s


class TestPooledPostfix(PoolE2ECase):
    """Postfix authorizes XCLIENT for all of 127.0.0.0/8 (tests/lib/postfix.py),
    so every client may be announced on the connection after another."""

    SLUICE_KEYS = {"backend_idle_timeout": "8s"}

    def test_a_swaks_sessions_share_one_connection(self):
        sources = ["127.0.0.%d" % n for n in range(2, 7)]
        self.send_from(sources, "swaks")
        self.assert_each_logged(sources, "swaks")
        # The one connection carried all five: Postfix counts its XCLIENTs when
        # it ends (sluice's QUIT after backend_idle_timeout), naming the last client.
        # (Postfix counts XCLIENT as tried/"ok": a successful one shows as 0/N.)
        m = self.pf.wait_log(r"disconnect from \S+\[127\.0\.0\.6\] ehlo=5 xclient=\d+/5 mail=5 rcpt=5"
                             r" data=5 quit=1 commands=\d+/26$", timeout=20)
        self.assertIsNotNone(m, "no single connection with 5 XCLIENT sessions" + self.diag())
        log = self.sluiced.log
        self.assertEqual(log.count("pool: reusing the connection"), 4, self.diag())

    def test_b_smtp_source_sequential(self):
        n = 10
        r = subprocess.run([SMTP_SOURCE, "-4", "-c", "-l", "1024", "-m", str(n), "-s", "1",
                            "-M", "source.example", "-f", SENDER, "-t", RCPT,
                            "127.0.0.1:%d" % self.sluiced.port],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=180)
        self.assertEqual(r.returncode, 0, "smtp-source failed: %r %r%s"
                         % (r.stdout[-500:], r.stderr[-500:], self.diag()))
        msgs = self.pf.messages(count=n, timeout=60, settle=1.0)
        self.assertEqual(len(msgs), n, self.diag())
        m = self.pf.wait_log(r"disconnect from \S+\[127\.0\.0\.1\] helo=10 xclient=\d+/10 mail=10"
                             r" rcpt=10 data=10 quit=1 commands=\d+/51$", timeout=20)
        self.assertIsNotNone(m, "the 10 sessions did not share one connection" + self.diag())

    def test_z_sigterm_quits_the_idle_connection(self):
        self.send_from(["127.0.0.9"], "last")
        # Right away, well inside backend_idle_timeout: the connection is idle.
        s = self.assert_sluiced_stops()
        self.assertRegex(s.log, r"pool: closing the idle connection to \S+: shutting down")
        self.assert_each_logged(["127.0.0.9"], "last")
        self.assertIsNotNone(self.pf.wait_log(r"disconnect from \S+\[127\.0\.0\.9\] .*quit=1"),
                             "no QUIT on the idle connection at SIGTERM" + self.diag())


class TestXclientOnlyForSluice(PoolE2ECase):
    """Postfix authorizes XCLIENT from 127.0.0.1 (sluice) only: a second XCLIENT
    on one connection is checked against the first client and refused."""

    XCLIENT_HOSTS = "127.0.0.1"

    def test_a_refused_reuse_still_delivers(self):
        sources = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        self.send_from(sources, "refused")
        self.assert_each_logged(sources, "refused")
        log = self.sluiced.log
        self.assertRegex(log, r"warning -: backend \S+ refused XCLIENT on a reused connection: "
                              r"550 5\.7\.0", self.diag())
        # After the refusal nothing is kept for that backend: the third client
        # is not even tried on a reused connection.
        self.assertEqual(log.count("pool: reusing the connection"), 1, self.diag())
        # The first connection: the first client, the refused XCLIENT, sluice's QUIT.
        self.assertIsNotNone(self.pf.wait_log(r"disconnect from \S+\[127\.0\.0\.2\] ehlo=1"
                                              r" xclient=\d+/2 mail=1 rcpt=1 data=1 quit=1 "),
                             self.diag())

    def test_z_sluiced_exits_cleanly(self):
        self.assert_sluiced_stops()


if __name__ == "__main__":
    tap.main()
