"""A client's own XCLIENT and XFORWARD (Postfix XCLIENT_README, XFORWARD_README),
against the fake backend: refused with 550 5.7.0 unless the listener lists the
client in `trusted`; from a trusted client, XCLIENT makes a new session of the
client it names (connect filters again, a 220 greeting, EHLO needed again) and
XFORWARD changes the identity for what follows; either way the backend gets
sluice's own XCLIENT with the named client, never the line as sent."""

import tempfile

import tap
from sluicetest import (SluiceTestCase, Sluiced, built_module, free_port, split_received,
                        write_config)


def rules_module():
    return built_module("filters", "rules", ".libs", "rules.so")


class IdentityCase(SluiceTestCase):
    def start_listener(self, trusted=None, filters=(), **keys):
        """sluiced with one [listener front] (trusted as given) and filters."""
        fb = self.backend()
        self.fb = fb
        self.backends = [fb]
        d = tempfile.mkdtemp(prefix="d", dir=self.tmp)
        path = write_config(d, backend=fb, listen=None, **keys)
        port = free_port()
        lines = ["[listener front]", "address = 127.0.0.1:%d" % port]
        if trusted:
            lines.append("trusted = %s" % trusted)
        for name, conf in filters:
            lines.append("[filter %s]" % name)
            lines += ["%s = %s" % kv for kv in conf.items()]
        with open(path, "a") as f:
            f.write("\n".join(lines) + "\n")
        daemon = Sluiced(d, config=path, listen_port=port)
        self.daemon = daemon
        self.addCleanup(self._stop_daemon, daemon)
        try:
            fb.wait_probe(5.0)
        except AssertionError:
            pass
        return daemon

    def mail(self, c, content=b"Subject: id\r\n\r\nbody\r\n"):
        for line in ("MAIL FROM:<a@example.org>", "RCPT TO:<b@example.com>", "DATA"):
            c.line(line)
            c.expect(354 if line == "DATA" else 250)
        c.send(content + b".\r\n")
        c.expect(250)
        return self.fb.wait_messages(1)[-1]


class TestUntrusted(IdentityCase):
    def test_refused_and_not_offered(self):
        self.start_listener(trusted="192.0.2.0/24")
        c = self.client()
        lines = c.ehlo()
        self.assertFalse(any("XCLIENT" in l or "XFORWARD" in l for l in lines), lines)
        for verb in ("XCLIENT ADDR=192.0.2.7", "XFORWARD ADDR=192.0.2.7"):
            c.line(verb)
            self.assertEqual(c.reply(), (550, ["550 5.7.0 Error: insufficient authorization"]))
        msg = self.mail(c)
        conn = self.fb.conns()[-1]
        self.assertEqual(conn.xclient[-1].get("ADDR"), "127.0.0.1", conn.xclient)
        self.assertFalse(any("192.0.2.7" in cmd for cmd in conn.commands), conn.commands)
        split_received(msg.raw, helo="client.test", addr="127.0.0.1", rcpt="b@example.com")
        self.assertIn("refused XCLIENT from [127.0.0.1]: not in the listener's trusted list", self.log)


class TestTrusted(IdentityCase):
    def test_xclient_new_session(self):
        """XCLIENT: 220, EHLO again, the backend's XCLIENT and sluice's Received
        name the client given; the log has a connect line for it."""
        self.start_listener(trusted="127.0.0.1")
        c = self.client()
        lines = c.ehlo("proxy.test")
        self.assertIn("250-XCLIENT NAME ADDR PORT PROTO HELO LOGIN", lines)
        self.assertIn("250-XFORWARD NAME ADDR PORT PROTO HELO", lines)
        c.line("XCLIENT NAME=mail.example.org ADDR=192.0.2.7 PORT=40000 HELO=mail.example.org")
        c.expect("220 ")
        c.line("MAIL FROM:<a@example.org>")      # a new session: EHLO first
        self.assertEqual(c.reply(), (503, ["503 5.5.1 Error: send HELO/EHLO first"]))
        lines = c.ehlo("mail.example.org")
        msg = self.mail(c)
        conn = self.fb.conns()[-1]
        x = conn.xclient[-1]
        self.assertEqual((x.get("ADDR"), x.get("NAME"), x.get("PORT"), x.get("HELO")),
                         ("192.0.2.7", "mail.example.org", "40000", "mail.example.org"), conn.xclient)
        head, _ = split_received(msg.raw, helo="mail.example.org", addr="192.0.2.7", rcpt="b@example.com")
        self.assertIn(b"from mail.example.org (mail.example.org [192.0.2.7])", head)
        self.assertRegex(self.log, r"connect from mail\.example\.org\[192\.0\.2\.7\]:40000 to front "
                                   r"via 127\.0\.0\.1:\d+")

    def test_xclient_ipv6_and_unavailable_name(self):
        self.start_listener(trusted="127.0.0.1")
        c = self.client()
        c.ehlo("proxy.test")
        c.line("XCLIENT ADDR=IPV6:2001:db8::25 NAME=[UNAVAILABLE]")
        c.expect("220 ")
        c.ehlo("v6.example.org")
        msg = self.mail(c)
        x = self.fb.conns()[-1].xclient[-1]
        self.assertEqual(x.get("ADDR"), "IPV6:2001:db8::25", x)
        self.assertEqual(x.get("NAME"), "[UNAVAILABLE]", x)    # not sluice's "unknown"
        split_received(msg.raw, helo="v6.example.org", addr="IPv6:2001:db8::25", rcpt="b@example.com")

    def test_connect_filters_see_the_named_client(self):
        """A rules filter refusing 192.0.2.0/24 at connect refuses the session
        XCLIENT names, with its reply, and sluice closes it."""
        self.start_listener(trusted="127.0.0.1", filters=[("rules", {
            "module": rules_module(),
            "rule10": 'client 192.0.2.0/24 reject "554 5.7.1 Go away"'})])
        c = self.client()
        c.ehlo("proxy.test")
        c.line("XCLIENT ADDR=192.0.2.9 NAME=bad.example.org")
        self.assertEqual(c.reply(), (554, ["554 5.7.1 Go away"]))
        self.assertTrue(c.closed(), "the connection should be closed")

    def test_xclient_errors(self):
        self.start_listener(trusted="127.0.0.1")
        c = self.client()
        c.ehlo("proxy.test")
        c.line("XCLIENT FOO=bar")
        self.assertEqual(c.reply(), (501, ["501 5.5.4 Syntax: XCLIENT: unknown attribute"]))
        c.line("XCLIENT ADDR=192.0.2.300")
        self.assertEqual(c.reply(), (501, ["501 5.5.4 Syntax: XCLIENT: bad ADDR"]))
        c.line("MAIL FROM:<a@example.org>")
        c.expect(250)
        c.line("XCLIENT ADDR=192.0.2.7")
        self.assertEqual(c.reply(), (503, ["503 5.5.1 Error: MAIL transaction in progress"]))

    def test_xclient_twice(self):
        """The trust belongs to the connection's peer: a second XCLIENT (after the
        first named an untrusted address) is still accepted."""
        self.start_listener(trusted="127.0.0.1")
        c = self.client()
        c.ehlo("proxy.test")
        for addr in ("192.0.2.7", "198.51.100.8"):
            c.line("XCLIENT ADDR=%s NAME=[UNAVAILABLE]" % addr)
            c.expect("220 ")
            c.ehlo("h.example.org")
        self.mail(c)
        self.assertEqual(self.fb.conns()[-1].xclient[-1].get("ADDR"), "198.51.100.8")

    def test_xforward(self):
        """XFORWARD: 250, no new greeting; the next transaction carries the client."""
        self.start_listener(trusted="127.0.0.1")
        c = self.client()
        c.ehlo("proxy.test")
        c.line("XFORWARD ADDR=203.0.113.5 NAME=fwd.example.org PORT=1234")
        self.assertEqual(c.reply(), (250, ["250 2.0.0 Ok"]))
        msg = self.mail(c)
        x = self.fb.conns()[-1].xclient[-1]
        self.assertEqual((x.get("ADDR"), x.get("NAME")), ("203.0.113.5", "fwd.example.org"), x)
        head, _ = split_received(msg.raw, helo="proxy.test", addr="203.0.113.5", rcpt="b@example.com")
        self.assertIn(b"(fwd.example.org [203.0.113.5])", head)


if __name__ == "__main__":
    tap.main()
