"""DATA and BDAT: exact content, dot-stuffing, NUL, the reply to the final dot."""

import time

import tap
from sluicetest import SluiceTestCase, split_received

ENVELOPE = ["MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>"]


class DataCase(SluiceTestCase):
    def open_data(self, c):
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        c.line("DATA")
        c.expect("354 End data with <CR><LF>.<CR><LF>")


class TestDataContent(DataCase):
    def relay(self, content, **conf):
        fb = self.backend()
        self.start(fb, **conf)
        c = self.client()
        c.ehlo()
        self.open_data(c)
        c.send(content + b".\r\n")
        msg = fb.wait_messages(1)[0]
        self.assertEqual(c.reply(), (250, ["250 2.0.0 Ok: queued as %s" % msg.qid]))
        self.assertRelayed(fb.wait_relayed(), c, ENVELOPE, content, rcpt="bob@example.com")
        return fb, msg

    def test_dot_stuffing_preserved(self):
        content = (b"Subject: dots\r\n\r\n..x\r\n..\r\n...\r\n.. leading\r\nmid.dle\r\n"
                   b"..\r\nend\r\n")
        fb, msg = self.relay(content)
        self.assertEqual(split_received(msg.raw, rcpt="bob@example.com")[1], content)
        self.assertEqual(split_received(msg.content, rcpt="bob@example.com")[1],
                         b"Subject: dots\r\n\r\n.x\r\n.\r\n..\r\n. leading\r\nmid.dle\r\n.\r\nend\r\n")

    def test_content_exact(self):
        content = (b"Subject: exact\r\nX-Trailing:   \r\n\r\n\r\nline with trailing space \r\n"
                   b"\ttab\r\n" + b"8bit \xc3\xa9\xff\r\n" + b"x" * 998 + b"\r\n\r\n")
        self.relay(content)

    def test_empty_body(self):
        self.relay(b"Subject: nobody\r\n\r\n")

    def test_split_writes_and_crlf_split(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.ehlo()
        self.open_data(c)
        content = b"Subject: split\r\n\r\nab\r\n..c\r\n"
        wire = content + b".\r\n"
        # cut inside CRLF, between CR LF and the dot, and inside the final sequence
        c.send_split(wire, [17, 1, 3, 1, 4, 1, 2])
        c.expect("250 2.0.0 Ok: queued as")
        self.assertRelayed(fb.wait_relayed(), c, ENVELOPE, content, rcpt="bob@example.com")

    def test_nul_in_content(self):
        content = b"Subject: nul\r\n\r\nbefore\x00after\r\n\x00\r\nlast line\r\n"
        fb, msg = self.relay(content)
        self.assertIn(b"before\x00after\r\n\x00\r\nlast line\r\n", msg.raw)

    def test_large_message_spooled(self):
        # bigger than spool_memory: goes through the spool file, same bytes
        body = b"".join(b"line %06d %s\r\n" % (i, b"y" * 60) for i in range(3000))
        self.relay(b"Subject: big\r\n\r\n" + body, spool_memory="16k")


class TestFinalDotReply(DataCase):
    def run_dot(self, conf=None, **knobs):
        fb = self.backend(**knobs)
        self.start(fb, **(conf or {}))
        c = self.client()
        c.ehlo()
        self.open_data(c)
        c.send(b"Subject: t\r\n\r\nbody\r\n.\r\n")
        return fb, c

    def test_backend_5xx_after_dot(self):
        fb, c = self.run_dot(replies={"DOT": "554 5.7.1 Rejected: looks like spam"})
        self.assertEqual(c.reply(), (554, ["554 5.7.1 Rejected: looks like spam"]))
        c.line("NOOP")
        c.expect("250 2.0.0")

    def test_backend_4xx_after_dot(self):
        fb, c = self.run_dot(replies={"DOT": "451 4.3.0 Error: queue file write error"})
        self.assertEqual(c.reply(), (451, ["451 4.3.0 Error: queue file write error"]))

    def test_backend_closes_after_dot(self):
        fb, c = self.run_dot(close_after={"DOT"})
        c.expect("451 4.4.2", timeout=6)

    def test_backend_silent_after_dot(self):
        t0 = time.monotonic()
        fb, c = self.run_dot(conf={"backend_timeout_data_end": "2s"}, delays={"DOT": 20})
        c.expect("451 4.4.2", timeout=8)
        self.assertLess(time.monotonic() - t0, 8)

    def test_backend_malformed_reply_after_dot(self):
        fb, c = self.run_dot(replies={"DOT": "garbage"})
        c.expect("451 4.4.0", timeout=6)


class TestBdat(DataCase):
    def test_bdat_chunks_relayed_as_data(self):
        fb = self.backend()      # no CHUNKING at the backend
        self.start(fb)
        c = self.client()
        c.ehlo()
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        part1 = b"Subject: bdat\r\n\r\n"
        part2 = b"hello\r\n.dot\r\n"
        c.send(b"BDAT %d\r\n" % len(part1) + part1)
        self.assertEqual(c.reply(), (250, ["250 2.0.0 Ok: %d octets received" % len(part1)]))
        c.send(b"BDAT %d\r\n" % len(part2) + part2)
        self.assertEqual(c.reply(), (250, ["250 2.0.0 Ok: %d octets received" % len(part2)]))
        c.send(b"BDAT 0 LAST\r\n")
        msg = fb.wait_messages(1)[0]
        self.assertEqual(c.reply(), (250, ["250 2.0.0 Ok: queued as %s" % msg.qid]))
        self.assertRelayed(fb.wait_relayed(), c, ENVELOPE,
                           b"Subject: bdat\r\n\r\nhello\r\n..dot\r\n", rcpt="bob@example.com")

    def test_bdat_ten_octets(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.ehlo()
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        c.send(b"BDAT 10\r\nX: 123\r\n\r\n")
        self.assertEqual(c.reply(), (250, ["250 2.0.0 Ok: 10 octets received"]))
        c.send(b"BDAT 6 LAST\r\nbody\r\n")
        c.expect("250 2.0.0 Ok: queued as")
        msg = fb.wait_messages(1)[0]
        self.assertEqual(split_received(msg.raw, rcpt="bob@example.com")[1],
                         b"X: 123\r\n\r\nbody\r\n")

    def test_data_after_bdat(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.ehlo()
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        c.send(b"BDAT 10\r\nX: 123\r\n\r\n")
        c.expect("250 2.0.0")
        c.line("DATA")
        c.expect("503 5.5.1")
        self.assertNoDataAtBackend(fb)

    def test_bdat_syntax(self):
        self.start()
        c = self.client()
        c.ehlo()
        for line in ENVELOPE:
            c.line(line)
            c.expect(250)
        c.line("BDAT ten")
        c.expect("501 5.5.4")


if __name__ == "__main__":
    tap.main()
