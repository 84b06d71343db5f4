#!/usr/bin/env python3
"""test_dkim.py - the dkim filter end to end: smtplib -> sluiced [dkim] -> a real
Postfix, which delivers every message into a capture directory.

- A message signed by python3-dkim comes in on the mx listener: it is delivered
  with sluice's Authentication-Results (dkim=pass) and still verifies.
- Messages from the submission listener (sign_listeners) are signed by sluice,
  RSA and Ed25519: python3-dkim verifies the message as Postfix delivered it
  (LF line endings, Postfix's own Received on top).

Keys are made with openssl at start; key records come from sluiced's
dns_local_data, every other name from a loopback responder answering NXDOMAIN:
nothing leaves the machine. Needs root (Postfix's master), postfix, openssl,
python3-dkim, $SLUICED and $BUILDDIR.
"""

import os
import re
import shutil
import smtplib
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import tap  # noqa: E402
from dkimtest import (FakeDNS, KeySet, ar_value, sig_tags, sign, signatures, verify,  # noqa: E402
                      write_dkim_config, write_zone)
from postfix import Postfix  # noqa: E402

import sluicetest  # noqa: E402

AUTHSERV = "mx.sluice.test"
RCPT = "rcpt@example.com"


def message(sender, subject):
    return ("From: Alice <%s>\r\n"
            "To: %s\r\n"
            "Subject: %s\r\n"
            "Date: Sun, 29 Nov 2026 12:00:00 +0000\r\n"
            "Message-ID: <%s@example.org>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n"
            "Hello through Postfix.\r\n"
            ".a dotted line\r\n"
            "  spaced   out  \r\n" % (sender, RCPT, subject, subject)).encode()


def need_env(name):
    v = os.environ.get(name)
    if not v:
        raise AssertionError("%s is not set" % name)
    return v


class DkimE2E(unittest.TestCase):
    pf = None
    sluiced = None
    dns = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sluice-e2e-dkim-")
        try:
            cls.keys = KeySet(cls.tmp)
            cls.records = {"rsa._domainkey.example.org": cls.keys.rsa.record,
                           "ed._domainkey.example.net": cls.keys.ed25519.record}
            cls.pf = Postfix()
            cls.pf.start()
            cls.dns = FakeDNS(lifetime=600)
            cls.start_sluiced()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start_sluiced(cls):
        dkim_so = os.path.join(need_env("BUILDDIR"), "filters", "dkim", ".libs", "dkim.so")
        if not os.path.isfile(dkim_so):
            raise AssertionError("%s was not built" % dkim_so)
        table = os.path.join(cls.tmp, "signing.table")
        with open(table, "w") as f:
            f.write("example.org rsa %s\nexample.net ed %s\n" % (cls.keys.rsa.pem,
                                                                 cls.keys.ed25519.pem))
        zone = write_zone(os.path.join(cls.tmp, "keys.zone"), cls.records)
        d = os.path.join(cls.tmp, "sluiced")
        os.makedirs(d)
        cls.mx_port, cls.sub_port = sluicetest.free_port(), sluicetest.free_port()
        conf = write_dkim_config(
            d, "127.0.0.1:%d" % cls.pf.port, [("mx", cls.mx_port), ("submission", cls.sub_port)],
            [("dkim", {"module": dkim_so, "sign_table": table, "sign_listeners": "submission"})],
            workers=2, log_level="info", authserv_id=AUTHSERV, dns_local_data=zone,
            dns=cls.dns.addr)
        cls.sluiced = sluicetest.Sluiced(d, config=conf, listen_port=cls.mx_port)

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

    def send(self, port, sender, msg):
        with smtplib.SMTP("127.0.0.1", port, "client.example", timeout=60) as s:
            s.sendmail(sender, [RCPT], msg)

    def delivered(self):
        msgs = self.pf.messages(count=1, timeout=60, settle=0.5)
        self.assertEqual(len(msgs), 1, self.diag())
        return msgs[0]

    def test_a_signed_message_delivered_with_result(self):
        signed = sign(message("alice@example.org", "e2e-verify"), self.keys.rsa, "rsa",
                      "example.org")
        self.send(self.mx_port, "alice@example.org", signed)
        got = self.delivered()
        b = sig_tags(signatures(signed)[0])["b"][:8]
        want = ("Authentication-Results: %s;\n\tdkim=pass header.d=example.org header.s=rsa "
                "header.b=%s\n" % (AUTHSERV, ar_value(b))).encode()
        self.assertIn(want, got, got[:1200])
        self.assertTrue(verify(got, self.records), "the delivered message no longer verifies")

    def test_b_submission_signed_rsa(self):
        self.send(self.sub_port, "alice@example.org", message("alice@example.org", "e2e-rsa"))
        got = self.delivered()
        sigs = signatures(got)
        self.assertEqual(len(sigs), 1, got[:1200])
        t = sig_tags(sigs[0])
        self.assertEqual((t["a"], t["d"], t["s"], t["c"]),
                         ("rsa-sha256", "example.org", "rsa", "relaxed/relaxed"))
        self.assertEqual([h.lower() for h in t["h"].split(":")].count("from"), 2)
        self.assertTrue(verify(got, self.records),
                        "python3-dkim does not verify what Postfix delivered:\n%r%s"
                        % (got[:1500], self.diag()))
        self.assertNotIn(b"Authentication-Results: " + AUTHSERV.encode(), got)

    def test_c_submission_signed_ed25519(self):
        self.send(self.sub_port, "alice@example.net", message("alice@example.net", "e2e-ed"))
        got = self.delivered()
        t = sig_tags(signatures(got)[0])
        self.assertEqual((t["a"], t["d"], t["s"]), ("ed25519-sha256", "example.net", "ed"))
        self.assertTrue(verify(got, self.records), got[:1500])
        self.assertFalse(verify(re.sub(rb"Hello", b"Jello", got), self.records))

    def test_z_sluiced_exits_cleanly(self):
        s, type(self).sluiced = self.sluiced, None
        rc = s.stop()
        self.assertEqual(rc, 0, "sluiced exit status %r; log tail:\n%s"
                         % (rc, "\n".join(s.log.splitlines()[-30:])))


if __name__ == "__main__":
    tap.main()
