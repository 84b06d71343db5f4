#!/usr/bin/env python3
"""test_spf.py - end to end with the spf filter: swaks -> sluiced [spf] -> a
real Postfix.

swaks speaks the PROXY protocol (v1) to a listener that trusts 127.0.0.1, so
sluiced sees documentation addresses as clients (libspf2 would pass
loopback). DNS is hermetic: the records are unbound local data
(dns_local_data); other names go to a NXDOMAIN responder on loopback.

- a sender whose domain's SPF record permits the client: delivered, with a
  Received-SPF field (RFC 7208 9.1) above sluice's Received, and an
  Authentication-Results field with spf=pass (RFC 8601);
- a sender whose domain's record ends in -all and does not list the client:
  refused at MAIL with 550 5.7.23 (RFC 7372), and Postfix never hears of it.

Needs root (Postfix's master), postfix, swaks, $SLUICED and $BUILDDIR."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import tap  # noqa: E402
from dnstest import Responder, write_local_data  # noqa: E402
from postfix import Postfix  # noqa: E402

import sluicetest  # noqa: E402

SWAKS = shutil.which("swaks")
HELO = "mail.example.org"
RCPT = "rcpt@example.com"
AUTHSERV = "mx.sluice.test"

ZONE = [
    ("example.org", "TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
    ("mail.example.org", "TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
]


def start_sluiced(tmp, backend_port, dns_addr):
    builddir = os.environ.get("BUILDDIR")
    if not builddir:
        raise AssertionError("BUILDDIR is not set")
    spf_so = os.path.join(builddir, "filters", "spf", ".libs", "spf.so")
    if not os.path.isfile(spf_so):
        raise AssertionError("%s was not built" % spf_so)
    d = os.path.join(tmp, "sluiced")
    os.makedirs(d)
    zone = write_local_data(os.path.join(d, "local.zone"), ZONE)
    port = sluicetest.free_port()
    conf = sluicetest.write_config(d, listen=None, backend="127.0.0.1:%d" % backend_port,
                                   workers=2, log_level="info", dns=dns_addr,
                                   dns_local_data=zone, dns_timeout="2s",
                                   authserv_id=AUTHSERV)
    with open(conf, "a") as f:
        f.write("\n[listener mx]\naddress = 127.0.0.1:%d\nproxy_protocol = v1\n"
                "trusted = 127.0.0.1\n" % port)
        f.write("\n[filter spf]\nmodule = %s\n" % spf_so)
    return sluicetest.Sluiced(d, config=conf, listen_port=port)


def swaks(port, client_ip, *args, timeout=120):
    cmd = [SWAKS, "--server", "127.0.0.1", "--port", str(port), "--ehlo", HELO,
           "--proxy", "TCP4 %s 198.51.100.1 4321 25" % client_ip, "--timeout", "60", *args]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


class SpfE2E(unittest.TestCase):
    pf = None
    sluiced = None
    dns = None

    @classmethod
    def setUpClass(cls):
        if SWAKS is None:
            raise AssertionError("swaks is not installed")
        cls.tmp = tempfile.mkdtemp(prefix="sluice-e2e-spf-")
        try:
            cls.dns = Responder(lifetime=600)
            cls.pf = Postfix()
            cls.pf.start()
            cls.sluiced = start_sluiced(cls.tmp, cls.pf.port, cls.dns.addr)
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
            if cls.dns is not None:
                cls.dns.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.pf.fresh()

    def diag(self):
        return self.pf.diag(self.sluiced.log)

    def test_a_fail_refused_never_reaches_postfix(self):
        rc, out = swaks(self.sluiced.port, "198.51.100.7", "--from", "forger@example.org",
                        "--to", RCPT, "--header", "Subject: e2e-spf-fail")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("<** 550 5.7.23 ", out, self.diag())
        self.assertEqual(self.pf.messages(count=0, settle=2.0), [], "a refused message arrived")
        self.assertNotIn("forger@example.org", self.pf.log(),
                         "Postfix heard of the refused sender" + self.diag())

    def test_b_pass_delivered_with_received_spf(self):
        rc, out = swaks(self.sluiced.port, "192.0.2.10", "--from", "alice@example.org",
                        "--to", RCPT, "--header", "Subject: e2e-spf-pass",
                        "--body", "hello through spf")
        self.assertEqual(rc, 0, out + self.diag())
        msgs = self.pf.messages(count=1, timeout=60, settle=1.0)
        self.assertEqual(len(msgs), 1, self.diag())
        head = msgs[0].split(b"\n\n", 1)[0]
        flat = re.sub(rb"\n[ \t]+", b" ", head)
        m = re.search(rb"(?m)^Received-SPF: pass \(\S+: domain of example\.org designates "
                      rb"192\.0\.2\.10 as permitted sender\) .*$", flat)
        self.assertIsNotNone(m, head)
        for kv in (b"client-ip=192.0.2.10;", b'envelope-from="alice@example.org";',
                   b"helo=mail.example.org;", b"identity=mailfrom;"):
            self.assertIn(kv, m.group(0))
        self.assertRegex(flat, rb"(?m)^Authentication-Results: mx\.sluice\.test; "
                               rb"spf=pass smtp\.mailfrom=example\.org$")
        # Above sluice's Received (Postfix's own is on top).
        pos_sluice = re.search(rb"(?m)^Received: from \S+ \(.*\n\tby sluice\.test", head)
        self.assertIsNotNone(pos_sluice, head)
        self.assertLess(head.index(b"Received-SPF:"), pos_sluice.start())
        self.assertIn(b"hello through spf", msgs[0])

    def test_z_sluiced_exits_cleanly(self):
        s, type(self).sluiced = self.sluiced, None
        rc = s.stop()
        self.assertEqual(rc, 0, "sluiced exit status %r; log tail:\n%s"
                         % (rc, "\n".join(s.log.splitlines()[-30:])))


if __name__ == "__main__":
    tap.main()
