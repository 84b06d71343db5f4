#!/usr/bin/env python3
"""test_backend_tls.py - end to end: client -> sluiced -> a real Postfix whose
smtpd offers STARTTLS; sluiced (backend_tls = required, the backend named
"localhost", the test CA trusted) upgrades its connection, and Postfix logs the
TLS session and delivers the message with XCLIENT's client.

Needs root (Postfix's master), postfix, swaks, openssl, and $SLUICED.
Run: PYTHONPATH=tests/lib SLUICED=./sluiced python3 tests/e2e/test_backend_tls.py
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "dialogue"))

import tap  # noqa: E402
from postfix import Postfix  # noqa: E402
from tlstest import certs  # noqa: E402
from test_backend_tls import local_certs  # noqa: E402

import sluicetest  # noqa: E402

SWAKS = shutil.which("swaks")
SENDER = "sender@example.org"
RCPT = "rcpt@example.com"


class BackendTlsE2E(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0 or not SWAKS or not os.environ.get("SLUICED"):
            self.skipTest("needs root, swaks and $SLUICED")
        self.tmp = tempfile.mkdtemp(prefix="sluice-e2e-btls-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.pf = Postfix(tls=local_certs()["localhost"])
        self.pf.start()
        self.addCleanup(self.pf.stop)

    def start_sluiced(self, **keys):
        s = sluicetest.Sluiced(self.tmp, backend="localhost:%d" % self.pf.port,
                               hostname="sluice.test", workers=1, log_level="debug", **keys)
        self.addCleanup(s.cleanup)
        self.addCleanup(s.stop)
        return s

    def swaks(self, port, subject):
        cmd = [SWAKS, "--server", "127.0.0.1", "--port", str(port), "--ehlo", "client.test",
               "--from", SENDER, "--to", RCPT, "--header", "Subject: " + subject,
               "--body", "backend tls " + subject, "--timeout", "60"]
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        return r.returncode, r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")

    def test_required_verified(self):
        s = self.start_sluiced(backend_tls="required", backend_tls_ca=certs()["ca"])
        rc, out = self.swaks(s.port, "required")
        self.assertEqual(rc, 0, out)
        msgs = self.pf.messages(count=1, timeout=30)
        self.assertIn(b"Subject: required", msgs[0])
        self.assertIsNotNone(self.pf.wait_log(r"TLS connection established from "
                                              r"\S+\[127\.0\.0\.1\]"), self.pf.log()[-3000:])
        self.assertRegex(s.log, r"backend TLS established with \S+: TLSv1\.[23] with cipher "
                                r"\S+ \(\d+/\d+ bits\), certificate verified")
        # XCLIENT went over TLS: Postfix logs the client's HELO, not sluice's.
        self.assertRegex(self.pf.log(), r"helo=<client\.test>")
        status = s.stop()
        self.assertEqual(status, 0, s.log[-5000:])

    def test_other_ca_refused(self):
        # The test CA is not the one that signed Postfix's certificate here.
        s = self.start_sluiced(backend_tls="required", backend_tls_ca=os.path.join(certs()["dir"], "rogueca.pem"))
        rc, out = self.swaks(s.port, "refused")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("451 4.4.1", out)
        self.assertRegex(s.log, r"TLS handshake failed: .*certificate verify failed")
        self.assertEqual(self.pf.captured(), [])
        self.assertEqual(s.stop(), 0, s.log[-5000:])


if __name__ == "__main__":
    tap.main()
