"""Greeting, EHLO offer, simple relay with XCLIENT, local commands, log, SIGTERM."""

import re
import signal
import time

import tap
from sluicetest import SluiceTestCase, split_received, log_lines, session_id, CONNECT_RE

CONTENT = b"From: alice@example.org\r\nTo: bob@example.com\r\nSubject: hi\r\n\r\nHello.\r\n"


def keywords(lines):
    return [l[4:].split(" ", 1)[0].upper() for l in lines[1:]]


class TestGreeting(SluiceTestCase):
    def test_greeting_and_ehlo_offer(self):
        self.start()
        c = self.client(greet=False)
        self.assertEqual(c.reply(), (220, ["220 sluice.test ESMTP sluice"]))
        lines = c.ehlo()
        self.assertEqual(lines[0], "250-sluice.test")
        kw = keywords(lines)
        for k in ("PIPELINING", "SIZE", "ENHANCEDSTATUSCODES", "CHUNKING",
                  "8BITMIME", "SMTPUTF8", "DSN"):
            self.assertIn(k, kw, lines)
        for k in ("XCLIENT", "XFORWARD", "STARTTLS", "AUTH"):
            self.assertNotIn(k, kw, lines)
        self.assertIn("SIZE 10240000", [l[4:] for l in lines])   # backend's, below 25 MiB
        self.assertEqual(len(kw), len(set(kw)), lines)

    def test_ehlo_without_backend_extensions(self):
        fb = self.backend(caps=["PIPELINING", "SIZE 52428800", "ENHANCEDSTATUSCODES"])
        self.start(fb, max_message_size="1M")
        c = self.client()
        lines = c.ehlo()
        kw = keywords(lines)
        for k in ("PIPELINING", "SIZE", "ENHANCEDSTATUSCODES", "CHUNKING"):
            self.assertIn(k, kw, lines)
        for k in ("8BITMIME", "SMTPUTF8", "DSN", "XCLIENT", "XFORWARD", "STARTTLS", "AUTH"):
            self.assertNotIn(k, kw, lines)
        self.assertIn("SIZE 1048576", [l[4:] for l in lines])     # ours, below the backend's

    def test_helo(self):
        self.start()
        c = self.client()
        c.line("HELO client.test")
        self.assertEqual(c.reply(), (250, ["250 sluice.test"]))

    def test_ehlo_without_domain(self):
        self.start()
        c = self.client()
        c.line("EHLO")
        c.expect("501 5.5.4")

    def test_mail_before_ehlo(self):
        self.start()
        c = self.client()
        c.line("MAIL FROM:<a@example.org>")
        c.expect("503 5.5.1")


class TestLocalCommands(SluiceTestCase):
    def test_vrfy_noop_rset_help_unknown_quit(self):
        self.start()
        c = self.client()
        c.ehlo()
        c.line("VRFY bob")
        c.expect("252 2.0.0")
        c.line("NOOP")
        self.assertEqual(c.reply(), (250, ["250 2.0.0 Ok"]))
        c.line("RSET")
        self.assertEqual(c.reply(), (250, ["250 2.0.0 Ok"]))
        c.line("HELP")
        c.expect("214 2.0.0")
        c.line("FROBNICATE now")
        c.expect("502 5.5.2")
        c.line("EXPN list")
        c.expect("502 5.5.1")
        c.line("STARTTLS")
        c.expect("502 5.5.1")
        c.line("AUTH PLAIN AGFAAGI=")
        c.expect("503 5.5.1")
        c.line("QUIT")
        self.assertEqual(c.reply(), (221, ["221 2.0.0 Bye"]))
        self.assertTrue(c.closed(3))
        for b in self.fb.relayed():
            self.fail("a local-only session reached the backend with MAIL: %r" % b.raw)

    def test_rcpt_before_mail_and_data_before_rcpt(self):
        self.start()
        c = self.client()
        c.ehlo()
        c.line("RCPT TO:<bob@example.com>")
        c.expect("503 5.5.1")
        c.line("DATA")
        c.expect("503 5.5.1")
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("MAIL FROM:<alice@example.org>")
        c.expect("503 5.5.1")
        c.line("DATA")
        c.expect("503 5.5.1")


class TestRelay(SluiceTestCase):
    def test_simple_relay_exact_bytes(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.ehlo("client.test")
        c.line("MAIL FROM:<alice@example.org>")
        self.assertEqual(c.reply(), (250, ["250 2.1.0 Ok"]))   # the backend's own reply
        c.line("RCPT TO:<bob@example.com>")
        self.assertEqual(c.reply(), (250, ["250 2.1.5 Ok"]))
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        code, lines = c.reply()
        msg = fb.wait_messages(1)[0]
        self.assertEqual(lines, ["250 2.0.0 Ok: queued as %s" % msg.qid])
        conn = fb.wait_relayed()
        self.assertRelayed(conn, c, ["MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>"],
                           CONTENT, rcpt="bob@example.com")
        self.assertEqual(len(conn.xclient), 1)
        self.assertEqual(conn.xclient[0]["ADDR"], "127.0.0.1")
        self.assertEqual(conn.xclient[0]["PORT"], str(c.local_port))
        self.assertEqual(conn.xclient[0]["HELO"], "client.test")
        self.assertEqual(list(conn.xclient[0]), ["NAME", "ADDR", "PORT", "PROTO", "HELO"])
        header, rest = split_received(msg.raw, rcpt="bob@example.com")
        self.assertEqual(rest, CONTENT)
        c.line("QUIT")
        c.expect("221 2.0.0")
        self.assertTrue(c.closed(3))

    def test_parameters_passed_unchanged(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.ehlo()
        mail = "MAIL FROM:<alice@example.org> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=abc+2Bdef"
        rcpt = "RCPT TO:<bob@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.com"
        c.line(mail)
        c.expect(250)
        c.line(rcpt)
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        c.expect("250 2.0.0")
        self.assertRelayed(fb.wait_relayed(), c, [mail, rcpt], CONTENT, rcpt="bob@example.com")

    def test_helo_session_says_smtp(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.helo("old.client.test")
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        c.expect("250 2.0.0")
        self.assertRelayed(fb.wait_relayed(), c, ["MAIL FROM:<alice@example.org>",
                                                  "RCPT TO:<bob@example.com>"],
                           CONTENT, helo="old.client.test", proto="SMTP", rcpt="bob@example.com")

    def test_xclient_no(self):
        fb = self.backend()
        self.start(fb, xclient="no")
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        c.expect("250 2.0.0")
        conn = fb.wait_relayed()
        self.assertRelayed(conn, c, ["MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>"],
                           CONTENT, xclient=False, rcpt="bob@example.com")
        self.assertNotIn(b"XCLIENT", conn.raw)

    def test_backend_without_xclient(self):
        fb = self.backend(caps=["PIPELINING", "SIZE 10240000", "8BITMIME", "ENHANCEDSTATUSCODES"])
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        c.expect("250 2.0.0")
        conn = fb.wait_relayed()
        self.assertRelayed(conn, c, ["MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>"],
                           CONTENT, xclient=False, rcpt="bob@example.com")
        self.assertNotIn(b"XCLIENT", conn.raw)

    def test_xclient_before_ehlo_refused_falls_back(self):
        # sluice sends XCLIENT right after the greeting when it already knows the
        # backend's capabilities (from the probe); a backend that wants EHLO first
        # gets sluice's EHLO, then XCLIENT, then the client's EHLO.
        fb = self.backend(xclient_needs_ehlo=True)
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        c.expect("250 2.0.0")
        conn = fb.wait_relayed()
        self.assertRegex(conn.raw, re.compile(
            rb"\A(?:XCLIENT [^\r\n]*\r\n)?EHLO sluice\.test\r\nXCLIENT NAME=\S+ ADDR=127\.0\.0\.1 "
            rb"PORT=\d+ PROTO=ESMTP HELO=client\.test\r\nEHLO client\.test\r\nMAIL FROM:"))
        self.assertEqual(len(conn.xclient), 1, conn.commands)

    def test_xclient_only_listed_attributes(self):
        fb = self.backend(caps=["PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES",
                                "XCLIENT HELO ADDR"])
        self.start(fb)
        c = self.client()
        c.ehlo("client.test")
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("QUIT")
        c.expect(221)
        conn = fb.wait_relayed()
        self.assertRegex(conn.raw, re.compile(
            rb"\A(?:EHLO sluice\.test\r\n)?XCLIENT ADDR=127\.0\.0\.1 HELO=client\.test\r\n"
            rb"EHLO client\.test\r\nMAIL FROM:<alice@example\.org>\r\n"))

    def test_two_recipients_no_for_clause(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.ehlo()
        code, lines = self._send(c, ["bob@example.com", "carol@example.com"])
        self.assertEqual(code, 250)
        conn = fb.wait_relayed()
        self.assertRelayed(conn, c, ["MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.com>",
                                     "RCPT TO:<carol@example.com>"], CONTENT, rcpt=None)

    def _send(self, c, rcpts, content=CONTENT):
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        for r in rcpts:
            c.line("RCPT TO:<%s>" % r)
            c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(content + b".\r\n")
        return c.reply()

    def test_backend_rejects_one_recipient(self):
        reply = "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"
        fb = self.backend(rcpt_replies={"nobody@example.com": reply})
        self.start(fb)
        c = self.client()
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org>")
        c.expect(250)
        c.line("RCPT TO:<bob@example.com>")
        c.expect(250)
        c.line("RCPT TO:<nobody@example.com>")
        self.assertEqual(c.reply(), (550, [reply]))
        c.line("RCPT TO:<carol@example.com>")
        c.expect(250)
        c.line("DATA")
        c.expect("354")
        c.send(CONTENT + b".\r\n")
        msg = fb.wait_messages(1)[0]
        self.assertEqual(c.reply(), (250, ["250 2.0.0 Ok: queued as %s" % msg.qid]))
        conn = fb.wait_relayed()
        rcpts = [x for x in conn.commands if x.upper().startswith("RCPT")]
        self.assertEqual(rcpts, ["RCPT TO:<bob@example.com>", "RCPT TO:<nobody@example.com>",
                                 "RCPT TO:<carol@example.com>"])
        self.assertEqual(split_received(msg.raw)[1], CONTENT)

    def test_two_transactions_in_one_session(self):
        fb = self.backend()
        self.start(fb)
        c = self.client()
        c.ehlo()
        self.assertEqual(self._send(c, ["bob@example.com"])[0], 250)
        other = b"Subject: second\r\n\r\nagain\r\n"
        self.assertEqual(self._send(c, ["carol@example.com"], other)[0], 250)
        msgs = fb.wait_messages(2)
        self.assertEqual(len(msgs), 2)
        self.assertEqual(split_received(msgs[0].raw, rcpt="bob@example.com")[1], CONTENT)
        self.assertEqual(split_received(msgs[1].raw, rcpt="carol@example.com")[1], other)
        c.line("QUIT")
        c.expect(221)


class TestLogAndSignals(SluiceTestCase):
    def test_log_lines_share_the_session_id(self):
        fb = self.backend()
        self.start(fb, log_level="debug")
        c = self.client()
        c.ehlo()
        for _ in range(2):
            c.line("MAIL FROM:<alice@example.org>")
            c.expect(250)
            c.line("RCPT TO:<bob@example.com>")
            c.expect(250)
            c.line("DATA")
            c.expect("354")
            c.send(CONTENT + b".\r\n")
            c.expect(250)
        c.line("QUIT")
        c.expect(221)
        self.assertTrue(c.closed(3))
        fb.wait_messages(2)
        log = self.log
        sid = session_id(log, c.local_port)
        mine = [(lvl, t) for lvl, s, t in log_lines(log) if s == sid]
        self.assertEqual(len([t for _, t in mine if CONNECT_RE.search(t)]), 1, log)
        # the disconnect line is written after the close; give it a moment
        for _ in range(50):
            log = self.log
            mine = [(lvl, t) for lvl, s, t in log_lines(log) if s == sid]
            if any(re.search(r"\bdisconnect\b", t) for _, t in mine):
                break
            time.sleep(0.05)
        self.assertEqual(len([t for _, t in mine if re.search(r"\bdisconnect\b", t)]), 1, log)
        results = [t for _, t in mine if "result=" in t and "message" in t]
        self.assertEqual(len(results), 2, log)

    def test_sigterm_idle_client_gets_421(self):
        self.start()
        c = self.client()
        c.ehlo()
        self.daemon.signal(signal.SIGTERM)
        lines = c.expect("421 4.3.2")
        self.assertTrue(lines[0].startswith("421 4.3.2 sluice.test"), lines)
        self.assertTrue(c.closed(5))
        status = self.daemon.wait(10)
        self.assertEqual(status, 0, self.log)


if __name__ == "__main__":
    tap.main()
