"""How the backend learns who the client is, per backend line
(`backend = HOST:PORT identity=auto|xclient|xforward|none`), against the
recording fake backend: XCLIENT once per connection, or XFORWARD (Postfix
XFORWARD_README: attributes for the next transaction only) before every MAIL,
the re-sent envelope's too, or nothing."""

import os
import subprocess
import time

import tap
from sluicetest import SluiceTestCase, built_module

ENVELOPE = ["MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>"]
CAPS = ["PIPELINING", "SIZE 10240000", "8BITMIME", "ENHANCEDSTATUSCODES"]
XCLIENT = "XCLIENT NAME ADDR PORT PROTO HELO LOGIN"
XFORWARD = "XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT"


class IdentityOut(SluiceTestCase):
    def start_identity(self, caps, identity=None, **keys):
        fb = self.backend(caps=caps)
        line = fb.addr + (" identity=%s" % identity if identity else "")
        self.start(backend=line, wait_probe=False, **keys)
        fb.wait_probe(5.0)
        self.fb = fb
        return fb

    def mail(self, c, n=1, content=b"Subject: id\r\n\r\nbody\r\n"):
        for _ in range(n):
            for line in ENVELOPE:
                c.line(line)
                c.expect(250)
            c.line("DATA")
            c.expect(354)
            c.send(content + b".\r\n")
            c.expect(250)

    def session_conn(self):
        """The backend connection that carried the mail (not the probe)."""
        conns = [x for x in self.fb.conns() if x.messages]
        self.assertEqual(len(conns), 1, [x.commands for x in self.fb.conns()])
        return conns[0]

    def test_auto_uses_xforward_without_xclient(self):
        """identity auto (the default), backend offering only XFORWARD: XFORWARD
        with the client's attributes right before each MAIL, no XCLIENT."""
        self.start_identity(CAPS + [XFORWARD])
        c = self.client()
        c.ehlo("client.test")
        self.mail(c, n=2)
        conn = self.session_conn()
        cmds = [x.split(" ", 1)[0].upper() for x in conn.commands]
        self.assertNotIn("XCLIENT", cmds)
        mails = [i for i, v in enumerate(cmds) if v == "MAIL"]
        self.assertEqual(len(mails), 2, conn.commands)
        for i in mails:
            self.assertEqual(cmds[i - 1], "XFORWARD", conn.commands)
        x = conn.xforward[0]
        self.assertEqual((x.get("ADDR"), x.get("HELO"), x.get("PROTO"), x.get("NAME")),
                         ("127.0.0.1", "client.test", "ESMTP", "localhost"), conn.xforward)
        self.assertNotIn("LOGIN", x)             # not an XFORWARD attribute

    def test_auto_prefers_xclient(self):
        self.start_identity(CAPS + [XCLIENT, XFORWARD])
        c = self.client()
        c.ehlo("client.test")
        self.mail(c)
        conn = self.session_conn()
        self.assertEqual(len(conn.xclient), 1, conn.commands)
        self.assertEqual(conn.xforward, [])

    def test_xforward_chosen_over_xclient(self):
        self.start_identity(CAPS + [XCLIENT, XFORWARD], identity="xforward")
        c = self.client()
        c.ehlo("client.test")
        self.mail(c)
        conn = self.session_conn()
        self.assertEqual(conn.xclient, [])
        self.assertEqual(len(conn.xforward), 1, conn.commands)

    def test_none(self):
        """identity=none: neither command; the backend sees sluice."""
        self.start_identity(CAPS + [XCLIENT, XFORWARD], identity="none")
        c = self.client()
        c.ehlo("client.test")
        self.mail(c)
        conn = self.session_conn()
        self.assertEqual((conn.xclient, conn.xforward), ([], []), conn.commands)

    def test_xforward_required_but_missing(self):
        """identity=xforward on a backend without XFORWARD: that backend is
        unusable, and with no other the client gets a 4xx, never a 250."""
        self.start_identity(CAPS + [XCLIENT], identity="xforward")
        c = self.client()
        c.ehlo("client.test")
        c.line(ENVELOPE[0])
        code, lines = c.reply()
        self.assertEqual(code // 100, 4, lines)
        self.assertIn("does not offer XFORWARD (identity=xforward)", self.log)

    def test_xclient_required_but_missing(self):
        self.start_identity(CAPS + [XFORWARD], identity="xclient")
        c = self.client()
        c.ehlo("client.test")
        c.line(ENVELOPE[0])
        code, lines = c.reply()
        self.assertEqual(code // 100, 4, lines)
        self.assertIn("does not offer XCLIENT", self.log)

    def test_xforward_refused(self):
        """A backend that refuses XFORWARD (sluice not authorized): 451, an
        error naming the Postfix setting, and nothing relayed."""
        fb = self.backend(caps=CAPS + [XFORWARD], replies={"XFORWARD": "550 5.7.0 Error: "
                                                                     "insufficient authorization"})
        self.start(backend=fb.addr, wait_probe=False)
        fb.wait_probe(5.0)
        c = self.client()
        c.ehlo("client.test")
        c.line(ENVELOPE[0])
        self.assertEqual(c.reply()[0], 451)
        self.assertIn("refused XFORWARD", self.log)
        self.assertIn("smtpd_authorized_xforward_hosts", self.log)
        for conn in fb.conns():
            self.assertFalse(any(x.upper().startswith("MAIL") for x in conn.commands),
                             conn.commands)

    def test_xforward_before_resent_envelope(self):
        """A filter that adds a recipient makes sluice re-send the envelope at
        the end of the message (RSET, MAIL, RCPTs): XFORWARD again before that
        MAIL, since RSET ended the first transaction's attributes."""
        fb = self.backend(caps=CAPS + [XFORWARD])
        probe = built_module("tests", "stubs", ".libs", "stub_probe.so")
        self.start_with_filters([("p1", {"module": probe, "at": "eom",
                                         "rcpt_add": "carol@example.com"})], fb)
        c = self.client()
        c.ehlo("client.test")
        self.mail(c)
        conn = [x for x in fb.conns() if x.messages][0]
        cmds = [x.split(" ", 1)[0].upper() for x in conn.commands]
        self.assertIn("RSET", cmds, conn.commands)
        mails = [i for i, v in enumerate(cmds) if v == "MAIL"]
        self.assertEqual(len(mails), 2, conn.commands)
        for i in mails:
            self.assertEqual(cmds[i - 1], "XFORWARD", conn.commands)

    def test_config_errors(self):
        for value, want in (("identity=maybe", "bad value 'maybe' for backend identity"),
                            ("mode=xforward", "bad option 'mode=xforward' for backend")):
            d = self.tmp
            path = "%s/bad-%d.conf" % (d, time.monotonic_ns())
            with open(path, "w") as f:
                f.write("[sluice]\nbackend = 127.0.0.1:25 %s\n" % value)
            r = subprocess.run([os.environ["SLUICED"], "-t", "-c", path], capture_output=True,
                               timeout=30)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(want, r.stderr.decode() + r.stdout.decode())


if __name__ == "__main__":
    tap.main()
