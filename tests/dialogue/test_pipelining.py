"""PIPELINING (RFC 2920) and the synchronisation checks (554 5.5.0 and close)."""

import time

import tap
from sluicetest import SluiceTestCase, split_received

CONTENT = b"Subject: pipelined\r\n\r\nbody\r\n"
GROUP = (b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.com>\r\n"
         b"RCPT TO:<carol@example.com>\r\nDATA\r\n")


class TestPipelining(SluiceTestCase):
    def test_group_after_ehlo_answered_in_order(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.send(GROUP)
        self.assertEqual(c.reply(), (250, ["250 2.1.0 Ok"]))
        self.assertEqual(c.reply(), (250, ["250 2.1.5 Ok"]))
        self.assertEqual(c.reply(), (250, ["250 2.1.5 Ok"]))
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        c.expect("250 2.0.0 Ok: queued as")
        msg = fb.wait_messages(1)[0]
        self.assertEqual(split_received(msg.raw)[1], CONTENT)

    def test_group_with_rejected_recipient_stays_in_sync(self):
        bad = "550 5.1.1 <nobody@example.com>: unknown"
        fb = self.backend(rcpt_replies={"nobody@example.com": bad})
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.send(b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<nobody@example.com>\r\n"
               b"RCPT TO:<bob@example.com>\r\nDATA\r\n")
        c.expect(250)
        self.assertEqual(c.reply(), (550, [bad]))
        c.expect(250)
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        c.expect("250 2.0.0")

    def test_commands_after_final_dot_answered_in_order(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.send(GROUP)
        for _ in range(3):
            c.expect(250)
        c.expect("354")
        c.send(CONTENT + b".\r\nRSET\r\nNOOP\r\nQUIT\r\n")
        msg = fb.wait_messages(1)[0]
        self.assertEqual(c.reply(), (250, ["250 2.0.0 Ok: queued as %s" % msg.qid]))
        self.assertEqual(c.reply(), (250, ["250 2.0.0 Ok"]))
        self.assertEqual(c.reply(), (250, ["250 2.0.0 Ok"]))
        c.expect("221 2.0.0")
        self.assertTrue(c.closed(3))

    def test_next_transaction_pipelined_after_dot(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.send(GROUP)
        for _ in range(3):
            c.expect(250)
        c.expect("354")
        c.send(CONTENT + b".\r\nMAIL FROM:<dave@example.org>\r\nRCPT TO:<erin@example.com>\r\nDATA\r\n")
        c.expect("250 2.0.0 Ok: queued as")
        c.expect(250)
        c.expect(250)
        c.expect("354")
        second = b"Subject: two\r\n\r\nsecond\r\n"
        c.send(second + b".\r\n")
        c.expect("250 2.0.0 Ok: queued as")
        msgs = fb.wait_messages(2)
        self.assertEqual(split_received(msgs[0].raw)[1], CONTENT)
        self.assertEqual(split_received(msgs[1].raw, rcpt="erin@example.com")[1], second)


class TestSynchronisation(SluiceTestCase):
    def test_pipelining_after_helo_is_rejected(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.helo()
        c.send(GROUP)
        c.expect("554 5.5.0")
        self.assertTrue(c.closed(3), c.buf)
        self.assertEqual(fb.relayed(), [])
        self.assertNoDataAtBackend(fb)

    def test_content_before_354_is_rejected(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.send(GROUP + CONTENT + b".\r\n")
        c.expect(250)
        c.expect(250)
        c.expect(250)
        c.expect("554 5.5.0")
        self.assertTrue(c.closed(3), c.buf)
        self.assertNoDataAtBackend(fb)

    def test_talking_before_greeting(self):
        fb = self.backend()
        self.start(fb, greet_pause="1s")
        c = self.client(greet=False)
        c.send(b"EHLO early.test\r\n")
        c.expect("554 5.5.0", timeout=4)
        self.assertTrue(c.closed(3), c.buf)

    def test_greet_pause_patient_client_is_fine(self):
        self.start(greet_pause="1s")
        t0 = time.monotonic()
        c = self.client(greet=False)
        c.expect("220 sluice.test ESMTP sluice", timeout=4)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        c.ehlo()
        c.line("QUIT")
        c.expect(221)


if __name__ == "__main__":
    tap.main()
