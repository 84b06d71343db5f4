#!/usr/bin/env python3
"""test_dmarc.py - end to end with the dmarc filter: swaks -> sluiced
[authnotes, dmarc] -> a real Postfix.

authnotes (tests/stubs/stub_authnotes.c) stands in for the spf filter: it notes
spf.result = pass for the MAIL FROM domain, so a message passes DMARC exactly
when its envelope sender's domain is aligned with its From domain (RFC 7489
3.1). Policies come from dns_local_data under .test; every other name would go
to a bound UDP socket that never answers, so nothing leaves the machine.

Needs root (Postfix's master), postfix, swaks, $SLUICED and $BUILDDIR.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import tap  # noqa: E402
from postfix import Postfix  # noqa: E402

import sluicetest  # noqa: E402

SWAKS = shutil.which("swaks")
HELO = "client.example"
RCPT = "rcpt@example.com"

ZONE = """\
_dmarc.reject.test. 300 IN TXT "v=DMARC1; p=reject"
_dmarc.quarantine.test. 300 IN TXT "v=DMARC1; p=quarantine"
"""


def need_env(name):
    v = os.environ.get(name)
    if not v:
        raise AssertionError("%s is not set" % name)
    return v


def module(*relpath):
    path = os.path.join(need_env("BUILDDIR"), *relpath)
    if not os.path.isfile(path):
        raise AssertionError("%s was not built" % path)
    return path


def start_sluiced(tmp, backend_port, silent_dns):
    port = sluicetest.free_port()
    d = os.path.join(tmp, "sluiced")
    os.makedirs(d)
    zone = os.path.join(tmp, "dmarc.zone")
    with open(zone, "w") as f:
        f.write(ZONE)
    conf = sluicetest.write_config(d, listen=port, backend="127.0.0.1:%d" % backend_port,
                                   workers=2, log_level="info", dns_local_data=zone,
                                   dns=silent_dns, dns_timeout="2s")
    with open(conf, "a") as f:
        f.write("\n[filter authnotes]\nmodule = %s\nspf_result = pass\n"
                % module("tests", "stubs", ".libs", "stub_authnotes.so"))
        f.write("\n[filter dmarc]\nmodule = %s\n" % module("filters", "dmarc", ".libs", "dmarc.so"))
    return sluicetest.Sluiced(d, config=conf, listen_port=port)


def swaks(port, *args, timeout=120):
    cmd = [SWAKS, "--server", "127.0.0.1", "--port", str(port), "--ehlo", HELO,
           "--timeout", "60", *args]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


class DmarcE2E(unittest.TestCase):
    pf = None
    sluiced = None
    silent = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sluice-e2e-dmarc-")
        try:
            if SWAKS is None:
                raise AssertionError("swaks is not installed")
            cls.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # never answers
            cls.silent.bind(("127.0.0.1", 0))
            cls.pf = Postfix()
            cls.pf.start()
            cls.sluiced = start_sluiced(cls.tmp, cls.pf.port,
                                        "127.0.0.1:%d" % cls.silent.getsockname()[1])
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.sluiced is not None:
                cls.sluiced.stop()
        finally:
            if cls.pf is not None:
                cls.pf.stop()
            if cls.silent is not None:
                cls.silent.close()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.pf.fresh()

    def diag(self):
        return self.pf.diag(self.sluiced.log)

    def test_a_failing_p_reject_never_reaches_postfix(self):
        """SPF passes for other.test, which is not aligned with reject.test."""
        rc, out = swaks(self.sluiced.port, "--from", "bounce@other.test", "--to", RCPT,
                        "--header", "From: Alice <alice@reject.test>",
                        "--header", "Subject: e2e-dmarc-fail")
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"<\*\* 550 5\.7\.1 .*DMARC.*reject\.test", self.diag())
        self.assertEqual(self.pf.messages(count=0, settle=2.0), [], "a refused message arrived")
        self.assertNotIn("e2e-dmarc-fail", self.pf.log(), self.diag())

    def test_b_passing_message_is_delivered(self):
        rc, out = swaks(self.sluiced.port, "--from", "bounce@mail.reject.test", "--to", RCPT,
                        "--header", "From: Alice <alice@reject.test>",
                        "--header", "Subject: e2e-dmarc-pass", "--body", "aligned and passing")
        self.assertEqual(rc, 0, out + self.diag())
        msgs = self.pf.messages(count=1, timeout=60, settle=1.0)
        self.assertEqual(len(msgs), 1, self.diag())
        head = msgs[0].split(b"\n\n", 1)[0]
        self.assertRegex(head, rb"(?m)^Authentication-Results: sluice\.test;\s+"
                               rb"dmarc=pass \(p=reject dis=none\) header\.from=reject\.test$",
                         head)
        self.assertIn(b"aligned and passing", msgs[0])

    def test_c_failing_p_quarantine_is_marked(self):
        rc, out = swaks(self.sluiced.port, "--from", "bounce@other.test", "--to", RCPT,
                        "--header", "From: <alice@quarantine.test>",
                        "--header", "Subject: e2e-dmarc-quarantine")
        self.assertEqual(rc, 0, out + self.diag())
        msgs = self.pf.messages(count=1, timeout=60, settle=1.0)
        self.assertEqual(len(msgs), 1, self.diag())
        head = msgs[0].split(b"\n\n", 1)[0]
        self.assertRegex(head, rb"(?m)^X-Sluice-Quarantine: dmarc$", head)
        self.assertRegex(head, rb"dmarc=fail \(p=quarantine dis=quarantine\) "
                               rb"header\.from=quarantine\.test", head)

    def test_z_sluiced_exits_cleanly(self):
        s, type(self).sluiced = self.sluiced, None
        rc = s.stop()
        self.assertEqual(rc, 0, "sluiced exit status %r; log tail:\n%s"
                         % (rc, "\n".join(s.log.splitlines()[-30:])))


if __name__ == "__main__":
    tap.main()
