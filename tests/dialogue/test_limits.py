"""Bounds: command and content line lengths, sizes, recipients, timeouts, data rate."""

import time

import tap
from sluicetest import SluiceTestCase


class TestLineLimits(SluiceTestCase):
    def test_command_line_512_ok_513_too_long(self):
        self.start()
        c = self.client()
        c.ehlo()
        ok = b"NOOP " + b"x" * 505 + b"\r\n"
        self.assertEqual(len(ok), 512)
        c.send(ok)
        c.expect("250 2.0.0")
        long = b"NOOP " + b"x" * 506 + b"\r\n"
        self.assertEqual(len(long), 513)
        c.send(long)
        c.expect("500 5.5.2")
        c.line("NOOP")                 # back in sync after the long line
        c.expect("250 2.0.0")

    def test_very_long_command_line(self):
        self.start()
        c = self.client()
        c.ehlo()
        c.send(b"NOOP " + b"x" * 100000 + b"\r\n")
        code, lines = c.reply()
        self.assertEqual(lines[0][:9], "500 5.5.2", lines)

    def test_nul_in_command(self):
        self.start()
        c = self.client()
        c.ehlo()
        c.send(b"NOOP a\x00b\r\n")
        c.expect("500 5.5.2")

    def test_content_line_1000_ok_1001_too_long(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.ehlo()
        for line in ("MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>", "DATA"):
            c.line(line)
            c.reply()
        c.send(b"Subject: long\r\n\r\n" + b"y" * 999 + b"\r\n.\r\n")
        c.expect("500 5.5.2")
        self.assertNoDataAtBackend(fb)
        # a line of exactly 1000 octets is fine
        for line in ("MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>", "DATA"):
            c.line(line)
            c.reply()
        c.send(b"Subject: long\r\n\r\n" + b"y" * 998 + b"\r\n.\r\n")
        c.expect("250 2.0.0 Ok: queued as")


class TestSizeLimits(SluiceTestCase):
    def test_mail_size_parameter_above_limit(self):
        fb = self.backend()
        self.start(fb, max_message_size="100k")
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org> SIZE=102401")
        c.expect("552 5.3.4")
        c.line("MAIL FROM:<alice@example.org> SIZE=102400")
        c.expect(250)

    def test_message_above_limit(self):
        fb = self.backend()
        self.start(fb, max_message_size="10k")
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(b"Subject: big\r\n\r\n" + (b"z" * 78 + b"\r\n") * 300 + b".\r\n")
        c.expect("552 5.3.4", timeout=6)
        self.assertNoDataAtBackend(fb)

    def test_unknown_mail_parameter(self):
        self.start()
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org> FROBNICATE=yes")
        c.expect("555 5.5.4")

    def test_too_many_recipients(self):
        fb = self.backend()
        self.start(fb, max_recipients=100)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.send(b"".join(b"RCPT TO:<r%03d@example.com>\r\n" % i for i in range(101)))
        for i in range(100):
            c.expect(250)
        c.expect("452 4.5.3")
        conn = fb.wait_relayed()
        rcpts = [x for x in conn.commands if x.upper().startswith("RCPT")]
        self.assertEqual(len(rcpts), 100)
        self.assertNotIn(b"r100@example.com", conn.raw)


class TestTimeouts(SluiceTestCase):
    def test_command_timeout(self):
        self.start(timeout_command="1s")
        c = self.client()
        c.ehlo()
        t0 = time.monotonic()
        lines = c.expect("421 4.4.2", timeout=5)
        self.assertTrue(lines[0].startswith("421 4.4.2 sluice.test"), lines)
        self.assertTrue(c.closed(3))
        self.assertGreater(time.monotonic() - t0, 0.8)

    def test_slow_drip_in_data(self):
        fb = self.backend()
        self.start(fb, min_data_rate=1000, timeout_data="2s")
        c = self.client()
        c.ehlo()
        for line in ("MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>"):
            c.line(line)
            c.expect(250)
        c.line("DATA")
        c.expect("354")
        t0 = time.monotonic()
        payload = b"Subject: drip\r\n\r\n" + b"d" * 200
        got = None
        for i in range(len(payload)):
            if time.monotonic() - t0 > 10:
                break
            try:
                c.send(payload[i:i + 1])
            except OSError:
                break
            try:
                got = c.reply(timeout=0.5)
                break
            except AssertionError:
                if c.eof:
                    break
        if got is None:
            got = c.reply(timeout=3)
        code, lines = got
        self.assertEqual(lines[0][:9], "421 4.4.2", lines)
        self.assertTrue(c.closed(3))
        self.assertLess(time.monotonic() - t0, 10)
        self.assertNoDataAtBackend(fb)


if __name__ == "__main__":
    tap.main()
