"""Backend faults: failover, refused/busy backends, backend replies passed through.

The backend leg under test: proxy/relay_open.c (connecting, failover, greeting,
EHLO, XCLIENT) and proxy/relay.c (commands, DATA, mapping failures to 4xx)."""

import tap
from sluicetest import SluiceTestCase, split_received

CONTENT = b"Subject: faults\r\n\r\nbody\r\n"


class FaultCase(SluiceTestCase):
    def transaction(self, c, rcpts=("bob@example.com",)):
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        for r in rcpts:
            c.line("RCPT TO:<%s>" % r)
            c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        return c.reply()


class TestFailover(FaultCase):
    def test_first_backend_refuses(self):
        dead = self.closed_port()
        fb = self.backend()
        self.start([dead, fb])
        c = self.client()
        c.ehlo()
        code, lines = self.transaction(c)
        msg = fb.wait_messages(1)[0]
        self.assertEqual(lines, ["250 2.0.0 Ok: queued as %s" % msg.qid])
        self.assertEqual(split_received(msg.raw, rcpt="bob@example.com")[1], CONTENT)

    def test_first_backend_busy_421(self):
        busy = self.backend(greeting="421 4.3.2 busy")
        fb = self.backend()
        self.start([busy, fb])
        c = self.client()
        c.ehlo()
        code, lines = self.transaction(c)
        msg = fb.wait_messages(1)[0]
        self.assertEqual(lines, ["250 2.0.0 Ok: queued as %s" % msg.qid])
        self.assertEqual(busy.relayed(), [])
        self.assertEqual(busy.messages(), [])

    def test_all_backends_down(self):
        self.start([self.closed_port(), self.closed_port()])
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect("451 4.4.1", timeout=8)
        c.line("QUIT")
        c.expect(221)

    def test_only_backend_busy(self):
        busy = self.backend(greeting="421 4.3.2 busy")
        self.start(busy)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect("451 4.4.1", timeout=8)


class TestBackendReplies(FaultCase):
    def test_mail_rejected_5xx(self):
        reply = "553 5.7.1 <alice@example.org>: Sender address rejected: not owned by user"
        fb = self.backend(replies={"MAIL": reply})
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        self.assertEqual(c.reply(), (553, [reply]))
        c.line("RCPT TO:<bob@example.com>")
        c.expect("503 5.5.1")

    def test_mail_rejected_4xx(self):
        reply = "451 4.3.0 Error: try again"
        fb = self.backend(replies={"MAIL": reply})
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        self.assertEqual(c.reply(), (451, [reply]))

    def test_rcpt_4xx_and_5xx_per_recipient(self):
        grey = "450 4.2.0 <grey@example.com>: Recipient address rejected: Greylisted"
        gone = "550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown"
        fb = self.backend(rcpt_replies={"grey@example.com": grey, "gone@example.com": gone})
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<grey@example.com>")
        self.assertEqual(c.reply(), (450, [grey]))
        c.line("RCPT TO:<gone@example.com>")
        self.assertEqual(c.reply(), (550, [gone]))
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        c.expect("250 2.0.0 Ok: queued as")
        self.assertEqual(len(fb.wait_messages(1)), 1)

    def test_data_without_accepted_recipient(self):
        gone = "550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown"
        fb = self.backend(rcpt_replies={"gone@example.com": gone})
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<gone@example.com>")
        self.assertEqual(c.reply(), (550, [gone]))
        c.line("DATA")
        code, lines = c.reply()
        # RCPT was tried but the backend accepted none: "no valid recipients"
        self.assertEqual((code, lines[0][:9]), (554, "554 5.5.1"), lines)
        self.assertNoDataAtBackend(fb)

    def test_multiline_rcpt_reply(self):
        fb = self.backend(replies={"RCPT": "250-2.1.5 first line\r\n250 2.1.5 Ok"})
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        code, lines = c.reply()
        self.assertEqual(code, 250, lines)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        c.expect("250 2.0.0 Ok: queued as")

    def test_malformed_mail_reply(self):
        fb = self.backend(replies={"MAIL": "25 x"})
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect("451 4.4.0", timeout=6)

    def test_backend_closes_after_mail(self):
        fb = self.backend(close_after={"MAIL"})
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        code, lines = c.reply(timeout=6)
        self.assertEqual(code, 451, lines)
        self.assertIn(lines[0][:9], ("451 4.4.2", "451 4.4.1"), lines)

    def test_backend_closes_after_data_command(self):
        fb = self.backend(close_after={"DATA"})
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect("354")        # sluice answers 354 itself
        c.send(CONTENT + b".\r\n")
        c.expect("451 4.4.2", timeout=6)

    def test_extra_bytes_after_backend_reply(self):
        # the backend sends an unsolicited line after its MAIL reply: never a 250 to the dot
        fb = self.backend(extra={"MAIL": b"250 2.0.0 unsolicited\r\n"})
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        code, lines = c.reply()
        if code == 250:
            c.line("DATA")
            c.expect("354")
            c.send(CONTENT + b".\r\n")
            code, lines = c.reply(timeout=6)
            if code == 250:
                msgs = fb.wait_messages(1)
                self.assertEqual(lines, ["250 2.0.0 Ok: queued as %s" % msgs[0].qid])
        self.assertTrue(code == 250 or 400 <= code < 500, lines)


if __name__ == "__main__":
    tap.main()
