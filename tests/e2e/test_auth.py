#!/usr/bin/env python3
"""test_auth.py - submission end to end: swaks (and a raw client) -> sluiced
[submission listeners] -> a real Postfix with Cyrus SASL (a sasldb of its own,
PLAIN and LOGIN), all started by the test on loopback.

- AUTH is passed through: the backend's mechanisms are offered, its 235/535
  reach the client, Postfix logs sasl_username for the delivered message, and
  sluice logs the user;
- AUTH is offered only under TLS (STARTTLS on 587-style, implicit on 465-style);
  AUTH before STARTTLS gets 538 5.7.11;
- MAIL before AUTH on a submission listener gets 530 5.7.0;
- failed AUTH is counted per client address and ends in 421 4.7.0.

Needs root (Postfix), postfix, saslpasswd2 (sasl2-bin), swaks, openssl, $SLUICED."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import tap  # noqa: E402
from postfix import Postfix  # noqa: E402
from tlstest import certs, starttls  # noqa: E402
from dkimtest import rsa_key, signatures, sig_tags, verify  # noqa: E402

import sluicetest  # noqa: E402

SWAKS = shutil.which("swaks")
USER, PASSWORD = "alice", "s3cret pass"
SENDER, RCPT = "alice@example.org", "rcpt@example.com"


def swaks(port, *args):
    cmd = [SWAKS, "--server", "127.0.0.1", "--port", str(port), "--ehlo", "client.example",
           "--from", SENDER, "--to", RCPT, "--timeout", "30", *args]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=90)
    return r.returncode, r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


class AuthE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sluice-auth-")
        # The dkim filter signs what authenticated users send (its sign table).
        cls.key = rsa_key(cls.tmp, "auth")
        cls.sign_table = os.path.join(cls.tmp, "signing.table")
        with open(cls.sign_table, "w") as f:
            f.write("example.org sel %s\n" % cls.key.pem)
        cls.pf = Postfix(sasl_users={USER: PASSWORD})
        cls.pf.start()
        try:
            cls.sluiced, cls.sub_port, cls.smtps_port = cls.start_sluiced()
        except BaseException:
            cls.pf.stop()
            raise

    @classmethod
    def start_sluiced(cls):
        """A sluiced with a STARTTLS and an implicit-TLS submission listener in
        front of the Postfix; (daemon, starttls port, implicit port)."""
        cert, key = certs()["mail"]
        d = tempfile.mkdtemp(prefix="d", dir=cls.tmp)
        sub_port, smtps_port = sluicetest.free_port(), sluicetest.free_port()
        path = sluicetest.write_config(d, backend="127.0.0.1:%d" % cls.pf.port, listen=None,
                                       log_level="debug", auth_fail_limit=3,
                                       auth_fail_delay="100ms")
        with open(path, "a") as f:
            f.write("[listener submission]\naddress = 127.0.0.1:%d\nrole = submission\n"
                    "tls = optional\ntls_cert = %s\ntls_key = %s\n"
                    "[listener submissions]\naddress = 127.0.0.1:%d\nrole = submission\n"
                    "tls = implicit\ntls_cert = %s\ntls_key = %s\n"
                    % (sub_port, cert, key, smtps_port, cert, key))
            f.write("[filter dkim]\nmodule = %s\nsign_table = %s\n"
                    % (sluicetest.built_module("filters", "dkim", ".libs", "dkim.so"),
                       cls.sign_table))
        return sluicetest.Sluiced(d, config=path, listen_port=sub_port), sub_port, smtps_port

    @classmethod
    def tearDownClass(cls):
        try:
            cls.sluiced.stop()
        finally:
            cls.pf.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.pf.clear()

    def fail_with_logs(self, msg):
        self.fail("%s\n--- sluiced:\n%s\n--- postfix:\n%s" % (msg, self.sluiced.log[-3000:],
                                                            self.pf.log()[-3000:]))

    def test_starttls_auth_plain_delivered(self):
        rc, out = swaks(self.sub_port, "--tls", "--auth", "PLAIN", "--auth-user", USER,
                        "--auth-password", PASSWORD, "--header", "Subject: auth plain")
        if rc != 0:
            self.fail_with_logs("swaks failed:\n" + out)
        self.assertIn("<~  250-AUTH PLAIN LOGIN", out)        # "<~": under TLS
        self.assertIn("<~  235 2.7.0 Authentication successful", out)
        msgs = self.pf.messages(count=1)
        self.assertIn(b"Subject: auth plain", msgs[0])
        self.pf.wait_log(r"sasl_method=PLAIN, sasl_username=alice@backend\.test")
        self.assertIn("AUTH PLAIN succeeded for [127.0.0.1] user=alice", self.sluiced.log)
        # credentials are never logged, even at debug
        self.assertNotIn("AGFsaWNlAHMzY3JldCBwYXNz", self.sluiced.log)   # the PLAIN response
        self.assertNotIn(PASSWORD, self.sluiced.log)

    def test_authenticated_mail_signed(self):
        """The dkim filter signs an authenticated session's mail (login from
        AUTH passed through); python3-dkim verifies what Postfix delivered."""
        rc, out = swaks(self.sub_port, "--tls", "--auth", "PLAIN", "--auth-user", USER,
                        "--auth-password", PASSWORD, "--header", "Subject: signed after auth")
        if rc != 0:
            self.fail_with_logs("swaks failed:\n" + out)
        got = self.pf.messages(count=1)[0]
        sigs = signatures(got)
        self.assertEqual(len(sigs), 1, got[:1200])
        self.assertEqual(sig_tags(sigs[0])["d"], "example.org")
        self.assertTrue(verify(got, {"sel._domainkey.example.org": self.key.record}), got[:1500])

    def test_implicit_tls_auth_login(self):
        rc, out = swaks(self.smtps_port, "--tls-on-connect", "--auth", "LOGIN", "--auth-user",
                        USER, "--auth-password", PASSWORD, "--header", "Subject: auth login")
        if rc != 0:
            self.fail_with_logs("swaks failed:\n" + out)
        self.assertIn(b"Subject: auth login", self.pf.messages(count=1)[0])
        self.pf.wait_log(r"sasl_method=LOGIN, sasl_username=alice@backend\.test")
        self.assertIn("AUTH LOGIN succeeded for [127.0.0.1] user=alice", self.sluiced.log)

    def test_no_auth_before_tls_and_no_mail_before_auth(self):
        c = sluicetest.Client(self.sub_port)
        try:
            c.greeting()
            lines = c.ehlo("client.example")
            self.assertFalse(any("AUTH" in l for l in lines), lines)
            c.line("AUTH PLAIN " + "AGFsaWNlAHgK")
            self.assertEqual(c.reply(), (538, ["538 5.7.11 Encryption required for requested "
                                               "authentication mechanism"]))
            c.line("STARTTLS")
            c.expect(220)
            starttls(c)
            lines = c.ehlo("client.example")
            self.assertIn("250-AUTH PLAIN LOGIN", lines)
            c.line("MAIL FROM:<%s>" % SENDER)
            self.assertEqual(c.reply(), (530, ["530 5.7.0 Authentication required"]))
        finally:
            c.close()

    def test_failures_counted_then_421(self):
        """Three wrong passwords (auth_fail_limit = 3): the backend's 535 twice,
        then 421 4.7.0 and the connection closed; a new AUTH from the address
        is refused at once. A sluiced of its own: the count would refuse the
        other tests' AUTH from 127.0.0.1."""
        daemon, port, _ = self.start_sluiced()
        self.addCleanup(daemon.stop)
        c = sluicetest.Client(port)
        try:
            c.greeting()
            c.ehlo("client.example")
            c.line("STARTTLS")
            c.expect(220)
            starttls(c)
            c.ehlo("client.example")
            wrong = "AGFsaWNlAHdyb25n"          # base64("\0alice\0wrong")
            for _ in range(2):
                c.line("AUTH PLAIN " + wrong)
                code, lines = c.reply()
                self.assertEqual(code, 535, lines)
                self.assertTrue(lines[0].startswith("535 5.7.8"), lines)
            c.line("AUTH PLAIN " + wrong)
            code, lines = c.reply()
            self.assertEqual(code, 535, lines)
            self.assertEqual(c.reply(), (421, ["421 4.7.0 sluice.test Error: too many failed "
                                               "authentications"]))
            self.assertTrue(c.closed())
        finally:
            c.close()
        rc, out = swaks(port, "--tls", "--auth", "PLAIN", "--auth-user", USER,
                        "--auth-password", PASSWORD)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("421 4.7.0", out)
        self.assertRegex(daemon.log, r"AUTH from \[127\.0\.0\.1\] refused: \d+ failures")


if __name__ == "__main__":
    tap.main()
