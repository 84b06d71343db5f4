"""Hostile input: SMTP smuggling, client XCLIENT/XFORWARD, PROXY after the greeting."""

import tap
from sluicetest import SluiceTestCase, split_received

ENVELOPE = ["MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>"]

# Non-standard end-of-data sequences (SEC Consult / smtpsmug lists); each is
# followed by a smuggled transaction and then the real CRLF.CRLF.
SEQUENCES = {
    "lf.crlf": b"\n.\r\n",
    "crlf.lf": b"\r\n.\n",
    "lf.lf": b"\n.\n",
    "cr.crlf": b"\r.\r\n",
    "cr.cr": b"\r.\r",
    "crlf.cr": b"\r\n.\r",
    "crlf.crcrlf": b"\r\n.\r\r\n",
}
SMUGGLED = (b"MAIL FROM:<ceo@example.org>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n"
            b"From: ceo@example.org\r\nSubject: smuggled\r\n\r\nsend money\r\n")


def smuggling_message(seq):
    return b"Subject: cover\r\n\r\ninnocent" + seq + SMUGGLED + b".\r\n"


class TestSmuggling(SluiceTestCase):
    def data(self, c):
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        c.line("DATA")
        c.expect("354")

    def test_reject_policy(self):
        fb = self.backend(lenient_dot=True)
        self.start(fb, bare_newline="reject")
        for name, seq in SEQUENCES.items():
            with self.subTest(sequence=name):
                c = self.client()
                c.ehlo()
                self.data(c)
                c.send(smuggling_message(seq))
                c.expect("550 5.5.2")
                c.line("QUIT")
                c.expect(221)
                c.close()
        for conn in fb.conns():
            self.assertFalse(conn.has("DATA") or conn.has("BDAT"), conn.raw)
            self.assertNotIn(b"ceo@example.org", conn.raw)
        self.assertEqual(fb.messages(), [])

    def test_normalize_policy(self):
        fb = self.backend(lenient_dot=True)
        # backend_pool = 0: one backend connection per client, so that "one
        # transaction on the connection" below means "nothing was smuggled".
        self.start(fb, bare_newline="normalize", backend_pool=0)
        for n, (name, seq) in enumerate(SEQUENCES.items()):
            with self.subTest(sequence=name):
                c = self.client()
                c.ehlo()
                self.data(c)
                c.send(smuggling_message(seq))
                code, lines = c.reply()
                self.assertEqual(code, 250, lines)
                c.line("QUIT")
                c.expect(221)
                self.assertTrue(c.closed(3))
                c.close()
                msgs = fb.wait_messages(n + 1)
                msg = msgs[n]
                self.assertEqual(lines, ["250 2.0.0 Ok: queued as %s" % msg.qid])
                conn = [x for x in fb.relayed() if msg in x.messages][0]
                # exactly one transaction at the (lenient) backend
                self.assertEqual(len(conn.messages), 1, conn.raw)
                self.assertEqual([v for v in conn.verbs() if v in ("MAIL", "DATA", "BDAT")],
                                 ["MAIL", "DATA"], conn.raw)
                # the would-be smuggled lines are content
                self.assertIn(b"MAIL FROM:<ceo@example.org>\r\n", msg.raw)
                self.assertIn(b"send money\r\n", msg.raw)
                # nothing but CRLF line ends anywhere in what the backend received
                self.assertNoBareCRLF(conn.raw)
                split_received(msg.raw, rcpt="bob@example.com")
        self.assertEqual(len(fb.messages()), len(SEQUENCES))

    def test_bdat_with_bare_lf_reject(self):
        fb = self.backend(lenient_dot=True)
        self.start(fb, bare_newline="reject")
        c = self.client()
        c.ehlo()
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        chunk = b"Subject: x\r\n\r\nhi\n.\r\n" + SMUGGLED
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        c.expect("550 5.5.2")
        self.assertEqual(fb.messages(), [])
        for conn in fb.conns():
            self.assertNotIn(b"ceo@example.org", conn.raw)


class TestIdentity(SluiceTestCase):
    def test_client_xclient_and_xforward_refused(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.line("XCLIENT ADDR=10.9.8.7 NAME=trusted.example.org")
        c.expect("550 5.7.0")
        c.line("XFORWARD ADDR=10.9.8.7")
        c.expect("550 5.7.0")
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        c.line("DATA")
        c.expect("354")
        content = b"Subject: id\r\n\r\nx\r\n"
        c.send(content + b".\r\n")
        c.expect("250 2.0.0")
        conn = fb.wait_relayed()
        self.assertRelayed(conn, c, ENVELOPE, content, rcpt="bob@example.com")
        for b in fb.conns():
            self.assertNotIn(b"XFORWARD", b.raw)
            self.assertNotIn(b"10.9.8.7", b.raw)
            self.assertNotIn(b"trusted.example.org", b.raw)
        self.assertEqual(conn.xclient[0]["ADDR"], "127.0.0.1")

    def test_proxy_line_after_greeting(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.line("PROXY TCP4 10.9.8.7 127.0.0.1 12345 25")
        c.expect("502 5.5.2")
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        for b in fb.conns():
            self.assertNotIn(b"PROXY", b.raw)
            self.assertNotIn(b"10.9.8.7", b.raw)


if __name__ == "__main__":
    tap.main()
